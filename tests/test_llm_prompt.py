"""The prompt built for a small model: a fixed part first, the same bytes for every question (the
server's prefix cache serves it), then a few numbered evidence sentences, each the exact text of its
file at its span, instead of whole chunks."""

from __future__ import annotations

import pytest

from rag.answering.evidence import evidence_sources
from rag.answering.extractive import ExtractiveAnswerer
from rag.answering.prompts import REFUSALS, answer_messages, fixed_messages
from rag.corpus import read_text
from rag.engine import Engine
from tests.conftest import CORPUS

QUESTIONS = [
    "Pourquoi Leike est-il parti ?",
    "Combien de temps Schulman est-il resté chez Anthropic ?",
    "Quels chercheurs ont quitté OpenAI ?",
    "Quel est le salaire de Jan Leike chez Anthropic ?",
]


@pytest.fixture(scope="module")
def scorer(engine: Engine) -> ExtractiveAnswerer:
    """The extractive answerer of the engine: its sentence ranking is what the LLM reads."""
    assert isinstance(engine.answerer, ExtractiveAnswerer)
    return engine.answerer


def test_prompt__fixed_part_comes_first_and_is_the_same_for_every_question(
    engine: Engine, scorer: ExtractiveAnswerer
) -> None:
    prompts = []
    for question in QUESTIONS:
        passages, evidence, _ = engine.retrieve(question)
        prompts.append(answer_messages(question, evidence_sources(question, passages, evidence, scorer)))
    fixed = fixed_messages()
    for prompt, question in zip(prompts, QUESTIONS, strict=True):
        assert prompt[: len(fixed)] == fixed and len(prompt) == len(fixed) + 1
        assert question in prompt[-1][1] and all(question not in content for _, content in fixed)
    system = fixed[0][1]
    assert all(refusal in system for refusal in REFUSALS)  # « if the sources do not name X, say so »
    assert any("[2]" in answer for role, answer in fixed if role == "assistant")  # a cited example


def test_evidence__sources_are_exact_spans_of_their_files_best_sentence_first(
    engine: Engine, scorer: ExtractiveAnswerer
) -> None:
    for question in QUESTIONS:
        passages, evidence, _ = engine.retrieve(question)
        sources = evidence_sources(question, passages, evidence, scorer, sentences=6)
        assert 1 <= len(sources) <= 6
        for source in sources:
            assert read_text(CORPUS / source.file)[source.char_start : source.char_end] == source.text
        best = scorer.score(question, passages, evidence)[0].quote
        assert best.quote in sources[0].text and sources[0].file == best.file
        assert [s.score for s in sources] == sorted((s.score for s in sources), reverse=True)


def test_evidence__a_sentence_that_leans_back_brings_the_one_before(
    engine: Engine, scorer: ExtractiveAnswerer
) -> None:
    question = "Combien de temps Schulman est-il resté chez Anthropic ?"
    passages, evidence, _ = engine.retrieve(question)
    sources = evidence_sources(question, passages, evidence, scorer, sentences=8)
    for source in sources:
        # A source that holds a sentence opening on « Il » / « Cette » also holds what it refers to.
        first_words = source.text.split(maxsplit=1)[0].lower()
        assert first_words not in {"il", "elle", "cette", "ce", "ces", "cela"}, source.text


def test_evidence__the_prompt_is_a_fraction_of_the_whole_chunks_prompt(
    engine: Engine, scorer: ExtractiveAnswerer
) -> None:
    for question in QUESTIONS:
        passages, evidence, _ = engine.retrieve(question)
        short = answer_messages(question, evidence_sources(question, passages, evidence, scorer))[-1][1]
        whole = answer_messages(question, passages)[-1][1]
        assert len(short) < 0.4 * len(whole), (question, len(short), len(whole))
