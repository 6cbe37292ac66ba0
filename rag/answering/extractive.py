"""Extractive answerer: picks the one to three retrieved sentences that best answer the question.

It needs no LLM, so every sentence of its answers is an exact quote of a corpus file. When the best
evidence is weak (calibrated on questions the articles do not answer), it refuses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag.answering.answer_types import Expectation, expectation, satisfies
from rag.answering.base import Draft, Evidence
from rag.conversation import Message, condense, entities
from rag.text import (
    content_part,
    fold,
    is_stopword,
    looks_english,
    query_terms,
    sentence_spans,
    tokens,
    words,
)
from rag.types import Citation, Passage, Sentence

# Weights of meaning (embedding cosine), question terms (IDF-weighted) and named entities.
W_DENSE, W_TERMS, W_NAMES = 0.4, 0.3, 0.3
# Credit for a name found not in the sentence but just before it (« Leike ... . Il a ... ») or
# elsewhere in its passage.
PREVIOUS_NAME_CREDIT, PASSAGE_NAME_CREDIT = 0.7, 0.2
TYPE_BONUS = 0.05  # the sentence holds the kind of answer asked for (a number, a date...)
TYPE_PENALTY = 0.6  # ... or it does not, for questions that need one
MISSING_NAME_PENALTY = 0.75  # a name of the question is neither in the sentence nor just before it
UNKNOWN_PENALTY = 0.7  # a key word of the question appears nowhere in the corpus
HEADING_PENALTY = 0.85  # a short line without final punctuation is a heading or a caption
MIN_WORDS = 4
REDUNDANT = 0.6  # Jaccard overlap above which a further sentence adds nothing


@dataclass
class _Candidate:
    quote: Citation  # not numbered yet
    terms: frozenset[str]
    words: frozenset[str]
    before: frozenset[str]  # words of the previous sentence
    passage_words: frozenset[str]
    rank: int
    score: float = 0.0
    typed: bool = False
    next: _Candidate | None = None


def _candidates(passages: list[Passage]) -> list[_Candidate]:
    seen: set[tuple[str, int]] = set()
    out: list[_Candidate] = []
    for rank, passage in enumerate(passages):
        passage_words = frozenset(words(fold(passage.text)))
        before: frozenset[str] = frozenset()
        previous: _Candidate | None = None
        for span in sentence_spans(passage.text, offset=passage.char_start):
            sentence_words = frozenset(words(fold(span.text)))
            key = (passage.file, span.start)
            # A chunk may begin inside a sentence: such a fragment is not a quotable sentence.
            fragment = span.start == passage.char_start and passage.char_start > 0 and span.text[0].islower()
            if key not in seen and len(span.text.split()) >= MIN_WORDS and not fragment:
                seen.add(key)
                quote = Citation(0, passage.file, passage.title, span.text, span.start, span.end, 0.0)
                candidate = _Candidate(
                    quote, frozenset(tokens(span.text)), sentence_words, before, passage_words, rank
                )
                if previous is not None:
                    previous.next = candidate
                previous = candidate
                out.append(candidate)
            before = sentence_words
    return out


def question_names(question: str, corpus_names: frozenset[str]) -> list[frozenset[str]]:
    """Names the question is about, each as its words (« Ilya Sutskever »): corpus names it mentions
    in any case, and capitalised words the corpus does not know (« Australie »)."""
    start = question.strip().split(" ", 1)[0]
    # The question's first word is capitalised anyway: a name only if the corpus knows it.
    found = [e for e in entities(question) if not (question.strip().startswith(e) and e == start)]
    groups = [
        frozenset(w for w in words(fold(e)) if len(w) > 2 and (w in corpus_names or not is_stopword(w)))
        for e in found
    ]
    named = {w for g in groups for w in g}
    groups += [frozenset({w}) for w in words(fold(question)) if w in corpus_names and w not in named]
    return [g for g in groups if g]


class ExtractiveAnswerer:
    """Scores every sentence of the retrieved passages by meaning, by the question's terms and names
    it contains, and by whether it holds the kind of answer asked for; quotes the best ones."""

    name = "extractive"

    def __init__(self, *, refusal_threshold: float, max_sentences: int = 3, keep_ratio: float = 0.85):
        self.refusal_threshold = refusal_threshold
        self.max_sentences = max_sentences
        self.keep_ratio = keep_ratio

    def score(self, question: str, passages: list[Passage], evidence: Evidence) -> list[_Candidate]:
        candidates = _candidates(passages)
        if not candidates:
            return []
        weights = {t: evidence.idf(t) for t in query_terms(content_part(question))}
        total = sum(weights.values()) or 1.0
        # A French question whose key word the corpus never uses asks for something absent.
        unknown = not looks_english(question) and any(
            len(t) > 3 and w >= evidence.idf("\x00") for t, w in weights.items()
        )
        names = question_names(question, evidence.names)
        expected = expectation(question)
        vectors = evidence.embed([c.quote.quote for c in candidates])
        cosines = vectors @ np.asarray(evidence.query_vector, dtype=np.float32)
        for candidate, cosine in zip(candidates, cosines, strict=True):
            lexical = sum(w for t, w in weights.items() if t in candidate.terms) / total
            if names:
                credits = [_name_credit(group, candidate) for group in names]
                score = W_DENSE * float(cosine) + W_TERMS * lexical + W_NAMES * sum(credits) / len(names)
                if min(credits) < PREVIOUS_NAME_CREDIT:
                    score *= MISSING_NAME_PENALTY
            else:
                score = (W_DENSE * float(cosine) + W_TERMS * lexical) / (W_DENSE + W_TERMS)
            candidate.typed = expected is None or satisfies(expected, candidate.quote.quote, question)
            score = _typed(score, expected, candidate.typed)
            if _heading(candidate.quote.quote):
                score *= HEADING_PENALTY
            candidate.score = score * UNKNOWN_PENALTY if unknown else score
        return sorted(candidates, key=lambda c: (-c.score, c.rank, c.quote.char_start))

    def answer(self, question: str, passages: list[Passage], evidence: Evidence) -> Draft:
        ranked = self.score(question, passages, evidence)
        best = ranked[0].score if ranked else 0.0
        if best < self.refusal_threshold:
            return Draft(sentences=[], refused=True, evidence=best)
        chosen: list[_Candidate] = []
        for candidate in ranked:
            if len(chosen) >= self.max_sentences or candidate.score < self.keep_ratio * best:
                break
            if any(_jaccard(candidate.terms, c.terms) > REDUNDANT for c in chosen):
                continue
            chosen.append(candidate)
            # The sentence that matches the question often leaves the answer to the next one.
            follower = candidate.next
            if not candidate.typed and follower is not None and follower.typed and follower not in chosen:
                chosen.append(follower)
        sentences = [
            Sentence(text=c.quote.quote, quotes=(replace(c.quote, score=round(c.score, 4)),))
            for c in chosen[: self.max_sentences]
        ]
        return Draft(sentences=sentences, refused=False, evidence=best)

    def stream(self, question: str, passages: list[Passage], evidence: Evidence) -> Iterator[str | Draft]:
        yield self.answer(question, passages, evidence)

    def condense(self, messages: Sequence[Message]) -> str:
        return condense(messages)

    def status(self) -> None:
        return None  # no model to be up or down


def _name_credit(group: frozenset[str], candidate: _Candidate) -> float:
    if group & candidate.words:
        return 1.0
    if group & candidate.before:
        return PREVIOUS_NAME_CREDIT
    return PASSAGE_NAME_CREDIT if group & candidate.passage_words else 0.0


def _typed(score: float, expected: Expectation | None, typed: bool) -> float:
    if expected is None:
        return score
    if typed:
        return score + TYPE_BONUS
    return score * TYPE_PENALTY if expected.strict else score


def _heading(text: str) -> bool:
    return not text.rstrip("»”\"' )").endswith((".", "!", "?", "…", ":", ";")) and len(text.split()) < 12


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(len(a | b), 1)
