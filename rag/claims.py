"""What a sentence claims that the text it cites must agree on: its numbers, dates and amounts
(`quantities`), the names it gives (`claim_names`) and what it negates (`negation_scopes`). Used by
the grounding checker (`rag.grounding`)."""

from __future__ import annotations

import re

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_FRENCH

from rag.text import NAME, NUMBER_WORDS, fold, name_words, tokens

NEGATION_SCOPE = 4  # content words after a negation that it bears on

_MONTHS_FR = "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre"
_MONTHS_EN = "january february march april _ june july august september october november december"
_DAYS_FR = "lundi mardi mercredi jeudi vendredi samedi dimanche"
_DAYS_EN = "monday tuesday wednesday thursday friday saturday sunday"
# Words that carry a date or an amount, mapped to one language-neutral tag per meaning.
QUANTITY_WORDS: dict[str, str] = {
    **{w: f"month{i}" for names in (_MONTHS_FR, _MONTHS_EN) for i, w in enumerate(names.split(), 1)},
    **{w: f"day{i}" for names in (_DAYS_FR, _DAYS_EN) for i, w in enumerate(names.split(), 1)},
    **{w: "x1e6" for w in ("million", "millions")},
    **{w: "x1e9" for w in ("milliard", "milliards", "billion", "billions")},
    **{w: "usd" for w in ("dollar", "dollars", "$")},
    **{w: "eur" for w in ("euro", "euros", "€")},
}
_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+(?:[.,]\d+)?|[$€]")
_WORD = re.compile(r"[\w$€]+")
_NEGATION = frozenset({"ne", "pas", "jamais", "aucun", "aucune", "rien", "guere", "ni", "not", "never", "no"})
# Function words, folded; negations are not among them (they are what a claim must keep).
STOPWORDS = frozenset(fold(w) for w in (*STOPWORDS_FRENCH, *STOPWORDS_EN)) - _NEGATION


def quantities(text: str) -> set[str]:
    """Numbers (digits or words), months, weekdays, magnitudes and currencies, normalised."""
    folded = fold(text)
    found = {re.sub(r"[ \u00a0\u202f]", "", m).replace(",", ".") for m in _NUMBER.findall(folded)}
    found = {QUANTITY_WORDS.get(q, q) for q in found}
    for word in _WORD.findall(folded):
        if word in NUMBER_WORDS:
            found.add(NUMBER_WORDS[word])
        elif word in QUANTITY_WORDS:
            found.add(QUANTITY_WORDS[word])
    return found


def claim_names(sentence: str, known: frozenset[str] = frozenset()) -> list[str]:
    """Capitalised words of a sentence that name someone or something. The first word, capitalised
    anyway, counts only when it is a known name or has inner capitals (OpenAI)."""
    found: list[str] = []
    words = name_words(sentence)
    for i, word in enumerate(words):
        if not NAME.fullmatch(word) or fold(word) in STOPWORDS:
            continue
        if i == 0 and fold(word) not in known and not any(c.isupper() for c in word[1:]):
            continue
        found.append(word)
    return found


def negation_scopes(text: str) -> list[set[str]]:
    """For each negation (ne...pas, n'...plus, jamais, aucun, not, never), the stems it bears on:
    the words between its parts and the next few content words."""
    folded = re.sub(r"\bn'", "ne ", fold(text)).replace("n't", " not")
    words = re.findall(r"\w+", folded)
    scopes: list[set[str]] = []
    i = 0
    while i < len(words):
        if words[i] not in _NEGATION:
            i += 1
            continue
        end = i
        while True:  # ne ... pas: merge cues a few words apart into one negation
            nxt = next((j for j in range(end + 1, min(end + 4, len(words))) if words[j] in _NEGATION), None)
            if nxt is None:
                break
            end = nxt
        if end == i and words[i] == "ne" and {"que", "qu"} & set(words[i + 1 : i + 5]):
            i += 1  # ne ... que means "only", not a negation
            continue
        inside = [w for w in words[i + 1 : end] if w not in _NEGATION]
        after = [w for w in words[end + 1 :] if w not in STOPWORDS and w not in _NEGATION][:NEGATION_SCOPE]
        scopes.append(set(tokens(" ".join(inside + after))))
        i = end + 1
    return scopes
