"""Scoring one answer against its question's gold data (retrieval, citations, correctness, refusal,
grounding), and averaging the scores of a run into the summary metrics."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from eval.dataset import Question
from rag.grounding import GroundingChecker
from rag.markers import marked_pieces, markers, strip_markers
from rag.text import fold
from rag.types import Answer, Citation, Sentence

Source = Callable[[str], str | None]
"""The text of a corpus file as the index sees it, or None when the corpus has no such file."""


@dataclass
class SentenceCheck:
    text: str
    citations: tuple[int, ...]
    supported: bool
    score: float
    reasons: list[str]


@dataclass
class QuestionResult:
    """Every score of one question, and what was wrong with its answer."""

    id: str
    question: str
    answerable: bool
    answer: str
    refused: bool
    latency_ms: float
    retrieved_files: list[str]
    cited_files: list[str]
    hit: float | None = None
    reciprocal_rank: float | None = None
    recall: float | None = None
    citations_valid: bool | None = None  # None: the answer cites nothing and need not
    citation_precision: float | None = None
    citation_recall: float | None = None
    correct: bool | None = None
    refusal_ok: bool = True
    sentences: list[SentenceCheck] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "latency_ms": round(self.latency_ms, 1)}


def normalise(text: str) -> str:
    """Case, accents, typographic apostrophes and spacing ignored: how must_include compares."""
    return re.sub(r"\s+", " ", fold(text).replace("\u2011", "-")).strip()


def missing_groups(text: str, must_include: Sequence[Sequence[str]]) -> list[list[str]]:
    """The groups of which the text contains no alternative; its `[n]` markers are not text (« … [3] »
    does not contain a 3)."""
    haystack = normalise(strip_markers(text))
    return [list(group) for group in must_include if not any(normalise(a) in haystack for a in group)]


def retrieval_scores(files: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    """hit@k, reciprocal rank of the first gold chunk, and share of gold files among the chunks."""
    wanted = set(gold)
    first = next((rank for rank, name in enumerate(files, start=1) if name in wanted), None)
    recall = len(wanted & set(files)) / len(wanted)
    return (1.0 if first else 0.0), (1.0 / first if first else 0.0), recall


def citation_problems(answer: Answer, source: Source) -> list[str]:
    """Markers that resolve to no citation, and citations whose quote is not their file's text at
    their span."""
    numbers = {c.n for c in answer.citations}
    problems = [
        f"marker [{n}] points to no citation"
        for n in dict.fromkeys(markers(answer.answer))
        if n not in numbers
    ]
    for citation in answer.citations:
        text = source(citation.file)
        if text is None:
            problems.append(f"citation [{citation.n}] names {citation.file!r}, which is not in the corpus")
        elif text[citation.char_start : citation.char_end] != citation.quote or not citation.quote:
            problems.append(
                f"citation [{citation.n}]: the quote is not the text of {citation.file} at "
                f"{citation.char_start}–{citation.char_end}"
            )
    if not answer.refused and not answer.citations:
        problems.append("the answer cites no source")
    return problems


def answer_sentences(answer: Answer) -> list[Sentence]:
    """The answer's sentences with their markers; parsed from the text when an answerer gave none."""
    if answer.refused:
        return []
    if answer.sentences:
        return list(answer.sentences)
    pieces = marked_pieces(answer.answer)
    return [Sentence(text=p, citations=tuple(dict.fromkeys(markers(p)))) for p in pieces]


def cited_text(citation: Citation, source: Source) -> str:
    """What a citation points at: its file's text at its span (the quote when that is impossible)."""
    text = source(citation.file)
    if text is None or not 0 <= citation.char_start < citation.char_end <= len(text):
        return citation.quote
    return text[citation.char_start : citation.char_end]


def sentence_evidence(answer: Answer, source: Source) -> list[tuple[Sentence, list[str], list[str]]]:
    """Each sentence of the answer with the texts it cites and their articles' titles."""
    by_number = {c.n: c for c in answer.citations}
    found = []
    for sentence in answer_sentences(answer):
        cited = [by_number[n] for n in sentence.citations if n in by_number]
        titles = list(dict.fromkeys(c.title for c in cited))
        found.append((sentence, [cited_text(c, source) for c in cited], titles))
    return found


def check_sentences(answer: Answer, checker: GroundingChecker, source: Source) -> list[SentenceCheck]:
    """ALCE-style citation recall: is each sentence supported by the passages it cites?"""
    checks = []
    for sentence, passages, titles in sentence_evidence(answer, source):
        verdict = checker.check(sentence.text, passages, context=titles)
        checks.append(
            SentenceCheck(
                sentence.text, tuple(sentence.citations), verdict.supported, verdict.score, verdict.reasons
            )
        )
    return checks


def score_question(
    question: Question,
    answer: Answer,
    latency_ms: float,
    *,
    checker: GroundingChecker,
    source: Source,
) -> QuestionResult:
    files = [p.file for p in answer.passages]
    cited = list(dict.fromkeys(c.file for c in answer.citations))
    result = QuestionResult(
        id=question.id,
        question=question.question,
        answerable=question.answerable,
        answer=answer.answer,
        refused=answer.refused,
        latency_ms=latency_ms,
        retrieved_files=files,
        cited_files=cited,
    )
    problems = citation_problems(answer, source)
    result.citations_valid = None if answer.refused and not answer.citations else not problems
    result.failures += problems
    if question.answerable:
        result.hit, result.reciprocal_rank, result.recall = retrieval_scores(files, question.sources)
        if not result.hit:
            wanted = ", ".join(question.sources)
            result.failures.append(f"retrieval: no passage of {wanted} in the top {len(files)}")
        gold = set(question.sources)
        result.citation_precision = len(gold & set(cited)) / len(cited) if cited else None
        result.citation_recall = len(gold & set(cited)) / len(gold)
        missing = missing_groups(answer.answer, question.must_include)
        result.correct = not answer.refused and not missing
        result.refusal_ok = not answer.refused
        if answer.refused:
            result.failures.append("refused a question the articles answer")
        elif missing:
            result.failures.append("wrong answer: it lacks " + "; ".join(" / ".join(g) for g in missing))
    else:
        result.refusal_ok = answer.refused and not answer.citations
        if not result.refusal_ok:
            result.failures.append("answered a question the articles do not answer (expected a refusal)")
    result.sentences = check_sentences(answer, checker, source)
    for i, check in enumerate(result.sentences, start=1):
        if not check.supported:
            result.failures.append(f"sentence {i} not supported by its citations: {'; '.join(check.reasons)}")
    return result


def _mean(values: Sequence[float | bool | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def summarize(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """The run's metrics under stable keys (None where no question measures one)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    sentences = [s for r in results for s in r.sentences]
    latencies = [r.latency_ms for r in results]
    return {
        "answer_correct_rate": _mean([r.correct for r in answerable]),
        "citation_validity": _mean([r.citations_valid for r in results]),
        "citation_precision": _mean([r.citation_precision for r in answerable]),
        "citation_recall": _mean([r.citation_recall for r in answerable]),
        "refusal_rate_unanswerable": _mean([r.refusal_ok for r in unanswerable]),
        "false_refusal_rate": _mean([r.refused for r in answerable]),
        "grounded_sentence_rate": _mean([s.supported for s in sentences]),
        "hit_at_k": _mean([r.hit for r in answerable]),
        "recall_at_k": _mean([r.recall for r in answerable]),
        "mrr": _mean([r.reciprocal_rank for r in answerable]),
        "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else None,
    }
