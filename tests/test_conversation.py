import pytest

from rag.conversation import Message, condense
from rag.errors import InvalidQuestionError

FIRST = [Message("user", "Pourquoi Leike est-il parti ?"), Message("assistant", "Parce que…")]


@pytest.mark.parametrize(
    ("follow_up", "standalone"),
    [
        ("Et Schulman ?", "Pourquoi Schulman est-il parti ?"),
        ("Et Schulman, pourquoi est-il parti ?", "Schulman, pourquoi est-il parti ?"),
        ("Et lui, il a rejoint quelle entreprise ?", "Leike : Il a rejoint quelle entreprise ?"),
        ("Combien Amazon a-t-il investi dans Anthropic ?", "Combien Amazon a-t-il investi dans Anthropic ?"),
    ],
)
def test_condense__follow_ups_become_standalone(follow_up: str, standalone: str) -> None:
    assert condense([*FIRST, Message("user", follow_up)]) == standalone


def test_condense__first_question_is_unchanged() -> None:
    assert condense([Message("user", "Et lui ?")]) == "Et lui ?"


def test_condense__no_user_message_is_an_error() -> None:
    with pytest.raises(InvalidQuestionError):
        condense([Message("assistant", "Bonjour")])
