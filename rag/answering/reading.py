"""What the extractive answerer reads: the candidate sentences of the retrieved passages (with the
words around them) and what the question asks (its names, terms and answer type)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answering.answer_types import Expectation
from rag.conversation import entities
from rag.text import NAME, fold, is_stopword, sentence_spans, tokens, words
from rag.types import Citation, Passage

MIN_WORDS = 4
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


def candidates(passages: list[Passage]) -> list[Candidate]:
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


def heading(text: str) -> bool:
    """A short line without final punctuation: a heading or a caption."""
    return not text.rstrip("»”\"' )").endswith((".", "!", "?", "…", ":", ";")) and len(text.split()) < 20
