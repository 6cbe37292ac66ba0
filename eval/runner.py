"""Running an eval: every question asked to the engine (timed, warm), every answer scored, and the
grounding checker itself measured on its labelled pairs."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from eval.dataset import DatasetError, GroundingPair, Question
from eval.metrics import QuestionResult, Source, score_question, sentence_evidence, summarize
from eval.sentences import load_llm_sentences, score_sentences, sentence_summary
from rag.corpus import Corpus
from rag.engine import Engine
from rag.errors import CorpusError, InvalidQuestionError
from rag.grounding import GroundingChecker, build_grounding_checker
from rag.types import Answer

WARM_UP = "Qui a rejoint Anthropic ?"  # asked once, untimed: a server answers with a warm model


@dataclass
class CheckerResult:
    """How often the grounding checker agrees with the labels, overall and per kind of pair."""

    accuracy: float
    by_kind: dict[str, float]
    misses: list[dict[str, Any]] = field(default_factory=list)
    llm_sentences: dict[str, dict[str, Any]] = field(default_factory=dict)  # per part: eval.sentences


@dataclass
class EvalRun:
    """A finished run: summary metrics, per-question results and the checker's own accuracy; the
    engine's answers (in question order) and, when an LLM judged them, its verdicts (not gated)."""

    summary: dict[str, float | None]
    results: list[QuestionResult]
    checker: CheckerResult
    info: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)
    judge: dict[str, Any] | None = None
    answerability: dict[str, Any] | None = None  # eval.answerability: the refusal decision's curve


def corpus_source(corpus: Corpus) -> Source:
    """File texts of the corpus (the same resolution as the API's /sources), cached."""
    cache: dict[str, str | None] = {}

    def source(name: str) -> str | None:
        if name not in cache:
            try:
                cache[name] = corpus.source(name)[0]
            except CorpusError:
                cache[name] = None
        return cache[name]

    return source


def build_checker(engine: Engine) -> GroundingChecker:
    """The checker production verification uses, on the engine's embedder and indexed corpus."""
    return build_grounding_checker(engine.embedder.embed_cached, engine.retriever.bm25())


def ask_all(engine: Engine, questions: Sequence[Question]) -> list[tuple[Answer, float]]:
    """Ask every question as a client would; latency is the wall time of `Engine.ask`."""
    engine.ask(WARM_UP)
    answered = []
    for question in tqdm(questions, desc="questions", disable=not sys.stderr.isatty()):
        started = time.perf_counter()
        try:
            answer = engine.ask(question.question)
        except InvalidQuestionError as exc:
            raise DatasetError(f"Question {question.id}: {exc}") from None
        answered.append((answer, (time.perf_counter() - started) * 1000))
    return answered


def check_checker(checker: GroundingChecker, pairs: Sequence[GroundingPair]) -> CheckerResult:
    """Accuracy of the checker on sentence/passage pairs labelled by hand."""
    checker.prime((pair.sentence, pair.passages) for pair in pairs)
    totals: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for pair in pairs:
        verdict = checker.check(pair.sentence, list(pair.passages), context=list(pair.context))
        right = verdict.supported == pair.supported
        totals[pair.kind or "unlabelled"].append(right)
        if not right:
            misses.append(
                {
                    "id": pair.id,
                    "kind": pair.kind,
                    "sentence": pair.sentence,
                    "expected": pair.supported,
                    "score": verdict.score,
                    "reasons": verdict.reasons,
                }
            )
    flat = [ok for oks in totals.values() for ok in oks]
    return CheckerResult(
        accuracy=sum(flat) / len(flat) if flat else 0.0,
        by_kind={kind: sum(oks) / len(oks) for kind, oks in sorted(totals.items())},
        misses=misses,
    )


def run_eval(
    engine: Engine,
    questions: Sequence[Question],
    pairs: Sequence[GroundingPair],
    *,
    corpus: Corpus,
) -> EvalRun:
    """Ask all questions first, then score: the checker's embeddings then never share the
    embedder's cache with the timed calls."""
    started = time.time()
    answered = ask_all(engine, questions)
    checker = build_checker(engine)
    source = corpus_source(corpus)
    checker.prime(
        (sentence.text, passages)
        for answer, _ in answered
        for sentence, passages, _ in sentence_evidence(answer, source)
    )
    results = [
        score_question(question, answer, latency, checker=checker, source=source)
        for question, (answer, latency) in zip(questions, answered, strict=True)
    ]
    checked = check_checker(checker, pairs)
    sentences = score_sentences(checker, load_llm_sentences())
    checked.llm_sentences = {part: scores.to_dict() for part, scores in sentences.items()}
    summary = {
        **summarize(results),
        "grounding_checker_accuracy": checked.accuracy,
        **sentence_summary(sentences),
    }
    info = {
        "answerer": engine.answerer.name,
        "embed_model": engine.embedder.name,
        "top_k": engine.limits.top_k,
        "questions": len(results),
        "answerable": sum(r.answerable for r in results),
        "unanswerable": sum(not r.answerable for r in results),
        "pairs": len(pairs),
        "seconds": round(time.time() - started, 1),
    }
    answers = [answer for answer, _ in answered]
    return EvalRun(summary=summary, results=results, checker=checked, info=info, answers=answers)
