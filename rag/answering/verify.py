"""Verification of a generated answer: every sentence is checked against the passages it cites,
with the very grounding checker the eval measures (`build_grounding_checker`). Markers that point
nowhere are removed, a sentence without marker gets the passage that supports it, a sentence must
hold as an answer to the question asked, and unsupported sentences are marked or dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.base import Draft, Evidence
from rag.grounding import GroundingChecker, Verdict, build_grounding_checker
from rag.markers import markers, markers_inside, only_markers, strip_markers
from rag.text import fold, sentence_spans
from rag.types import Citation, Passage, Sentence


@dataclass
class _Claim:
    text: str
    markers: list[int]


def split_claims(answer: str) -> list[_Claim]:
    """Sentences of a generated answer with their markers (« Phrase. [1] » keeps its [1])."""
    claims: list[_Claim] = []
    for span in sentence_spans(markers_inside(answer)):
        marks = markers(span.text)
        if only_markers(span.text) and claims:
            claims[-1].markers += marks
            continue
        text = strip_markers(span.text)
        if text:
            claims.append(_Claim(text, marks))
    return claims


def is_refusal(answer: str, refusals: tuple[str, ...]) -> bool:
    folded = fold(answer)
    return any(fold(r).rstrip(".") in folded for r in refusals)


def best_quote(checker: GroundingChecker, claim: str, passage: Passage) -> Citation:
    """The sentence of the passage closest to the claim, or the whole passage if support is spread."""
    spans = sentence_spans(passage.text, offset=passage.char_start)
    if spans:
        scored = [(checker.similarity(claim, [s.text]), s) for s in spans]
        score, span = max(scored, key=lambda x: x[0])
        if checker.check(claim, [span.text], context=[passage.title]).supported:
            return Citation(0, passage.file, passage.title, span.text, span.start, span.end, round(score, 4))
    return Citation(0, passage.file, passage.title, passage.text, passage.char_start, passage.char_end, 0.0)


@dataclass(frozen=True)
class Support:
    """Which passages (numbered from 1) support a claim, and how its markers were mended: `invalid`
    markers pointed nowhere, `fix` says whether a supporting passage was added or moved to."""

    passages: list[int]
    invalid: int = 0
    fix: str | None = None  # "markers_added", "markers_moved" or None


def find_support(
    checker: GroundingChecker,
    claim: str,
    marks: Sequence[int],
    passages: Sequence[Passage],
    *,
    question: str = "",
) -> Support:
    """The passages that support `claim` as an answer to `question`: those it cites, else the best
    other one. The one decision verification makes per sentence, which the eval measures on
    sentences real LLMs wrote (eval/datasets/llm_sentences.jsonl)."""
    valid = [n for n in dict.fromkeys(marks) if 1 <= n <= len(passages)]
    invalid = len(marks) - len(valid)
    cited = [n for n in valid if _supports(checker, claim, passages[n - 1], question)]
    if cited:
        return Support(cited, invalid)
    found = _best_support(checker, claim, passages, question)
    if found is None:
        return Support([], invalid)
    return Support([found], invalid, "markers_moved" if valid else "markers_added")


def verify(
    answer: str,
    passages: list[Passage],
    evidence: Evidence,
    *,
    refusals: tuple[str, ...],
    drop_unsupported: bool = False,
    question: str = "",
) -> Draft:
    """Turn a generated answer into a verified Draft; with `question`, a sentence must also hold as
    an answer to it (« Anthropic [1] » asked who Sutskever founded is not supported by a passage
    that ties Anthropic to others)."""
    claims = split_claims(answer)
    if not claims or is_refusal(answer, refusals):
        return Draft(sentences=[], refused=True)
    checker = build_grounding_checker(evidence.embed, evidence)
    counts = {"markers_removed": 0, "markers_added": 0, "markers_moved": 0, "unsupported": 0}
    sentences: list[Sentence] = []
    for claim in claims:
        support = find_support(checker, claim.text, claim.markers, passages, question=question)
        counts["markers_removed"] += support.invalid
        if support.fix:
            counts[support.fix] += 1
        if support.passages:
            quotes = tuple(best_quote(checker, claim.text, passages[n - 1]) for n in support.passages)
            sentences.append(Sentence(claim.text, quotes=quotes))
        else:
            counts["unsupported"] += 1
            if not drop_unsupported:
                sentences.append(Sentence(claim.text, verdict="unsupported"))
    extra = {k: float(v) for k, v in counts.items()}
    if not any(s.verdict == "supported" for s in sentences):
        return Draft(sentences=[], refused=True, extra=extra)
    return Draft(sentences=sentences, refused=False, extra=extra)


def _supports(checker: GroundingChecker, claim: str, passage: Passage, question: str) -> bool:
    return checker.check(claim, [passage.text], context=[passage.title], question=question).supported


def _best_support(
    checker: GroundingChecker, claim: str, passages: Sequence[Passage], question: str
) -> int | None:
    verdicts: list[tuple[Verdict, int]] = [
        (checker.check(claim, [p.text], context=[p.title], question=question), n)
        for n, p in enumerate(passages, start=1)
    ]
    supported = [(v.score, n) for v, n in verdicts if v.supported]
    return max(supported)[1] if supported else None
