"""The chat's turns on the real engine: streamed answers, follow-ups searched as standalone questions,
refusals, errors in French, and the chat built hardened (bounded queue, no API endpoints, no files)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.conversation import Message
from rag.corpus import Corpus
from rag.engine import Engine
from rag.errors import IndexNotReadyError, StoreUnavailableError
from rag.types import REFUSAL
from ui.chat import build_chat, mount_chat
from ui.turns import MAX_HISTORY_TURNS, Turn, answer_turn, find_citation, friendly_error, to_messages

LEIKE = "Pourquoi Leike est-il parti ?"


def answered(engine: Engine, question: str, history: list[Turn] | None = None) -> list[Turn]:
    return list(answer_turn(engine, history or [], question))


def test_answer_turn__streams_then_ends_with_cited_answer(engine: Engine, engine_corpus: Corpus) -> None:
    steps = answered(engine, LEIKE)
    assert steps[0] == Turn(LEIKE)  # shown at once, before the engine has answered
    partial = [s.answer for s in steps if s.answer and not s.done]
    assert len(partial) >= 2 and len(set(partial)) >= 2  # the answer grows piece by piece
    final = steps[-1]
    assert final.done and not final.refused and final.error is None
    assert "[1]" in final.answer
    assert {c.file for c in final.citations} & {"003_45baa9305485c6a1.txt", "004_d6bdbc85729e3bbc.txt"}
    text, _ = engine_corpus.source(final.citations[0].file)
    assert text[final.citations[0].char_start : final.citations[0].char_end] == final.citations[0].quote


def test_answer_turn__follow_up_searches_a_standalone_question(engine: Engine) -> None:
    first = answered(engine, LEIKE)[-1]
    follow = answered(engine, "Et lui, il a rejoint quelle entreprise ?", [first])[-1]
    assert follow.searched is not None and "Leike" in follow.searched
    assert "Anthropic" in follow.answer


def test_answer_turn__out_of_corpus_question_is_refused(engine: Engine) -> None:
    final = answered(engine, "Quelle est la capitale de l'Australie ?")[-1]
    assert final.refused and final.answer == REFUSAL and final.error is None and not final.citations


def test_answer_turn__too_long_question_becomes_a_french_message(engine: Engine) -> None:
    final = answered(engine, "x" * (engine.limits.max_question_chars + 1))[-1]
    assert final.done and final.error is not None
    assert f"{engine.limits.max_question_chars} caractères au plus" in final.error


def test_friendly_error__domain_errors_read_in_french_without_details() -> None:
    message = friendly_error(StoreUnavailableError("http://10.0.0.3:8000 refused /srv/chroma"), 2000)
    assert "injoignable" in message and "10.0.0.3" not in message
    assert "indexés" in friendly_error(IndexNotReadyError("run `rag ingest`"), 2000)


def test_to_messages__keeps_answered_turns_only_and_bounds_history() -> None:
    turns = [Turn(f"Q{i} ?", answer=f"R{i}.", done=True) for i in range(MAX_HISTORY_TURNS + 3)]
    turns.append(Turn("Cassée ?", error="Erreur.", done=True))
    messages = to_messages(turns, "Et ensuite ?")
    assert len(messages) == 2 * MAX_HISTORY_TURNS + 1
    assert [m.role for m in messages[:2]] == ["user", "assistant"]
    assert messages[-1].content == "Et ensuite ?" and "Cassée ?" not in {m.content for m in messages}


def test_to_messages__leaves_out_oldest_turns_past_the_engine_limits() -> None:
    turns = [Turn(f"Q{i} ?", answer="R" * 100, done=True) for i in range(4)]
    by_chars = to_messages(turns, "Et ensuite ?", max_chars=250)
    assert [m.content for m in by_chars if m.role == "user"] == ["Q2 ?", "Q3 ?", "Et ensuite ?"]
    by_count = to_messages(turns, "Et ensuite ?", max_messages=3)
    assert [m.content for m in by_count] == ["Q3 ?", "R" * 100, "Et ensuite ?"]
    assert to_messages(turns, "Et ensuite ?", max_messages=1) == [Message("user", "Et ensuite ?")]


def test_find_citation__only_existing_turns_and_numbers(engine: Engine) -> None:
    turns = [answered(engine, LEIKE)[-1]]
    assert find_citation(turns, 0, 1) == turns[0].citations[0]
    assert find_citation(turns, 0, 99) is None and find_citation(turns, 5, 1) is None
    assert find_citation(turns, -1, 1) is None


def test_build_chat__bounded_queue_and_no_public_api(engine: Engine, engine_corpus: Corpus) -> None:
    demo = build_chat(engine, engine_corpus, concurrency_limit=3, max_queue=7)
    assert demo._queue.max_size == 7
    assert demo._queue.default_concurrency_limit == 3
    assert not demo.analytics_enabled and not demo.api_open
    assert all(fn.api_visibility == "private" for fn in demo.fns.values())


def test_mount_chat__serves_no_files_from_disk(engine: Engine, engine_corpus: Corpus) -> None:
    app = FastAPI()
    mount_chat(app, engine, engine_corpus)
    article = (engine_corpus.root / "004_d6bdbc85729e3bbc.txt").resolve()
    with TestClient(app) as client:
        assert client.get("/ui/").status_code == 200
        for path in ("/etc/passwd", str(article), "pyproject.toml"):
            assert client.get(f"/ui/gradio_api/file={path}").status_code in {403, 404}, path
