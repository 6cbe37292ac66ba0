"""Extractive answerer: picks the one to four retrieved sentences that best answer the question,
the one that answers first. It needs no LLM, so every sentence of its answers is an exact quote of a
corpus file. Whether to answer at all is the answerability model's decision (`answerability`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from rag.answering.answer_types import Expectation, asks_for_list, expectation, satisfies
from rag.answering.answerability import AnswerabilityModel, Assessment, Signals, measure
from rag.answering.base import Draft, Evidence
from rag.answering.reading import Candidate, Reading, candidates, heading, new_names, question_names
from rag.conversation import Message, condense
from rag.text import content_part, looks_english, query_terms
from rag.types import Passage, Sentence

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
REDUNDANT = 0.6  # Jaccard overlap above which a further sentence adds nothing


class ExtractiveAnswerer:
    """Scores every sentence of the retrieved passages by meaning, by the question's terms and names
    it contains, and by whether it holds the kind of answer asked for; quotes the best ones when the
    answerability model says the passages answer the question."""

    name = "extractive"

    def __init__(
        self,
        *,
        model: AnswerabilityModel,
        refusal_threshold: float = 0.5,
        max_sentences: int = 3,
        keep_ratio: float = 0.75,
        list_keep_ratio: float = 0.6,
    ) -> None:
        self.model = model
        self.list_keep_ratio = list_keep_ratio
        self.refusal_threshold = refusal_threshold
        self.max_sentences = max_sentences
        self.keep_ratio = keep_ratio

    def read(self, question: str, passages: list[Passage], evidence: Evidence) -> Reading:
        """The question's analysis and every candidate sentence, scored and sorted best first."""
        weights = {t: evidence.idf(t) for t in query_terms(content_part(question))}
        english = looks_english(question)
        # A French question whose key word the corpus never uses asks for something absent.
        unknown = (
            [] if english else [t for t, w in weights.items() if len(t) > 3 and w >= evidence.idf("\x00")]
        )
        reading = Reading(
            question,
            question_names(question, evidence.names),
            weights,
            unknown,
            expectation(question),
            asks_for_list(question),
            english,
        )
        found = candidates(passages)
        if not found:
            return reading
        vectors = evidence.embed([c.quote.quote for c in found])
        cosines = vectors @ np.asarray(evidence.query_vector, dtype=np.float32)
        for candidate, cosine in zip(found, cosines, strict=True):
            candidate.cosine = float(cosine)
            candidate.score = self._score(reading, candidate)
        reading.ranked = sorted(found, key=lambda c: (-c.score, c.rank, c.quote.char_start))
        return reading

    def score(self, question: str, passages: list[Passage], evidence: Evidence) -> list[Candidate]:
        """Every candidate sentence, best first (the evidence an LLM reads is drawn from them)."""
        return self.read(question, passages, evidence).ranked

    def _score(self, reading: Reading, candidate: Candidate) -> float:
        total = sum(reading.weights.values()) or 1.0
        lexical = sum(w for t, w in reading.weights.items() if t in candidate.terms) / total
        if reading.names:
            candidate.credits = tuple(_name_credit(group, candidate) for group in reading.names)
            score = W_DENSE * candidate.cosine + W_TERMS * lexical
            score += W_NAMES * sum(candidate.credits) / len(candidate.credits)
            if min(candidate.credits) < PREVIOUS_NAME_CREDIT:
                score *= MISSING_NAME_PENALTY
        else:
            score = (W_DENSE * candidate.cosine + W_TERMS * lexical) / (W_DENSE + W_TERMS)
        expected = reading.expected
        candidate.typed = expected is None or satisfies(expected, candidate.quote.quote, reading.question)
        score = _typed(score, expected, candidate.typed)
        if heading(candidate.quote.quote):
            score *= HEADING_PENALTY
        return score * UNKNOWN_PENALTY if reading.unknown else score

    def choose(self, reading: Reading) -> list[Candidate]:
        """The sentences of the answer: the best first, then those close to it that add something
        (for a list question, a name not given yet), each followed by its next sentence when that
        one holds the kind of answer asked for and it does not."""
        ranked = reading.ranked
        if not ranked:
            return []
        best = ranked[0].score
        floor = (self.list_keep_ratio if reading.wants_list else self.keep_ratio) * best
        chosen: list[Candidate] = []
        named: set[str] = set()
        for candidate in ranked:
            if len(chosen) >= self.max_sentences or candidate.score < floor:
                break
            if any(_jaccard(candidate.terms, c.terms) > REDUNDANT for c in chosen):
                continue
            if chosen and heading(candidate.quote.quote):
                continue  # a title adds no fact to an answer (and may come from any file)
            fresh = new_names(candidate.quote.quote, reading.question)
            if reading.wants_list and chosen and not fresh - named:
                continue
            named |= fresh
            chosen.append(candidate)
            follower = candidate.next
            if (
                not candidate.typed
                and follower is not None
                and follower.typed
                and follower not in chosen
                and not heading(follower.quote.quote)
            ):
                chosen.append(follower)
        return chosen[: self.max_sentences]

    def assess(
        self, question: str, passages: list[Passage], evidence: Evidence, *, llm_refused: bool | None = None
    ) -> Assessment:
        """The answer's sentences and the answerability model's verdict on them (with an LLM's own
        refusal or answer as one more signal, when there is one)."""
        reading = self.read(question, passages, evidence)
        chosen = self.choose(reading)
        signals: Signals = measure(reading, chosen, passages, llm_refused=llm_refused)
        probability = self.model.probability(signals)
        quotes = [(c.quote, c.score) for c in chosen]
        return Assessment(quotes, signals, probability, probability >= self.refusal_threshold)

    def answer(self, question: str, passages: list[Passage], evidence: Evidence) -> Draft:
        assessment = self.assess(question, passages, evidence)
        extra = {"answerability": round(assessment.probability, 4)}
        if not assessment.answerable or not assessment.quotes:
            return Draft(sentences=[], refused=True, evidence=assessment.probability, extra=extra)
        sentences = [
            Sentence(text=quote.quote, quotes=(replace(quote, score=round(score, 4)),))
            for quote, score in assessment.quotes
        ]
        return Draft(sentences=sentences, refused=False, evidence=assessment.probability, extra=extra)

    def stream(self, question: str, passages: list[Passage], evidence: Evidence) -> Iterator[str | Draft]:
        yield self.answer(question, passages, evidence)

    def condense(self, messages: Sequence[Message]) -> str:
        return condense(messages)

    def status(self) -> None:
        return None  # no model to be up or down


def _name_credit(group: frozenset[str], candidate: Candidate) -> float:
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


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(len(a | b), 1)


__all__ = ["Candidate", "ExtractiveAnswerer", "Reading", "new_names", "question_names"]
