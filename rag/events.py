"""The steps of a streamed answer, one type each: the passages found, pieces of text as they are
written, each citation, and the finished answer. Front ends match on the type, not on a string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rag.types import Answer, Citation, Passage


@dataclass(frozen=True)
class RetrievalEvent:
    """The passages the answer is drawn from; in a conversation, the standalone question searched."""

    kind: ClassVar[str] = "retrieval"
    passages: tuple[Passage, ...]
    standalone_question: str | None = None


@dataclass(frozen=True)
class DeltaEvent:
    """A piece of the answer's text, in order."""

    kind: ClassVar[str] = "delta"
    text: str


@dataclass(frozen=True)
class CitationEvent:
    """One numbered source of the answer, sent once the answer is complete."""

    kind: ClassVar[str] = "citation"
    citation: Citation


@dataclass(frozen=True)
class DoneEvent:
    """The finished answer, the same object `Engine.ask` returns."""

    kind: ClassVar[str] = "done"
    answer: Answer


Event = RetrievalEvent | DeltaEvent | CitationEvent | DoneEvent

__all__ = ["CitationEvent", "DeltaEvent", "DoneEvent", "Event", "RetrievalEvent"]
