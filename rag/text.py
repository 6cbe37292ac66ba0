"""French text helpers: accent folding, BM25 tokens (elisions split, stemmed) and sentence spans."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

APOSTROPHES = "'’‘ʼ`´"
_ELISION = re.compile(
    r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)[" + APOSTROPHES + r"]",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)
# A sentence ends at . ! ? or … followed by space and something that can start a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»”)]*\s+(?=[«\"“(\[—–-]?\s*[A-ZÀ-ÖØ-Þ0-9])")

_QUESTION_WORDS = {
    "pourquoi", "comment", "combien", "quel", "quelle", "quels", "quelles", "qui", "quoi", "quand",
    "ou", "est", "ce", "que", "qu", "il", "elle", "ils", "elles", "a", "t", "y", "sont", "ete",
    "fait", "why", "how", "what", "who", "when", "where", "which", "did", "does", "do", "is",
    "are", "was", "were", "much", "many", "dit", "selon", "article", "articles", "parle",
}


def fold(text: str) -> str:
    """Lowercase, strip accents and unify apostrophes, for comparisons that ignore typography."""
    if text.isascii():  # most words: no accent to strip, "`" the only other apostrophe
        return text.lower().replace("`", "'")
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    for apostrophe in APOSTROPHES:
        text = text.replace(apostrophe, "'")
    return text


fold_word = lru_cache(maxsize=1 << 17)(fold)  # for words: a corpus has few distinct ones


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("french")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    words = {fold(w) for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN)}
    return frozenset(words)


@lru_cache(maxsize=1)
def _language_words() -> tuple[frozenset[str], frozenset[str]]:
    english = {fold(w) for w in STOPWORDS_EN} | {"did", "does", "how", "why", "who", "what", "when"}
    french = {fold(w) for w in STOPWORDS_FRENCH}
    return frozenset(english - french), frozenset(french - english)


def looks_english(text: str) -> bool:
    """More English function words than French ones: the question is probably in English."""
    english, french = _language_words()
    folded = [fold(w) for w in words(text)]
    return sum(w in english for w in folded) > sum(w in french for w in folded)


def is_stopword(word: str) -> bool:
    folded = fold(word)
    return folded in _stopwords() or folded in _QUESTION_WORDS


def words(text: str) -> list[str]:
    """Lowercased words with French elisions (l', d', qu'...) split off."""
    return _WORD.findall(_ELISION.sub(" ", text.lower()))


def tokens(text: str) -> list[str]:
    """BM25 tokens: words without stopwords, accents folded (users often type without them), then
    stemmed with the French Snowball stemmer."""
    stop = _stopwords()
    kept = [f for f in map(fold_word, words(text)) if f not in stop and (len(f) > 1 or f.isdigit())]
    return list(_stemmer().stemWords(kept))


def query_terms(text: str) -> list[str]:
    """Content terms of a question: its tokens minus interrogative filler, deduplicated in order."""
    seen: dict[str, None] = {}
    for token in tokens(text):
        if token not in _QUESTION_WORDS:
            seen.setdefault(token, None)
    return list(seen)


@dataclass(frozen=True)
class Span:
    """A piece of a text with its character offsets in that text."""

    start: int
    end: int
    text: str


def sentence_spans(text: str, offset: int = 0) -> list[Span]:
    """Split a text into sentences (and lines), returning exact spans shifted by `offset`."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        cursor = line.start()
        pieces = _SENTENCE_END.split(line.group())
        for piece in pieces:
            start = text.index(piece, cursor)
            end = start + len(piece)
            cursor = end
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            start += lead
            spans.append(Span(offset + start, offset + start + len(stripped), stripped))
    return spans


# Words that name the kind of answer wanted rather than what it is about.
SLOT = re.compile(
    r"combien de temps|depuis combien de temps|en quelle annee|quelle annee|quelle date|quel jour|"
    r"quel age|quel est le nom|how long|what year|how many|how much|il y a combien d'annees",
)


def content_part(question: str) -> str:
    """The question without its answer-type words (« en quelle année » is not a topic)."""
    return SLOT.sub(" ", fold(question))


NUMBER = re.compile(r"\d+(?:[.,\s]\d+)*")
