"""Extractive answerer: picks the one to four retrieved sentences that best answer the question,
the one that answers first. It needs no LLM, so every sentence of its answers is an exact quote of a
corpus file. Whether to answer at all is the answerability model's decision (`answerability`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from rag.answering.answer_types import Expectation, asks_for_list, expectation, satisfies
from rag.answering.answerability import AnswerabilityModel, Assessment, Signals, measure
from rag.answering.base import Draft, Evidence
from rag.conversation import Message, condense, entities
from rag.text import (
    NAME,
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
# Names after these words are what the answer must *not* be (« Hormis Schulman, qui… »).
_EXCLUDING = re.compile(r"\b(hormis|sauf|a part|en dehors de|autre que|besides|other than|apart from)\b")


@dataclass
class Candidate:
    """A sentence of a retrieved passage, with what the scoring found in it."""

    quote: Citation  # not numbered yet
    terms: frozenset[str]
    words: frozenset[str]
    before: frozenset[str]  # words of the previous sentence
    passage_words: frozenset[str]
    rank: int
    score: float = 0.0
    cosine: float = 0.0
    credits: tuple[float, ...] = ()  # per name of the question: in it, just before it, in its passage
    typed: bool = False
    next: Candidate | None = None


@dataclass
class Reading:
    """What the question asks (its names, terms and answer type) and its candidate sentences, best
    first."""

    question: str
    names: list[frozenset[str]]
    weights: dict[str, float]
    unknown: list[str]
    expected: Expectation | None
    wants_list: bool
    english: bool
    ranked: list[Candidate] = field(default_factory=list)


def _candidates(passages: list[Passage]) -> list[Candidate]:
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, passage in enumerate(passages):
        passage_words = frozenset(words(fold(passage.text)))
        before: frozenset[str] = frozenset()
        previous: Candidate | None = None
        for span in sentence_spans(passage.text, offset=passage.char_start):
            sentence_words = frozenset(words(fold(span.text)))
            key = (passage.file, span.start)
            # A chunk may begin inside a sentence: such a fragment is not a quotable sentence.
            fragment = span.start == passage.char_start and passage.char_start > 0 and span.text[0].islower()
            if key not in seen and len(span.text.split()) >= MIN_WORDS and not fragment:
                seen.add(key)
                quote = Citation(0, passage.file, passage.title, span.text, span.start, span.end, 0.0)
                candidate = Candidate(
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
    in any case, and capitalised words the corpus does not know (« Australie »). Names it excludes
    (« Hormis Schulman ») are not among them."""
    start = question.strip().split(" ", 1)[0]
    excluded = _EXCLUDING.search(fold(question))
    kept = question[: excluded.start()] if excluded else question
    groups = []
    for entity in entities(kept):
        # The question's first word is capitalised anyway: a name only if the corpus knows it.
        parts = [w for w in words(fold(entity)) if len(w) > 2 and (w in corpus_names or not is_stopword(w))]
        if entity.split(" ", 1)[0] == start and question.strip().startswith(entity):
            parts = [w for i, w in enumerate(parts) if i or w in corpus_names]
        groups.append(frozenset(parts))
    named = {w for g in groups for w in g}
    groups += [frozenset({w}) for w in words(fold(kept)) if w in corpus_names and w not in named]
    return [g for g in groups if g]


def new_names(text: str, question: str) -> frozenset[str]:
    """Capitalised words of a sentence that the question does not mention (its first word aside)."""
    asked = set(words(fold(question)))
    found = [fold(m) for i, m in enumerate(NAME.findall(text)) if i or not text.startswith(m)]
    return frozenset(w for m in found for w in words(m) if w not in asked and len(w) > 2)


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
        candidates = _candidates(passages)
        if not candidates:
            return reading
        vectors = evidence.embed([c.quote.quote for c in candidates])
        cosines = vectors @ np.asarray(evidence.query_vector, dtype=np.float32)
        for candidate, cosine in zip(candidates, cosines, strict=True):
            candidate.cosine = float(cosine)
            candidate.score = self._score(reading, candidate)
        reading.ranked = sorted(candidates, key=lambda c: (-c.score, c.rank, c.quote.char_start))
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
        if _heading(candidate.quote.quote):
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
            if chosen and _heading(candidate.quote.quote):
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
                and not _heading(follower.quote.quote)
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


def _heading(text: str) -> bool:
    return not text.rstrip("»”\"' )").endswith((".", "!", "?", "…", ":", ";")) and len(text.split()) < 20


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(len(a | b), 1)
