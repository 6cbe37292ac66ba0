"""Verification of a generated answer: every sentence is checked against the passages it cites,
with the very grounding checker the eval measures (`build_grounding_checker`). Markers that point
nowhere are removed, a sentence without marker gets the passage that supports it, and unsupported
sentences are marked or dropped."""

from __future__ import annotations

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


def verify(
    answer: str,
    passages: list[Passage],
    evidence: Evidence,
    *,
    refusals: tuple[str, ...],
    drop_unsupported: bool = False,
) -> Draft:
    """Turn a generated answer into a verified Draft."""
    claims = split_claims(answer)
    if not claims or is_refusal(answer, refusals):
        return Draft(sentences=[], refused=True)
    checker = build_grounding_checker(evidence.embed, evidence)
    counts = {"markers_removed": 0, "markers_added": 0, "markers_moved": 0, "unsupported": 0}
    sentences: list[Sentence] = []
    for claim in claims:
        valid = [n for n in dict.fromkeys(claim.markers) if 1 <= n <= len(passages)]
        counts["markers_removed"] += len(claim.markers) - len(valid)
        supporting = [n for n in valid if _supports(checker, claim.text, passages[n - 1])]
        if not supporting:
            found = _find_support(checker, claim.text, passages)
            if found is not None:
                counts["markers_added" if not valid else "markers_moved"] += 1
                supporting = [found]
        if supporting:
            quotes = tuple(best_quote(checker, claim.text, passages[n - 1]) for n in supporting)
            sentences.append(Sentence(claim.text, quotes=quotes))
        else:
            counts["unsupported"] += 1
            if not drop_unsupported:
                sentences.append(Sentence(claim.text, verdict="unsupported"))
    if not any(s.verdict == "supported" for s in sentences):
        return Draft(sentences=[], refused=True, extra={k: float(v) for k, v in counts.items()})
    return Draft(sentences=sentences, refused=False, extra={k: float(v) for k, v in counts.items()})


def _supports(checker: GroundingChecker, claim: str, passage: Passage) -> bool:
    return checker.check(claim, [passage.text], context=[passage.title]).supported


def _find_support(checker: GroundingChecker, claim: str, passages: list[Passage]) -> int | None:
    verdicts: list[tuple[Verdict, int]] = [
        (checker.check(claim, [p.text], context=[p.title]), n) for n, p in enumerate(passages, start=1)
    ]
    supported = [(v.score, n) for v, n in verdicts if v.supported]
    return max(supported)[1] if supported else None
