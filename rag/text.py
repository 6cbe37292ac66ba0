"""French text helpers: accent folding, BM25 tokens (elisions split, stemmed), sentence spans, and
the one definition of number words and of how a name is written."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

APOSTROPHES = "'’‘ʼ`´"
CAPITALS = "A-ZÀ-ÖØ-Þ"  # for character classes: capital letters, accented ones included
# A word written with a capital, of two characters or more (« OpenAI », « Jean-Pierre »).
NAME = re.compile(rf"\b[{CAPITALS}][\w-]+")
_ELISION = re.compile(
    r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)[" + APOSTROPHES + r"]",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+", re.UNICODE)
# A sentence ends at . ! ? or … followed by space and something that can start a sentence.
_SENTENCE_END = re.compile(rf"(?<=[.!?…])[\"»”)]*\s+(?=[«\"“(\[—–-]?\s*[{CAPITALS}0-9])")

# fmt: off
_QUESTION_WORDS = {
    "pourquoi", "comment", "combien", "quel", "quelle", "quels", "quelles", "qui", "quoi", "quand",
    "ou", "est", "ce", "que", "qu", "il", "elle", "ils", "elles", "a", "t", "y", "sont", "ete",
    "fait", "why", "how", "what", "who", "when", "where", "which", "did", "does", "do", "is",
    "are", "was", "were", "much", "many", "dit", "selon", "article", "articles", "parle",
}
# fmt: on


def fold(text: str) -> str:
    """Lowercase, strip accents and unify apostrophes, for comparisons that ignore typography."""
    if text.isascii():  # most words: no accent to strip, "`" the only other apostrophe
        return text.lower().replace("`", "'")
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    for apostrophe in APOSTROPHES:
        text = text.replace(apostrophe, "'")
    return text


MAX_CACHED_WORD = 40
"""Longest word `fold_word` remembers: a corpus's words are shorter, a user's may be of any length."""
_fold_cached = lru_cache(maxsize=1 << 17)(fold)  # for words: a corpus has few distinct ones


def fold_word(word: str) -> str:
    """`fold` for one word, cached when it is short: a question's 2,000-character words are folded
    each time, never kept (the cache holds at most 131,072 words of 40 characters or less)."""
    return _fold_cached(word) if len(word) <= MAX_CACHED_WORD else fold(word)


fold_word_cache_info = _fold_cached.cache_info


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
    # One letter is no clue: the « s » of « OpenAI's » is not the French « s' ».
    folded = [fold(w) for w in words(text) if len(w) > 1]
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
    # The stemmer caches what it stems too: longer words (no French word is) are kept as they are.
    stems = iter(_stemmer().stemWords([w for w in kept if len(w) <= MAX_CACHED_WORD]))
    return [next(stems) if len(w) <= MAX_CACHED_WORD else w for w in kept]


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


# fmt: off
_SMALL_NUMBERS = (
    "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze", "treize",
    "quatorze", "quinze", "seize",
)
_TENS = {"vingt": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100}
_ENGLISH = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
# fmt: on
# Numbers written in words (folded), with their value in digits.
NUMBER_WORDS: dict[str, str] = {
    **{w: str(i) for i, w in enumerate(_SMALL_NUMBERS, start=2)},
    **{w: str(n) for w, n in _TENS.items()},
    **{w: str(i) for i, w in enumerate(_ENGLISH, start=2)},
    **{"mille": "1000", "hundred": "100", "thousand": "1000"},
}


def name_words(text: str) -> list[str]:
    """The words of a text as names are written: elisions split off (d'Amazon, l'OpenAI), hyphens
    kept (Jean-Pierre)."""
    return re.findall(r"[\w-]+", re.sub(f"[{APOSTROPHES}]", " ", text))


def written_forms(text: str) -> tuple[set[str], set[str]]:
    """The folded words of three characters or more that a text writes capitalised inside a
    sentence (its first word is capitalised anyway; stopwords are no names), and those it writes in
    lower case. A corpus's names are the words of the first kind never seen of the second."""
    capitalised: set[str] = set()
    lower: set[str] = set()
    for span in sentence_spans(text):
        for i, word in enumerate(name_words(span.text)):
            if len(word) < 3:
                continue
            if word[0].islower():
                lower.add(fold_word(word))
            elif i and NAME.fullmatch(word):
                capitalised.add(fold_word(word))
    return capitalised - _stopwords(), lower
