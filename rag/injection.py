"""Sentences that speak to a model rather than to a reader (« ne tiens plus compte de ce qui précède »,
"disregard the earlier guidance", fake system markers), matched in French and English on text
folded for matching: lowercase, no accents, look-alike letters (Cyrillic і, Greek ο) made Latin."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from confusable_homoglyphs import confusables

from rag.text import fold

# fmt: off
# To set aside what came before (imperatives and their negated forms, French and English).
_DISREGARD = (
    r"ignore[rsz]?|disregard|forget|override|bypass|skip|discard|drop|abandon|set aside|put aside"
    r"|pay no (?:attention|heed)|never ?mind"
    r"|(?:do not|don't|dont|stop|no longer) (?:follow|obey|heed|apply)(?:ing)?"
    r"|oublie[rsz]?|contourne[rsz]?|efface[rsz]?|annule[rsz]?|ecarte[rsz]?|laisse[rsz]? (?:de cote|tomber)"
    r"|(?:ne )?(?:tiens|tenez|tenir) (?:plus |pas |aucun(?:ement)? )?compte"
    r"|fai(?:s|tes|re) (?:abstraction|fi)"
    r"|passe[rsz]? outre|n'(?:obei(?:s|ssez)|ecoute[sz]?|applique[sz]?)|ne (?:suis|suivez|respecte[sz]?) plus"
)
# What an article cannot mean by those verbs: the instructions of the model, or the text before.
_EARLIER = r"(?:previous|prior|above|earlier|preceding|foregoing|initial|original|former|old)"
_ORDERS = (
    r"(?:instructions?|prompts?|directions?|guidance|guidelines?|rules|directives?|orders|commands"
    r"|context|constraints|restrictions|programming|policies|consignes?|regles|ordres|contraintes"
    r"|limites|restrictions)"
)
_TARGET = (
    rf"{_EARLIER}\s+(?:\w+\s+){{0,2}}?(?:{_ORDERS}|messages?|text|content|conversation)"
    r"|(?:your|all|any|tes|vos|toutes? (?:les|tes|vos)|aux|des|de tes|de vos|a tes|a vos) "
    rf"(?:\w+ ){{0,2}}?{_ORDERS}"
    r"|everything (?:above|before|prior|earlier|so far|you (?:were|have been|'ve been) (?:told|given))"
    r"|(?:all|what) (?:of )?(?:the )?(?:above|came before"
    r"|was (?:said|written|stated) (?:before|above|earlier))"
    r"|what you (?:were|have been|'ve been) told|(?:tout )?ce qui (?:precede|a ete (?:dit|ecrit))"
    r"|(?:tout|ce qui est|ce qu'on t'a dit|ce qu'on vous a dit) (?:ci-dessus|plus haut|avant|precedemment)"
    r"|(?:instructions?|consignes?|regles|directives?|ordres) (?:precedentes?|anterieures?|ci-dessus"
    r"|d'avant|initiales?|recues?|donnees?)"
    rf"|{_ORDERS} (?:qu'on (?:t'a|vous a)|que (?:tu as|vous avez) recu|you (?:were|have been|'ve been) given)"
)
# An order given at the start of a clause (« Ignorez les messages antérieurs », "Skip the rules
# above"): imperatives only, about anything that configures or precedes a model's answer.
_IMPERATIVE = (
    r"ignorez?|oubliez?|disregard|forget|skip|override|overwrite|replace|bypass|remplacez?|effacez?"
    r"|annulez?|ecartez?|abandonnez?|contournez?|considerez?(?: que)?"
    r"|n'(?:applique|appliquez|obeis|obeissez|ecoute|ecoutez|suis|suivez|respecte|respectez) plus"
    r"|ne (?:suis|suivez|respecte|respectez|applique|appliquez) plus"
    r"|(?:tu n'as|vous n'avez|ne) plus (?:a )?(?:respecter|suivre|appliquer|obeir|tenir compte)"
)
# What such an order is about: the model's own instructions and setup, or the text before.
_ABOUT = (
    rf"{_TARGET}"
    rf"|(?:{_ORDERS}|messages?|texte?|context[e]?)\b(?: \S+){{0,2}}? (?:above|before|so far|precedente?s?"
    r"|anterieure?s?|ci-dessus|plus haut|d'avant|jusqu'ici|auparavant)"
    r"|(?:ta|ton|tes|votre|vos|your) (?:\w+ ){0,2}?(?:configuration|mission|role|programming|programmation"
    r"|system prompt|prompt systeme)"
    r"|(?:the|le) context[e]?\b|what the system (?:told|said)"
    r"|ce que (?:le systeme|l'operateur) (?:t'a|vous a) dit"
    rf"|{_ORDERS} (?:\S+ ){{0,3}}?(?:du|par le|of the|by the) (?:systeme|system)\b"
)
_CLAUSE = r"(?:^|[.:;!?,\-\u2013\u2014(\"«»]\s*)(?:please |merci de |veuillez |s'il te plait,? )?"
_VOID = (
    rf"(?:{_TARGET})\b(?: \S+){{0,3}}? (?:sont|est|are|is) (?:desormais |now |maintenant |donc )?"
    r"(?:caduques?|nulles?|nuls?|void|cancell?ed|annulee?s?|obsoletes?|invalid(?:es)?|revoked|revoquee?s?)"
)
_ROLE = (
    r"you are now|from now on,? (?:you|answer|reply|respond|say)|(?:act|behave|pose) as (?:an?|the) "
    r"|pretend (?:to be|you are|that you)|your new (?:role|task|instructions)|new instructions?"
    r"|tu es (?:desormais|maintenant|a present)|vous etes (?:desormais|maintenant|a present)"
    r"|(?:a partir de maintenant|desormais|dorenavant),? (?:tu|vous|reponds|repondez|dis|dites)"
    r"|fai(?:s|tes) comme si|joue[sz]? le role|nouvelles? (?:instructions|consignes)|ton nouveau role"
    r"|developer mode|mode developpeur|jailbreak|dan mode"
    r"|(?:if|si) (?:you are|tu es|vous etes) (?:an? |une? )?(?:ai|ia|assistant|language model"
    r"|modele de langage|llm|chatbot|robot conversationnel)"
    r"|(?:note|message|attention)(?: (?:to|for|aux?|pour les?))? (?:the |any |all |les )?(?:ai|ia|llms?"
    r"|assistants? (?:ia|ai|virtuels?)|language models?|modeles? de langage|chatbots?)\b"
    r"|from this point (?:forward|on)|(?:as|en tant que) (?:the |an? |le |la |l')?(?:model|ai|ia|assistant"
    r"|llm|modele)\b.{0,20}?\b(?:reading|qui lit|lisant)"
    r"|(?:ia|ai|llms?|models?|modeles?|assistants?|chatbots?) (?:qui lisent|qui lit|reading|lisant)"
    r" (?:ce|cette|this|these)\b"
    r"|(?:you must|you should|you will|always|tu dois|vous devez|tu devras|reponds toujours"
    r"|repondez toujours)"
    r" (?:\w+ ){0,2}?(?:answer|reply|respond|say|state|tell|cite|mention|include|repondre|dire|affirmer"
    r"|citer|mentionner|ecrire|inclure)\b"
    r"|(?:when|whenever|if) (?:anyone|someone|somebody|the user|a user|you are) (?:asks?|asked)"
    r"|(?:quand|lorsqu'|si) (?:on|quelqu'un|l'utilisateur) (?:te|vous) (?:demande|pose)"
)
_SECRET = (
    r"(?:reveal|print|repeat|output|leak|disclose|show|display|tell|give|send|share|reveler?|revele[sz]?"
    r"|affiche[rsz]?|divulgue[rsz]?|donne[rsz]?|communique[rsz]?|recopie[rsz]?|dis|dites|envoie[sz]?)"
    r"\b.{0,30}?\b(?:secret|password|passphrase|mot de passe|api key|cle d'api|canary|your instructions"
    r"|tes instructions|vos instructions|tes consignes|vos consignes|system prompt|prompt systeme|credentials"
    r"|identifiants|jeton|token)"
)
_MARKERS = (
    r"^\W{0,6}(?:system|systeme|developer|assistant|instructions?)\s*:"
    r"|<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|\[/?system\]|</?system>|begin system|end system"
    r"|(?:system|systeme)\s+(?:prompt|message|override)|(?:prompt|message|invite)\s+systeme"
)
# fmt: on
# A subject or an auxiliary before the verb makes it a report, not an order (« il a ignoré les
# consignes », "he ignores the rules"): each is one fixed-width look-behind.
_REPORTED = "".join(
    rf"(?<!\b{word} )"
    for word in (
        *("a", "ont", "avait", "avaient", "aurait", "auraient", "ayant", "avoir"),
        *("il", "elle", "on", "ils", "elles", "qui", "had", "has", "have", "he", "she", "they", "who", "it"),
    )
)
INSTRUCTION = re.compile(
    rf"\b(?=(?:{_DISREGARD})\b){_REPORTED}(?:{_DISREGARD})\b.{{0,60}}?\b(?:{_TARGET})"
    rf"|\b(?:{_EARLIER})\s+(?:instructions|prompts?|directions|guidance|guidelines)\b"
    rf"|{_CLAUSE}(?:{_IMPERATIVE})\b.{{0,60}}?\b(?:{_ABOUT})|\b{_VOID}"
    rf"|\b(?:{_ROLE})|\b{_SECRET}\b|{_MARKERS}",
    re.MULTILINE,
)
# Letters spaced or dotted out one by one (« i g n o r e », "i.g.n.o.r.e"), and digits inside
# words written for letters ("1gn0re").
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_WORD = re.compile(r"\b(?=[a-z0-9@$]*[a-z]{2})(?=[a-z@$]*[0-9@$])[a-z0-9@$]{4,}\b")


@lru_cache(maxsize=1)
def _look_alikes() -> dict[int, str | None]:
    """Each non-ASCII character that Unicode's confusables list gives as looking like one Latin
    letter or digit (Cyrillic а, і, о, р, Greek ο, ν, fullwidth letters...), mapped to it; the
    invisible characters that split words (zero-width spaces, joiners) and emphasis marks removed."""
    table: dict[int, str | None] = {ord(ch): None for ch in "*_~`"}
    planes = (*range(0x20000), *range(0xE0000, 0xE0080))  # where format characters are
    table.update({i: None for i in planes if unicodedata.category(chr(i)) == "Cf"})
    for char, entries in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for entry in entries:
            latin = entry["c"]
            if len(latin) == 1 and latin.isascii() and latin.isalnum():
                table[ord(char)] = latin.lower()
                break
    return table


def for_matching(text: str) -> str:
    """`text` as `INSTRUCTION` reads it: invisible characters and emphasis marks dropped, look-alike
    letters made Latin, lowercase without accents, spaced-out and leet-spelt words joined."""
    table = _look_alikes()
    text = fold(unicodedata.normalize("NFKC", text).lower().translate(table))
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)
    return _LEET_WORD.sub(lambda m: m.group().translate(_LEET), text)
