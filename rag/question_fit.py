"""Does a sentence hold as an answer to the question asked, beyond being close to its passage? A
question is no answer; a bare answer (« Anthropic ») is checked with the question it answers; a
sentence about someone other than the question's subject, or about a topic the articles never
mention (« le salaire »), does not answer it; and what a sentence ties together (its names and most
of its words) must stand together in one sentence of the passage, or two in a row."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answering.answer_types import expectation
from rag.text import (
    NAME,
    NUMBER_WORDS,
    fold,
    is_stopword,
    looks_english,
    name_words,
    sentence_spans,
    tokens,
    words,
)

BARE_WORDS = 4  # an answer of at most this many words is read with its question
UNIT_COVERAGE = 0.75  # share of a sentence's content words one unit must hold (fitted on dev sentences)

# « a-t-il », « travaillait-elle »: an inverted subject (not after a quote: « », dit-il »).
_INVERSION = re.compile(r"(?<![»,]\s)\b\w+-(?:t-)?(?:il|elle|ils|elles|on)\b", re.IGNORECASE)
_ASKED_SUBJECT = re.compile(
    r"((?:[A-ZÀ-ÖØ-Þ][\w'’-]+\s+){1,3})(?:\w+-(?:t-)?(?:il|elle)|est-(?:il|elle)|a-t-(?:il|elle))\b"
)
_DETERMINED = re.compile(
    r"\b(?:le|la|les|l['’]|un|une|des|du|son|sa|ses|leur|leurs|ce|cet|cette|ces)\s*(\w{3,})", re.IGNORECASE
)
_LABEL = re.compile(r"^\s*(question|query)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    """A piece of a passage a claim may rest on: one sentence or two in a row, with its folded name
    words and its tokens."""

    text: str
    names: frozenset[str]
    tokens: frozenset[str]


def units(passages: Sequence[str], *, pairs: bool = True) -> list[Unit]:
    """Each sentence of the passages and (with `pairs`) each pair of sentences in a row."""
    found: list[Unit] = []
    for passage in passages:
        sentences = [s.text for s in sentence_spans(passage)]
        texts = list(sentences)
        if pairs:
            texts += [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
        for text in dict.fromkeys(texts):
            found.append(Unit(text, frozenset(fold(w) for w in name_words(text)), frozenset(tokens(text))))
    return found


def entities(text: str, known: frozenset[str]) -> list[tuple[str, ...]]:
    """The names of a text, consecutive capitalised words grouped (« Jan Leike »), folded. The first
    word counts only when it is a known name or has inner capitals (OpenAI)."""
    groups: list[list[str]] = []
    previous = -2
    for i, word in enumerate(name_words(text)):
        folded = fold(word)
        if not NAME.fullmatch(word) or is_stopword(folded):
            continue
        if i == 0 and folded not in known and not any(c.isupper() for c in word[1:]):
            continue
        if i == previous + 1 and groups:
            groups[-1].append(folded)
        else:
            groups.append([folded])
        previous = i
    return [tuple(g) for g in groups]


def _named_in(entity: tuple[str, ...], names: frozenset[str]) -> bool:
    return any(word in names for word in entity if len(word) > 2) or all(w in names for w in entity)


def topic_tokens(text: str) -> set[str]:
    """The tokens of the nouns a text introduces with a determiner (« le salaire », « son bonus »)."""
    return set(tokens(" ".join(m.group(1) for m in _DETERMINED.finditer(text))))


def is_question(claim: str) -> bool:
    """A question, or a line labelled « Question : », is no answer."""
    return claim.rstrip().endswith("?") or bool(_INVERSION.search(claim) or _LABEL.match(claim))


def cut_off(claim: str) -> bool:
    """A sentence whose last word is a lone letter and no stop: the LLM was cut off (« La société a é »)."""
    last = re.findall(r"\w+", claim)[-1:]
    return bool(last) and len(last[0]) == 1 and last[0].isalpha() and claim.rstrip()[-1:] not in ".!?…»)"


def cross_lingual(claim: str, passages: Sequence[str]) -> bool:
    """An English sentence on French passages (or the reverse): their words cannot be compared."""
    return looks_english(claim) != looks_english(" ".join(passages))


def _has_number(text: str) -> bool:
    return bool(re.search(r"\d", text)) or any(w in NUMBER_WORDS for w in words(fold(text)))


def asked_subject(question: str) -> tuple[str, ...] | None:
    """The name a question asks about when it inverts its subject: « Quand Schulman a-t-il… »."""
    match = _ASKED_SUBJECT.search(question)
    if not match:
        return None
    words = [fold(w) for w in name_words(match.group(1)) if NAME.fullmatch(w) and not is_stopword(fold(w))]
    return tuple(words) or None


def best_unit_coverage(
    claim_tokens: set[str],
    claim_entities: Sequence[tuple[str, ...]],
    pieces: Sequence[Unit],
    context: frozenset[str],
) -> float:
    """The largest share of the claim's content words that one unit holds among the units that name
    all the claim's names (the cited articles' titles name things for every unit)."""
    best = 0.0
    for unit in pieces:
        names = unit.names | context
        if all(_named_in(e, names) for e in claim_entities):
            best = max(best, len(claim_tokens & unit.tokens) / len(claim_tokens) if claim_tokens else 1.0)
    return best


def repeated_names(claim_entities: Sequence[tuple[str, ...]], passages: Sequence[str]) -> list[str]:
    """Names a claim repeats that no sentence of the passages repeats as often: « Amazon a obtenu un
    investissement d'Amazon » from « Anthropic a obtenu un investissement d'Amazon »."""
    counts = Counter(claim_entities)
    repeated = [entity for entity, n in counts.items() if n > 1]
    if not repeated:
        return []
    sentences = [Counter(fold(w) for w in name_words(s.text)) for p in passages for s in sentence_spans(p)]
    return [
        " ".join(entity)
        for entity in repeated
        if not any(max(found[w] for w in entity) >= counts[entity] for found in sentences)
    ]


def question_failures(
    claim: str,
    passages: Sequence[str],
    context: str,
    question: str,
    *,
    known: frozenset[str],
    known_term: Callable[[str], bool],
) -> list[str]:
    """What keeps `claim` from holding as an answer to `question` given `passages` (and the
    titles in `context`); empty when nothing does."""
    if is_question(claim):
        return ["a question, not an answer"]
    if cut_off(claim):
        return ["cut off in the middle of a word"]
    claim_entities = entities(claim, known)
    claim_tokens = set(tokens(claim))
    question_tokens = set(tokens(question))
    pieces = units(passages)
    titles = frozenset(fold(w) for w in name_words(context))
    reasons: list[str] = []
    unknown = sorted(t for t in topic_tokens(claim) & question_tokens if not known_term(t))
    if unknown:
        reasons.append("the articles never mention what was asked: " + ", ".join(unknown))
    if len(name_words(claim)) <= BARE_WORDS:
        if claim_tokens <= question_tokens:
            return [*reasons, "repeats the question instead of answering it"]
        asked = [
            e
            for e in entities(question, known)
            if not _named_in(e, frozenset(w for c in claim_entities for w in c))
        ]
        # One sentence must tie a bare answer to the question: two side by side often name both.
        single = units(passages, pairs=False)
        if best_unit_coverage(claim_tokens, [*claim_entities, *asked], single, titles) < 1.0:
            reasons.append("no sentence of the passage ties the answer to what the question asks")
        return reasons
    subject = asked_subject(question)
    claim_words = frozenset(w for e in claim_entities for w in e)
    if subject and not _named_in(subject, claim_words) and claim_entities:
        first = fold(name_words(claim)[0]) if name_words(claim) else ""
        if first in claim_entities[0] and not _named_in(claim_entities[0], frozenset(subject)):
            reasons.append(f"about {' '.join(claim_entities[0])}, not {' '.join(subject)} as asked")
    counted = expectation(question)
    noun = counted.noun if counted and counted.kind == "count" else None
    if noun and _has_number(claim) and not any(w.startswith(noun[:5]) for w in words(fold(claim))):
        reasons.append(f"gives a number, not one of the « {noun} » asked")
    twice = repeated_names(claim_entities, passages)
    if twice:
        reasons.append(f"names {', '.join(twice)} more often than any sentence of the passage does")
    coverage = best_unit_coverage(claim_tokens, claim_entities, pieces, titles)
    if coverage < UNIT_COVERAGE and not cross_lingual(claim, passages):
        reasons.append(f"no sentence of the passage holds it together: coverage {coverage:.2f}")
    return reasons
