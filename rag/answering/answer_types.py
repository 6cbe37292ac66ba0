"""What kind of answer a question expects (a duration, an amount, a date, a name, a cause), and
whether a sentence can supply it. Used by the extractive answerer to rank and to refuse."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text import NAME, NUMBER_WORDS, fold, words

_NUMBERS = r"\d+|" + "|".join(NUMBER_WORDS)  # a number in digits or in words
_NUMBER = re.compile(rf"\b({_NUMBERS})\b|\d")
_UNITS = (
    r"an|ans|annee|annees|mois|semaine|semaines|jour|jours|heure|heures|decennie|decennies|"
    r"year|years|month|months|week|weeks|day|days"
)
_DURATION = re.compile(rf"\b({_NUMBERS}|plusieurs|quelques)\b\W+(\w+\W+)?({_UNITS})\b|decennie")
_AGE = re.compile(rf"\b({_NUMBERS})\b\W+ans\b|years old")
_DATE = re.compile(
    r"\b(1[89]|20)\d\d\b|janvier|fevrier|\bmars\b|avril|\bmai\b|juin|juillet|\baout\b|septembre|"
    r"octobre|novembre|decembre|january|february|march|april|june|july|august|september|october|"
    r"november|december|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|il y a|derniere?\b|"
    r"l'automne|l'ete|hier|aujourd'hui"
)
_CAUSE = re.compile(
    r"parce qu|\bcar\b|en raison|a cause|pour avoir|affirmant|critiquant|expliqu|desaccord|"
    r"preoccupation|because|due to|desir|vouloir|souhait|priorit|afin de|pour se|suite a|en reponse"
)


@dataclass(frozen=True)
class Expectation:
    """One requirement on an answer sentence; `strict` ones lower a sentence that misses them."""

    kind: str
    noun: str | None = None
    strict: bool = True


def expectation(question: str) -> Expectation | None:
    q = fold(question).strip()
    if re.search(r"combien de temps|how long|depuis combien|quelle duree|pendant combien", q):
        return Expectation("duration")
    if re.search(r"quel age|how old", q):
        return Expectation("age")
    counted = re.search(r"combien (?:de |d')(\w+)|how many (\w+)", q)
    if counted:
        return Expectation("count", noun=counted.group(1) or counted.group(2))
    if re.search(r"\bcombien\b|how much|quel montant|quelle somme|\bcb\b", q):
        return Expectation("number")
    if re.search(r"^(quand|when)\b|\bquand\b|en quelle annee|quelle date|quel jour|what year|\bqd\b", q):
        return Expectation("date")
    if re.search(r"^(pourquoi|why)\b|\bpourquoi\b|\bpk\b|\bpq\b|pour quelle raison", q):
        return Expectation("cause", strict=False)
    role = re.search(
        r"\bqui (?:est|etait|sera) (?:le |la |l')(?:(?:nouveau|nouvelle|premier|premiere|actuel|"
        r"actuelle|ancien|ancienne) )?(\w+)",
        q,
    )
    if role:
        return Expectation("name", noun=role.group(1))
    named = re.search(r"\bnom (?:du |de la |de l'|des |de )(\w+)", q)
    if named:
        return Expectation("name", noun=named.group(1))
    if re.search(r"^(qui|who|ou|where)\b|\bc ki\b|quel est le nom|comment s'appelle|what is the name", q):
        return Expectation("name")
    return None


def satisfies(expected: Expectation, sentence: str, question: str) -> bool:
    s = fold(sentence)
    if expected.kind == "duration":
        return bool(_DURATION.search(s))
    if expected.kind == "age":
        return bool(_AGE.search(s))
    if expected.kind == "number":
        return bool(_NUMBER.search(s))
    if expected.kind == "count" and expected.noun:
        return _number_near(words(s), expected.noun[:5])
    if expected.kind == "date":
        return bool(_DATE.search(s))
    if expected.kind == "cause":
        return bool(_CAUSE.search(s))
    if expected.kind == "name":
        asked = set(words(fold(question)))
        found = [fold(m) for i, m in enumerate(NAME.findall(sentence)) if i or not sentence.startswith(m)]
        new = {w for m in found for w in words(m) if w not in asked and len(w) > 1}
        if not expected.noun:
            return bool(new)
        # « Qui est le PDG ? »: the name must stand next to the role it answers.
        tokens = words(s)
        roles = [i for i, t in enumerate(tokens) if t.startswith(expected.noun[:5])]
        return any(abs(i - j) <= 4 for i in roles for j, t in enumerate(tokens) if t in new)
    return True


def _number_near(tokens: list[str], noun_prefix: str) -> bool:
    """A count of the noun: a number just before it (« quatre membres ») or, after « nombre de »,
    a number shortly after it (« le nombre de cofondateurs est passé de 11 à 3 »). Years are dates."""
    hits = [i for i, t in enumerate(tokens) if t.startswith(noun_prefix)]
    numbers = [
        i for i, t in enumerate(tokens) if _NUMBER.fullmatch(t) and not re.fullmatch(r"(1[89]|20)\d\d", t)
    ]
    counted = "nombre" in tokens
    return any(0 < h - n <= 3 or (counted and 0 < n - h <= 6) for h in hits for n in numbers)


__all__ = ["Expectation", "expectation", "satisfies"]
