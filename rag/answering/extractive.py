"""Extractive answerer: picks the one to three retrieved sentences that best answer the question.

It needs no LLM, so every sentence of its answers is an exact quote of a corpus file. When the best
evidence is weak (calibrated on questions the articles do not answer), it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rag.answering.base import Draft, DraftSentence, Evidence, Quote
from rag.text import fold, query_terms, sentence_spans, tokens
from rag.types import Passage

# Cues that a sentence carries the kind of answer the question asks for.
_CUES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (
        re.compile(r"^(pourquoi|why)\b|raison|motif|cause"),
        re.compile(
            r"parce qu|\bcar\b|en raison|a cause|pour avoir|affirmant|critiquant|expliqu|"
            r"desaccord|preoccupation|because|due to|vouloir|desir|priorit"
        ),
    ),
    (
        re.compile(r"^(combien|how (much|many|long))\b|quel (montant|nombre)|depuis combien"),
        re.compile(
            r"\d|\b(un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|"
            r"cent|mille|milliards?|millions?)\b"
        ),
    ),
    (
        re.compile(r"^(quand|when)\b|quelle date|en quelle annee|depuis quand"),
        re.compile(
            r"\b(1[89]|20)\d\d\b|janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|"
            r"octobre|novembre|decembre|mardi|semaine|annee|mois|automne|hier"
        ),
    ),
]
CUE_BONUS = 0.08
DENSE_WEIGHT = 0.5
MIN_WORDS = 4
REDUNDANT = 0.6  # Jaccard overlap above which a second sentence adds nothing


@dataclass
class _Candidate:
    quote: Quote
    terms: frozenset[str]
    rank: int
    score: float = 0.0


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    seen: set[tuple[str, int]] = set()
    out: list[_Candidate] = []
    for rank, passage in enumerate(passages):
        for span in sentence_spans(passage.text, offset=passage.char_start):
            key = (passage.file, span.start)
            if key in seen or len(span.text.split()) < MIN_WORDS:
                continue
            # A chunk may begin inside a sentence: such a fragment is not a quotable sentence.
            if span.start == passage.char_start and passage.char_start > 0 and span.text[0].islower():
                continue
            seen.add(key)
            quote = Quote(passage.file, passage.title, span.text, span.start, span.end, 0.0)
            out.append(_Candidate(quote, frozenset(tokens(span.text)), rank))
    return out


class ExtractiveAnswerer:
    """Scores every sentence of the retrieved passages by meaning (embedding cosine) and by the
    question's terms it contains (IDF-weighted), and quotes the best ones."""

    name = "extractive"

    def __init__(self, *, refusal_threshold: float, max_sentences: int = 3, keep_ratio: float = 0.85):
        self.refusal_threshold = refusal_threshold
        self.max_sentences = max_sentences
        self.keep_ratio = keep_ratio

    def score(self, question: str, passages: list[Passage], evidence: Evidence) -> list[_Candidate]:
        candidates = _candidates(passages)
        if not candidates:
            return []
        terms = query_terms(question)
        weights = {t: evidence.idf(t) for t in terms}
        total = sum(weights.values()) or 1.0
        vectors = evidence.embed([c.quote.text for c in candidates])
        cosines = vectors @ np.asarray(evidence.query_vector, dtype=np.float32)
        folded_question = fold(question).strip()
        cue_patterns = [cue for trigger, cue in _CUES if trigger.search(folded_question)]
        for candidate, cosine in zip(candidates, cosines, strict=True):
            lexical = sum(w for t, w in weights.items() if t in candidate.terms) / total
            bonus = CUE_BONUS if any(p.search(fold(candidate.quote.text)) for p in cue_patterns) else 0.0
            candidate.score = DENSE_WEIGHT * float(cosine) + (1 - DENSE_WEIGHT) * lexical + bonus
        return sorted(candidates, key=lambda c: (-c.score, c.rank, c.quote.char_start))

    def answer(self, question: str, passages: list[Passage], evidence: Evidence) -> Draft:
        ranked = self.score(question, passages, evidence)
        best = ranked[0].score if ranked else 0.0
        if best < self.refusal_threshold:
            return Draft(sentences=[], refused=True, evidence=best)
        chosen: list[_Candidate] = []
        for candidate in ranked:
            if len(chosen) == self.max_sentences or candidate.score < self.keep_ratio * best:
                break
            if any(_jaccard(candidate.terms, c.terms) > REDUNDANT for c in chosen):
                continue
            chosen.append(candidate)
        sentences = [
            DraftSentence(
                text=c.quote.text,
                quotes=(Quote(**{**c.quote.__dict__, "score": round(c.score, 4)}),),
            )
            for c in chosen
        ]
        return Draft(sentences=sentences, refused=False, evidence=best)

    def stream(self, question: str, passages: list[Passage], evidence: Evidence) -> Iterator[str | Draft]:
        yield self.answer(question, passages, evidence)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(len(a | b), 1)
