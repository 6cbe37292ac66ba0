"""Generative answers from a real OpenAI-compatible server on 127.0.0.1 (llama.cpp + SmolLM2-135M),
every sentence verified; a dead server degrades to the extractive answer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from llama_index.core.llms import ChatMessage

from rag.answering.arbiter import LLM_REFUSED, LLM_UNSUPPORTED, PATHS
from rag.answering.followups import rejection
from rag.compose import build_engine
from rag.corpus import read_text
from rag.engine import Engine
from rag.events import CitationEvent, DoneEvent
from rag.grounding import build_grounding_checker
from rag.markers import markers
from rag.readiness import Readiness
from rag.settings import Settings
from rag.types import Answer
from tests.conftest import CORPUS
from tests.llm_server import LlamaServer, llama_server, require_llm_tier

pytestmark = [pytest.mark.llm, pytest.mark.slow]
QUESTIONS = [
    "Pourquoi Leike est-il parti ?",
    "Combien Amazon a-t-il investi dans Anthropic ?",
    "Combien de temps Schulman est-il resté chez Anthropic ?",
]


@pytest.fixture(scope="module")
def smollm() -> Iterator[LlamaServer]:
    with llama_server(require_llm_tier()) as server:
        yield server


def generative_settings(settings: Settings, base_url: str, **overrides: object) -> Settings:
    """`settings` with an answerer that asks the LLM server at `base_url`."""
    return settings.model_copy(
        update={
            "answerer": "openai",
            "llm_base_url": base_url,
            "llm_model": "smollm2",
            "llm_timeout_s": 90.0,
            **overrides,
        }
    )


def generative(engine: Engine, settings: Settings, base_url: str, **overrides: object) -> Engine:
    """A generative engine on `engine`'s embedder and store."""
    gen_settings = generative_settings(settings, base_url, **overrides)
    return build_engine(gen_settings, embedder=engine.embedder, store=engine.store)


def assert_verified(engine: Engine, answer: Answer) -> None:
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert set(markers(answer.answer)) <= set(numbers)
    by_n = {c.n: c for c in answer.citations}
    checker = build_grounding_checker(engine.embedder.embed_cached, engine.retriever.bm25())
    for citation in answer.citations:
        text = read_text(CORPUS / citation.file)
        assert text[citation.char_start : citation.char_end] == citation.quote
    for sentence in answer.sentences:
        if sentence.verdict == "supported":
            assert sentence.citations, sentence
            quotes = [by_n[n].quote for n in sentence.citations]
            titles = [by_n[n].title for n in sentence.citations]
            assert checker.check(sentence.text, quotes, context=titles).supported, sentence
        else:
            assert sentence.verdict == "unsupported" and not sentence.citations
    if answer.refused:
        assert not answer.citations


def test_generative__answers_are_verified_sentence_by_sentence(
    engine: Engine,
    engine_settings: Settings,
    smollm: LlamaServer,
) -> None:
    gen = generative(engine, engine_settings, smollm.base_url)
    for question in QUESTIONS:
        answer = gen.ask(question)
        assert answer.answerer == "openai" and not answer.degraded
        assert answer.path in PATHS and answer.refused == (answer.path in {LLM_REFUSED, LLM_UNSUPPORTED})
        assert_verified(engine, answer)


def test_generative__stream_sends_tokens_then_the_verified_answer(
    engine: Engine, engine_settings: Settings, smollm: LlamaServer
) -> None:
    gen = generative(engine, engine_settings, smollm.base_url)
    events = list(gen.ask_stream(QUESTIONS[1]))
    kinds = [e.kind for e in events]
    assert kinds[0] == "retrieval" and kinds[-1] == "done"
    assert kinds.count("delta") > 1  # tokens as they come, not one block
    final = events[-1]
    assert isinstance(final, DoneEvent)
    assert_verified(engine, final.answer)
    assert [e.citation for e in events if isinstance(e, CitationEvent)] == final.answer.citations


def test_generative__follow_up_is_condensed_and_literal_question_searched_too(
    engine: Engine, engine_settings: Settings, smollm: LlamaServer
) -> None:
    from rag.conversation import Message, condense

    gen = generative(engine, engine_settings, smollm.base_url)
    conversation = [
        Message("user", "Pourquoi Leike est-il parti ?"),
        Message("assistant", "Il estimait que la sécurité passait après les produits."),
        Message("user", "Et Schulman ?"),
    ]
    answer = gen.chat(conversation)
    assert answer.standalone_question and answer.question == "Et Schulman ?"
    # SmolLM2's rewrite is used only if it passes the check; otherwise the rules' question is.
    assert rejection(answer.standalone_question, conversation) is None or (
        answer.standalone_question == condense(conversation)
    )
    assert_verified(engine, answer)


def test_generative__dead_server_degrades_to_extractive_then_opens_the_circuit(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    with llama_server(require_llm_tier()) as server:
        gen = generative(engine, engine_settings, server.base_url, llm_timeout_s=20.0, llm_breaker_failures=2)
        readiness = Readiness(gen)
        assert (readiness.status().llm or {})["state"] == "up"
        server.kill()
        started = time.monotonic()
        answer = gen.ask(QUESTIONS[1])
        assert time.monotonic() - started < 20
        assert answer.degraded and answer.degraded_reason == "the LLM endpoint cannot be reached"
        assert answer.answer == engine.ask(QUESTIONS[1]).answer  # the extractive answer
        gen.ask(QUESTIONS[0])
        assert (readiness.status().llm or {})["state"] == "open" and readiness.status().ready
        skipped = gen.ask(QUESTIONS[1])
        assert skipped.degraded and "circuit open" in (skipped.degraded_reason or "")


def test_llamacpp__local_gguf_answers_through_the_model_chat_template(
    engine: Engine,
    engine_settings: Settings,
) -> None:
    model = require_llm_tier()
    settings = engine_settings.model_copy(update={"answerer": "llamacpp", "llm_gguf": str(model)})
    local = build_engine(settings, embedder=engine.embedder, store=engine.store)
    prompt = local.answerer.llm.messages_to_prompt(  # type: ignore[attr-defined]
        [ChatMessage(role="user", content="Salut")]
    )
    assert "<|im_start|>user\nSalut<|im_end|>" in prompt  # SmolLM2's own ChatML template
    answer = local.ask(QUESTIONS[1])
    assert answer.answerer == "llamacpp" and not answer.degraded
    assert_verified(engine, answer)
