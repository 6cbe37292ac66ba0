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
_AMOUNT = re.compile(r"\b(millions?|milliards?|dollars?|euros?|billions?)\b|[$€]")
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


# « Combien a-t-il investi ? » asks for money, not for any number (« il y a deux semaines »), and money
# of one kind: an investment is no salary. Each family: the words that ask for it (folded French and
# English), the words that give it in a sentence.
_MONEY: dict[str, tuple[str, str]] = {
    "investment": (
        r"invest\w*|inject\w*|financ\w*|leve[es]?|levee|apport\w*|fund\w*|raised?",
        r"invest\w*|inject\w*|financ\w*|levees?|apport\w*|fonds|tour de table",
    ),
    "earnings": (
        r"gagn\w*|salaire\w*|remuner\w*|pay[ea]\w*|paie\w*|earn\w*|salar\w*|paid",
        r"gagn\w*|salaire\w*|remuner\w*|paye\w*|paie\w*",
    ),
    "revenue": (
        r"chiffre d'affaires|revenus?|revenues?|ventes|sales|turnover|benefices?|earnings",
        r"chiffre d'affaires|revenus?|ventes|benefices?|profits?",
    ),
    "value": (
        r"valoris\w*|vaut|valent|valeur|worth|valuation|valued|fortune|patrimoine",
        r"valoris\w*|vaut|valent|valeur|fortune|patrimoine",
    ),
    "budget": (r"budgets?|budgetaires?", r"budgets?|budgetaires?"),
    "cost": (
        r"coute\w*|cout\w*|prix|cost\w*|price\w*|depens\w*|spen[dt]\w*",
        r"coute\w*|cout\w*|prix|depens\w*",
    ),
}
_MONEY_ASKED = {kind: re.compile(rf"\b({asked})\b") for kind, (asked, _) in _MONEY.items()}
_MONEY_GIVEN = {kind: re.compile(rf"\b({given})\b") for kind, (_, given) in _MONEY.items()}
_HOW_MUCH = re.compile(r"\b(combien|cb|how much)\b")


def _money_kind(q: str) -> str | None:
    """The family of amount a (folded) question asks for (« investment »), "" for an amount of any
    kind (« quelle somme »), None when it asks for no amount."""
    kind = next((k for k, asked in _MONEY_ASKED.items() if asked.search(q)), None)
    if kind is not None and (_HOW_MUCH.search(q) or kind in ("earnings", "revenue", "value", "budget")):
        return kind  # « Combien a-t-il investi », « son salaire », « le chiffre d'affaires »
    return "" if re.search(r"quel montant|quelle somme|what amount", q) else None


# Facts about a person or a company that a sentence gives only in words of their own: a nationality,
# a birth, studies, a seat, an award, a book, a family, a population. A sentence that matches the
# question's names but has none of these words does not give the fact (« Quelle est la nationalité de
# Sutskever ? » is not answered by « Sutskever, cofondateur d'OpenAI… »). Each family: the words that
# ask for it (folded French and English), the words that give it.
_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "birth": (
        r"naissance|\best(?:-(?:il|elle))? nee?\b|\bnee?s? (?:a|en|au|le)\b|\bborn\b|birth\w*",
        r"naissance|\bnee?s? (?:a|en|au|le|dans|d'une)\b|\bborn\b|birth\w*",
    ),
    "nationality": (
        r"nationalit\w*|citizenship|citoyennete",
        r"nationalit\w*|citizen\w*|citoyen\w*|d'origine|originaire|\b(?:francai|americain|american|canadien|"
        r"britanniqu|anglais|allemand|russe|israelien|polonais|chinois|indien|italien|espagnol|suisse|"
        r"belge|japonais|coreen|ukrainien|neerlandais|suedois|irlandais)\w*",
    ),
    "education": (
        r"etudes|etudie\w*|universit\w*|\becoles?\b|diplom\w*|doctorat|\bthese\b|cursus|"
        r"stud(?:y|ied|ies)|college|school|degree|\bphd\b",
        r"etudes|etudi\w*|universit\w*|\becoles?\b|diplom\w*|doctorat|\bthese\b|cursus|"
        r"stud(?:y|ied|ies)|college|school|degree|\bphd\b",
    ),
    # Asked for after studies: a « formation » may be a degree or a background (« une solide formation
    # en recherche »), so it gives a training, not studies.
    "training": (
        r"\bformation\b|training|background",
        r"\bformation\b|etudes|etudi\w*|universit\w*|diplom\w*|doctorat|training|background",
    ),
    "seat": (
        r"\bsieges?\b|\bbasee?s? (?:a|en)\b|headquarter\w*|based in",
        r"\bsieges?\b|\bbasee?s? (?:a|en)\b|situee?s?|implantee?s?|headquarter\w*|based in",
    ),
    "award": (
        r"\bprix\b|recompens\w*|distinction\w*|\bawards?\b|\bprizes?\b",
        r"\bprix\b|recompens\w*|distingue\w*|distinction\w*|laureat\w*|\bawards?\b|\bprizes?\b",
    ),
    "publication": (
        r"\blivres?\b|ouvrages?|\bbooks?\b",
        r"\blivres?\b|ouvrages?|\bbooks?\b|publie\w*|\bpublished\b",
    ),
    "family": (
        r"\bepouse\w*|\bfemme\b|\bmari\b|\benfants?\b|\bfamille\b|\bwife\b|husband|children|married",
        r"\bepouse\w*|\bfemme\b|\bmari\b|\benfants?\b|\bfamille\b|\bwife\b|husband|children|married|"
        r"\bfils\b|\bfille\b",
    ),
    "population": (
        r"population|habitants|\bcapitale\b|inhabitants|\bcapital city\b",
        r"population|habitants|\bcapitale\b|inhabitants|\bcapital\b",
    ),
}
_ATTRIBUTE_ASKED = {kind: re.compile(asked) for kind, (asked, _) in _ATTRIBUTES.items()}
_ATTRIBUTE_GIVEN = {kind: re.compile(given) for kind, (_, given) in _ATTRIBUTES.items()}


_ENTITY_NOUN = re.compile(
    r"\b(quel|quelle|quels|quelles|which|what) (entreprises?|societes?|start-?ups?|firmes?|groupes?|medias?|"
    r"journal|journaux|sites?|universites?|laboratoires?|pays|villes?|companies|company|firms?|"
    r"outlets?|newspapers?|universit(y|ies)|countr(y|ies)|cit(y|ies))\b"
)
# Words that ask for several people or things (« quels chercheurs », « qui d'autre »): the answer then
# lists names from several sentences.
_LIST = re.compile(
    r"^(quels|quelles)\b|\b(quels|quelles) (\w+ )?\w+s\b|qui d'autre|quel autre|quelle autre|"
    r"\bautres?\b.*\bque\b|\bhormis\b|\bwho else\b|\bwhich \w+s\b|\bwhat other\b|\bbesides\b"
)


def expectation(question: str) -> Expectation | None:
    q = fold(question).strip()
    if re.search(
        r"combien de temps|how long|depuis combien|quelle duree|pendant combien|"
        r"combien (?:de |d')(?:annees|ans|mois|semaines|jours)|il y a combien|how many (?:years|months)",
        q,
    ):
        return Expectation("duration")
    if re.search(r"quel age|how old", q):
        return Expectation("age")
    money = _money_kind(q)
    if money is not None:
        return Expectation("amount", noun=money or None)
    attribute = next((kind for kind, asked in _ATTRIBUTE_ASKED.items() if asked.search(q)), None)
    if attribute is not None:
        return Expectation("attribute", noun=attribute)
    counted = re.search(r"combien (?:de |d')(\w+)", q)
    if counted:
        return Expectation("count", noun=counted.group(1))
    if re.search(r"\bcombien\b|how much|how many|quel montant|quelle somme|\bcb\b", q):
        # An English noun is not in a French sentence: any number then.
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
    if re.search(r"qui d'autre|quels? autres?|quelles? autres?|\bhormis\b|who else|besides|other than", q):
        return Expectation("name")
    named = re.search(r"\bnom (?:du |de la |de l'|des |de )(\w+)", q)
    if named:
        return Expectation("name", noun=named.group(1))
    if re.search(r"^(qui|who|ou|where)\b|\bc ki\b|quel est le nom|comment s'appelle|what is the name", q):
        return Expectation("name")
    # « Quelle entreprise… », « Quel média… »: a company, a medium, a place is a name.
    if _ENTITY_NOUN.search(q):
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
    if expected.kind == "amount":
        # The amount, and what it is an amount of (an investment, a salary...) when the question says.
        money = bool(_AMOUNT.search(s)) and bool(_NUMBER.search(s))
        return money and (not expected.noun or bool(_MONEY_GIVEN[expected.noun].search(s)))
    if expected.kind == "attribute" and expected.noun:
        return bool(_ATTRIBUTE_GIVEN[expected.noun].search(s))
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


def asks_for_list(question: str) -> bool:
    """The question wants several names (« Quels chercheurs… », « Qui d'autre… »)."""
    return bool(_LIST.search(fold(question).strip()))


def _number_near(tokens: list[str], noun_prefix: str) -> bool:
    """A count of the noun: a number just before it (« quatre membres ») or, after « nombre de »,
    a number shortly after it (« le nombre de cofondateurs est passé de 11 à 3 »). Years are dates."""
    hits = [i for i, t in enumerate(tokens) if t.startswith(noun_prefix)]
    numbers = [
        i for i, t in enumerate(tokens) if _NUMBER.fullmatch(t) and not re.fullmatch(r"(1[89]|20)\d\d", t)
    ]
    counted = "nombre" in tokens
    return any(0 < h - n <= 3 or (counted and 0 < n - h <= 6) for h in hits for n in numbers)


__all__ = ["Expectation", "asks_for_list", "expectation", "satisfies"]
