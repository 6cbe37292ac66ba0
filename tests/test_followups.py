"""Follow-ups an LLM rewrites are checked: one question about the last turn's subject, or the
deterministic rules instead."""

from __future__ import annotations

import pytest

from rag.answering.followups import checked_condense, rejection
from rag.conversation import Message, condense

LEIKE = [
    Message("user", "Pourquoi Leike est-il parti ?"),
    Message("assistant", "Il estimait que la sécurité passait après les produits. [1]"),
]
SCHULMAN = [*LEIKE, Message("user", "Et Schulman, il est resté combien de temps chez Anthropic ?")]
POINTING = [*LEIKE, Message("user", "Et lui, il a rejoint quelle entreprise ?")]


@pytest.mark.parametrize(
    ("rewritten", "conversation"),
    [
        ("Combien de temps Schulman est-il resté chez Anthropic ?", SCHULMAN),
        ("Depuis combien de temps Schulman était-il chez Anthropic ?", SCHULMAN),
        ("Combien de temps John Schulman est-il resté chez Anthropic ?", SCHULMAN),  # a fuller name
        ("Quelle entreprise Leike a-t-il rejointe ?", POINTING),
    ],
)
def test_followups__one_question_about_the_last_turn_passes(
    rewritten: str, conversation: list[Message]
) -> None:
    assert rejection(rewritten, conversation) is None
    assert checked_condense(rewritten, conversation) == (rewritten, None)


@pytest.mark.parametrize(
    ("rewritten", "conversation", "reason"),
    [
        # The rewrite seen in the chat: both turns glued together.
        (
            "Pourquoi Leike est-il parti ? Et Schulman, il est resté combien de temps chez Anthropic ?",
            SCHULMAN,
            "more than one question",
        ),
        (
            "Pourquoi Leike est-il parti et combien de temps Schulman est-il resté chez Anthropic",
            SCHULMAN,
            "repeats an earlier question",
        ),
        ("Combien de temps Schulman est-il resté chez Google ?", SCHULMAN, "names 'Google'"),
        ("Combien de temps est-il resté chez Anthropic ?", SCHULMAN, "drops 'Schulman'"),
        ("Et lui, il a rejoint quelle entreprise ?", POINTING, "names no subject"),
        ("", SCHULMAN, "empty"),
    ],
)
def test_followups__concatenations_and_drifts_fall_back_to_the_rules(
    rewritten: str, conversation: list[Message], reason: str
) -> None:
    found = rejection(rewritten, conversation)
    assert found is not None and found.startswith(reason)
    question, why = checked_condense(rewritten, conversation)
    assert question == condense(conversation) and why == found
    assert question.count("?") <= 1 and "Leike est-il parti" not in question
