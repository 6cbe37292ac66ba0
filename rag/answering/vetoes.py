"""Vetoes that read the question's French: the relation asked of its names (verb families) and the
main clause of the sentence holding a typed answer, measured by `rag.answering.answerability`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rag.text import content_part, fold, fold_word, is_stopword, words

if TYPE_CHECKING:
    from rag.answering.reading import Candidate, Reading

# « Anthropic, créée par d'anciens d'OpenAI, a obtenu… »: the subject, then a clause about it that
# starts in lower case (« L'ancien cadre d'OpenAI, Jan Leike, a annoncé… » keeps its name).
_APPOSITION = re.compile(r"^([^,]{1,60}), [a-zà-ÿ][^,]*, ")
# « rejoint » and « rejoindre », « remplacé » and « remplacer » share their first five letters.
RELATION_PREFIX = 5
# Words of a question that place the fact in time or space without naming a relation.
_LINKS = frozenset(
    re.findall(
        r"\w+",
        "chez apres avant depuis pendant entre selon aujourd actuellement actuel actuelle maintenant "
        "encore toujours deja aussi egalement autre autres dans pour avec sans vers",
    )
)
# Verbs and nouns of one relation, by their first five (folded) letters: a question's « finance » is
# answered by « soutenu par », its « quitté » by « a démissionné » or « son départ ». General French
# news vocabulary (moves, money, leadership, founding, appointments, dismissals, leave, work, buying).
_FAMILIES = (
    "quitt depar parti part demis",
    "rejoi arriv embau recru integ",
    "finan soute souti inves injec apport appui",
    "dirig codir pilot tete chef respo",
    "fonda fonde cofon",  # not « créer »: OpenAI « a créé un comité »
    "rempl succe nomme nomma",
    "licen evinc desti renvo limog",
    "vacan conge sabba",
    "trava bosse bossa emplo",
    "rache achet acqui",
    "criti repro denon",
)
RELATION_FAMILIES: dict[str, frozenset[str]] = {
    stem: frozenset(family.split()) for family in _FAMILIES for stem in family.split()
}
_ANCHORS = frozenset(("depuis", "apres", "avant", "pendant"))


def relation_words(reading: Reading) -> list[str]:
    """The question's words that say what is asked of its names (« racheté » in « Qui a racheté
    Anthropic ? »), folded: not its names, nor a stopword, nor a word of place or time."""
    names = {w for group in reading.names for w in group}
    asked = words(fold(content_part(reading.question)))
    # « depuis son départ », « après sa démission »: an event that dates the fact, not the relation.
    anchored = {i for i, w in enumerate(asked) if any(a in _ANCHORS for a in asked[max(i - 2, 0) : i])}
    return [
        w
        for i, w in enumerate(asked)
        if len(w) > 3 and w not in names and not is_stopword(w) and w not in _LINKS and i not in anchored
    ]


def relation_missing(reading: Reading, chosen: Sequence[Candidate]) -> float:
    """1 when the sentences that answer (those holding a name for « qui », any chosen one for
    « pourquoi ») and the ones before them use no word of the question's relation, nor of its family
    (`RELATION_FAMILIES`): « Pourquoi X a-t-il rejoint Y ? » is not answered by why X left."""
    expected = reading.expected
    if expected is None or expected.noun or expected.kind not in ("name", "cause"):
        return 0.0
    relation = [w[:RELATION_PREFIX] for w in relation_words(reading)]
    answering = [c for c in chosen if c.typed] if expected.kind == "name" else list(chosen)
    if not relation or not answering:
        return 0.0
    around = {w[:RELATION_PREFIX] for c in answering for w in c.words | c.before}
    return 0.0 if any(around & RELATION_FAMILIES.get(w, frozenset((w,))) for w in relation) else 1.0


def main_clause(text: str) -> str:
    """The sentence without the clause set off by commas after its subject (« X, créée par Y, a reçu
    Z » -> « X a reçu Z »): what the sentence says of its subject."""
    return _APPOSITION.sub(r"\1 ", text)


def typed_names(reading: Reading, chosen: Sequence[Candidate]) -> float:
    expected = reading.expected
    if expected is None or not expected.strict or not reading.names:
        return 0.0
    typed = next((c for c in chosen if c.typed), None)
    if typed is None:
        return 1.0
    around = {fold_word(w) for w in words(main_clause(typed.quote.quote))} | typed.before
    # Any name missing: half the names right is the wrong fact (Amazon's money in Anthropic for
    # Amazon's money in OpenAI).
    return 1.0 if any(not (group & around) for group in reading.names) else 0.0
