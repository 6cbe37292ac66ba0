"""Feedback on real answers, saved in a real SQLite file, exported as eval cases that the eval's own
loader reads, and summed up in statistics; `rag feedback` run as a separate process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import load_questions
from rag.conversation import Message
from rag.engine import Engine
from rag.history import Feedback, FeedbackEntry, HistoryStore, owner_of
from rag.history.feedback import export_cases, feedback_stats, must_include
from rag.settings import Settings
from tests.conftest import rag_env, run_rag

LEIKE = "Pourquoi Leike est-il parti ?"
AUSTRALIA = "Quelle est la capitale de l'Australie ?"
SCHULMAN = "Combien de temps Schulman est-il resté chez Anthropic ?"
OWNER = owner_of("user-key")


def saved(store: HistoryStore, engine: Engine) -> dict[str, str]:
    """Four answers and their feedback: a liked one, a wrong one corrected, a refusal said to be
    right, and a follow-up disliked without a word."""
    ids = {}
    ids["liked"] = store.add_turn(OWNER, None, LEIKE, engine.ask(LEIKE)).id
    ids["wrong"] = store.add_turn(OWNER, None, SCHULMAN, engine.ask(SCHULMAN)).id
    ids["refused"] = store.add_turn(OWNER, None, AUSTRALIA, engine.ask(AUSTRALIA)).id
    follow_up = [Message("user", LEIKE), Message("assistant", "…"), Message("user", "Et Schulman ?")]
    ids["follow_up"] = store.add_turn(OWNER, None, "Et Schulman ?", engine.chat(follow_up)).id
    store.give_feedback(OWNER, Feedback(turn_id=ids["liked"], rating="up"))
    store.give_feedback(
        OWNER,
        Feedback(
            turn_id=ids["wrong"],
            rating="down",
            comment="la durée manque",
            correction="cinq mois",
            sources=["002_32947e2b12942824.txt"],
        ),
    )
    store.give_feedback(OWNER, Feedback(turn_id=ids["refused"], rating="up"))
    store.give_feedback(OWNER, Feedback(turn_id=ids["follow_up"], rating="down"))
    return ids


@pytest.fixture(scope="module")
def store_and_ids(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[HistoryStore, dict[str, str]]:
    store = HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('feedback') / 'history.db'}")
    return store, saved(store, engine)


@pytest.fixture(scope="module")
def entries(store_and_ids: tuple[HistoryStore, dict[str, str]]) -> list[FeedbackEntry]:
    return store_and_ids[0].feedback_entries()


def by_turn(cases: list[dict[str, object]], turn: str) -> dict[str, object]:
    return next(c for c in cases if c["feedback"]["turn"] == turn)  # type: ignore[index]


def test_export__thumbs_down_first_as_cases_the_eval_loader_reads(
    entries: list[FeedbackEntry], store_and_ids: tuple[HistoryStore, dict[str, str]], tmp_path: Path
) -> None:
    ids = store_and_ids[1]
    cases = export_cases(entries)
    assert [c["feedback"]["rating"] for c in cases] == ["down", "down", "up", "up"]  # type: ignore[index]
    wrong = by_turn(cases, ids["wrong"])
    assert wrong["question"] == SCHULMAN and wrong["answerable"] is True and wrong["split"] == "dev"
    assert wrong["sources"] == ["002_32947e2b12942824.txt"]  # the user's, not those cited
    assert wrong["must_include"] == [["cinq mois"]] and wrong["reference"] == "cinq mois"
    liked = by_turn(cases, ids["liked"])
    assert liked["answerable"] is True and liked["sources"] and liked["feedback"]["cited"] == liked["sources"]  # type: ignore[index]
    refused = by_turn(cases, ids["refused"])
    assert refused["answerable"] is False and refused["sources"] == [] and refused["must_include"] == []
    follow_up = by_turn(cases, ids["follow_up"])
    assert "Schulman" in str(follow_up["question"]) and follow_up["question"] != "Et Schulman ?"
    assert follow_up["feedback"]["review"]  # type: ignore[index]  # nothing said: to complete
    ready = [c for c in cases if not c["feedback"]["review"]]  # type: ignore[index]
    path = tmp_path / "feedback.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in ready), encoding="utf-8")
    questions = load_questions(path, split="dev")
    assert {q.id for q in questions} == {str(c["id"]) for c in ready} and len(questions) == 3


def test_export__down_only_leaves_the_thumbs_up_out(entries: list[FeedbackEntry]) -> None:
    assert {c["feedback"]["rating"] for c in export_cases(entries, with_up=False)} == {"down"}  # type: ignore[index]


def test_must_include__whole_short_correction_names_and_numbers_of_a_long_one() -> None:
    assert must_include("Jakub Pachocki.") == [["Jakub Pachocki"]]
    assert must_include("  ") == []
    long = "Il est resté seulement 5 mois chez Anthropic avant de rejoindre Thinking Machines Lab."
    assert must_include(long) == [["5"], ["Anthropic"], ["Thinking Machines Lab"]]
    assert must_include("Seulement cinq mois chez Anthropic, puis il est parti ailleurs encore.") == [
        ["Anthropic"]
    ]


def test_stats__counts_by_day_share_down_and_most_disliked(entries: list[FeedbackEntry]) -> None:
    stats = feedback_stats(entries)
    assert (stats.up, stats.down, stats.down_share) == (2, 2, 0.5)
    assert len(stats.by_day) == 1 and stats.by_day[0][1:] == (2, 2)
    follow_up = next(e.answer.standalone_question for e in entries if e.question == "Et Schulman ?")
    assert {(d.question, d.down, d.up) for d in stats.most_disliked} == {(SCHULMAN, 1, 0), (follow_up, 1, 0)}
    assert feedback_stats(entries, top=1).most_disliked[0].question == min(SCHULMAN, str(follow_up))


def test_rag_feedback__export_and_stats_from_the_configured_database(
    engine: Engine, engine_settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    saved(HistoryStore(url), engine)
    env = rag_env(engine_settings, RAG_HISTORY_URL=url)
    out = tmp_path / "cases.jsonl"
    run = run_rag("feedback", "export", "--down-only", "-o", str(out), env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "2 cases (2 thumbs-down, 0 thumbs-up), 1 to complete" in run.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    stats = run_rag("feedback", "stats", "--json", env=env, timeout=120)
    assert stats.returncode == 0, stats.stderr
    body = json.loads(stats.stdout)
    assert (body["up"], body["down"], body["down_share"]) == (2, 2, 0.5)
