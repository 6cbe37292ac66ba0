"""Saved conversations and feedback in a real SQLite file and on a real PostgreSQL server, with real
answers of the real engine: what is saved comes back whole after reopening, and each owner sees only
their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.history import (
    LOCAL_OWNER,
    ConversationNotFoundError,
    Feedback,
    HistoryStore,
    HistoryUnavailableError,
    owner_of,
)
from rag.types import Answer
from tests.postgres_server import new_database, postgres_server

LEIKE = "Pourquoi Leike est-il parti ?"
ALICE, BOB = owner_of("alice-key-1"), owner_of("bob-key-2")


@pytest.fixture(scope="module")
def answer(engine: Engine) -> Answer:
    return engine.ask(LEIKE)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database: a SQLite file (the default, beside the index), or one on a real PostgreSQL."""
    if request.param == "postgresql":
        return new_database(request.getfixturevalue("postgres"))
    return f"sqlite:///{tmp_path / 'index' / 'history.db'}"


def test_history__answers_come_back_whole_from_the_sqlite_file(db_url: str, answer: Answer) -> None:
    store = HistoryStore(db_url)
    first = store.add_turn(ALICE, None, LEIKE, answer)
    second = store.add_turn(ALICE, first.conversation_id, "Et lui, il a rejoint quelle entreprise ?", answer)
    store.close()

    reopened = HistoryStore(db_url)  # another process would see the same
    conversation = reopened.get_conversation(ALICE, first.conversation_id)
    assert conversation.title == LEIKE
    assert [t.id for t in conversation.turns] == [first.id, second.id]
    saved = conversation.turns[0].answer
    assert saved.to_dict(with_passages=True) == answer.to_dict(with_passages=True)
    assert saved.citations and saved.citations[0].quote == answer.citations[0].quote
    assert [s.verdict for s in saved.sentences] == [s.verdict for s in answer.sentences]
    if db_url.startswith("sqlite"):
        assert Path(db_url.removeprefix("sqlite:///")).is_file()


def test_history__list_shows_the_latest_conversation_first_with_its_turn_count(
    db_url: str, answer: Answer
) -> None:
    store = HistoryStore(db_url)
    older = store.add_turn(ALICE, None, "Première question", answer)
    newer = store.add_turn(ALICE, None, "Deuxième question", answer)
    store.add_turn(ALICE, older.conversation_id, "Et ensuite ?", answer)  # continued: now the latest
    listed = store.list_conversations(ALICE)
    assert [(c.id, c.turns) for c in listed] == [(older.conversation_id, 2), (newer.conversation_id, 1)]
    assert store.list_conversations(ALICE, limit=1, offset=1)[0].id == newer.conversation_id


def test_history__a_key_sees_only_its_own_conversations(db_url: str, answer: Answer) -> None:
    store = HistoryStore(db_url)
    turn = store.add_turn(ALICE, None, LEIKE, answer)
    assert store.list_conversations(BOB) == [] and store.list_conversations(LOCAL_OWNER) == []
    for attempt in (
        lambda: store.get_conversation(BOB, turn.conversation_id),
        lambda: store.rename_conversation(BOB, turn.conversation_id, "volé"),
        lambda: store.delete_conversation(BOB, turn.conversation_id),
        lambda: store.add_turn(BOB, turn.conversation_id, "Et moi ?", answer),
        lambda: store.give_feedback(BOB, Feedback(turn_id=turn.id, rating="down")),
    ):
        with pytest.raises(ConversationNotFoundError):
            attempt()
    conversation = store.get_conversation(ALICE, turn.conversation_id)
    assert conversation.title == LEIKE and len(conversation.turns) == 1
    assert conversation.turns[0].feedback is None


def test_history__rename_then_delete_removes_answers_and_feedback(db_url: str, answer: Answer) -> None:
    store = HistoryStore(db_url)
    turn = store.add_turn(ALICE, None, LEIKE, answer)
    renamed = store.rename_conversation(ALICE, turn.conversation_id, "  Départ de Leike  ")
    assert renamed.title == "Départ de Leike" and renamed.turns == 1
    store.give_feedback(ALICE, Feedback(turn_id=turn.id, rating="down", comment="incomplet"))
    assert len(store.feedback_entries()) == 1
    store.delete_conversation(ALICE, turn.conversation_id)
    assert store.list_conversations(ALICE) == [] and store.feedback_entries() == []
    with pytest.raises(ConversationNotFoundError):
        store.get_conversation(ALICE, turn.conversation_id)


def test_history__feedback_sent_again_replaces_the_first(db_url: str, answer: Answer) -> None:
    store = HistoryStore(db_url)
    turn = store.add_turn(ALICE, None, LEIKE, answer)
    store.give_feedback(ALICE, Feedback(turn_id=turn.id, rating="up"))
    store.give_feedback(
        ALICE,
        Feedback(
            turn_id=turn.id, rating="down", correction="Jan Leike", sources=["004_d6bdbc85729e3bbc.txt"]
        ),
    )
    entries = store.feedback_entries()
    assert len(entries) == 1
    given = entries[0].feedback
    assert (given.rating, given.correction, given.sources) == (
        "down",
        "Jan Leike",
        ["004_d6bdbc85729e3bbc.txt"],
    )
    assert entries[0].question == LEIKE and entries[0].answer.answer == answer.answer
    assert store.get_conversation(ALICE, turn.conversation_id).turns[0].feedback == given


def test_history__an_unusable_url_is_a_clear_error_without_its_password() -> None:
    with pytest.raises(HistoryUnavailableError, match="RAG_HISTORY_URL") as bad:
        HistoryStore("not a url")
    with pytest.raises(HistoryUnavailableError) as unreachable:
        HistoryStore("postgresql+psycopg://rag:s3cret@127.0.0.1:9/rag?connect_timeout=2")
    assert "s3cret" not in str(unreachable.value) and "***" in str(unreachable.value)
    assert "s3cret" not in str(bad.value)


def test_owner_of__is_a_digest_never_the_key() -> None:
    assert owner_of(None) == owner_of("") == LOCAL_OWNER
    assert owner_of("alice-key-1") == ALICE != BOB
    assert "alice-key-1" not in ALICE and len(ALICE) <= 64
