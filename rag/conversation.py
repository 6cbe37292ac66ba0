"""Follow-up questions: turn the last message of a conversation into a standalone question.

Deterministic in extractive mode: an elliptical follow-up (« Et Schulman ? ») takes the previous
question with its subject replaced; a follow-up that points back (« Et lui, ... ? ») gets the
previous subject written in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.errors import InvalidQuestionError
from rag.text import CAPITALS, fold

_LEAD = re.compile(r"^\s*(?:et|and|puis|mais|ok|d'accord)\b[\s,]*", re.IGNORECASE)
_POINTING = re.compile(
    r"\b(lui|il|elle|ils|elles|eux|celui-ci|celle-ci|ce dernier|cette derniere|son|sa|ses|leur|"
    r"leurs|he|she|him|her|his|they|them|their)\b"
)
_ENTITY = re.compile(rf"\b[{CAPITALS}][\w’'-]*(?:\s+[{CAPITALS}][\w’'-]*)*")
# fmt: off
_NOT_ENTITIES = {
    "et", "pourquoi", "comment", "combien", "quel", "quelle", "quels", "quelles", "qui", "que",
    "quand", "ou", "est", "le", "la", "les", "un", "une", "and", "why", "how", "what", "who", "when",
    "where", "which", "did", "does", "is", "lui", "il", "elle", "ils", "elles", "je", "tu", "a",
}
# fmt: on


@dataclass(frozen=True)
class Message:
    role: str  # user | assistant | system
    content: str


def entities(text: str) -> list[str]:
    """Capitalised names in a text (Leike, Jan Leike, OpenAI), question words excluded."""
    found = []
    for match in _ENTITY.finditer(text):
        words = [w for w in match.group().split() if fold(w) not in _NOT_ENTITIES]
        if words:
            found.append(" ".join(words))
    return found


def condense(messages: Sequence[Message]) -> str:
    """The standalone question to search for the last user message of a conversation."""
    users = [m.content.strip() for m in messages if m.role == "user" and m.content.strip()]
    if not users:
        raise InvalidQuestionError("The conversation has no user message.")
    question = users[-1]
    previous = users[:-1]
    if not previous:
        return question
    rest = _LEAD.sub("", question)
    is_follow_up = rest != question or len(question.split()) <= 4
    own = entities(rest)
    earlier = next((found[0] for found in map(entities, reversed(previous)) if found), None)
    if not is_follow_up and not _POINTING.search(fold(rest)):
        return question
    if own and len(rest.rstrip(" ?!.").split()) <= len(own[0].split()) + 1:
        # « Et Schulman ? »: the previous question, about Schulman.
        last = previous[-1]
        subject = next(iter(entities(last)), None)
        return last.replace(subject, own[0], 1) if subject else f"{own[0]} : {last}"
    if own or earlier is None:
        return rest[:1].upper() + rest[1:]
    # « Et lui, il a rejoint quelle entreprise ? »: write the earlier subject in.
    rest = re.sub(r"^(lui|elle|eux|him|her|them)\b[\s,]*", "", rest, flags=re.IGNORECASE)
    return f"{earlier} : {rest[:1].upper() + rest[1:]}"
