"""Restricting a question to documents: a date range and/or sources, as a Chroma `where` clause for
the dense side and as a predicate on chunk metadata for the keyword (BM25) side, so both sides
search the same documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rag.errors import InvalidQuestionError


def day_number(day: date) -> int:
    """20240806 for 2024-08-06: chunks carry their document's date as this number (`day`)."""
    return day.year * 10000 + day.month * 100 + day.day


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a question may be answered from; an empty filter lets all through. A
    document whose date is unknown is outside any date range; one without a source, outside any
    list of sources."""

    date_from: date | None = None
    date_to: date | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidQuestionError(
                f"The date range is empty: {self.date_from.isoformat()} is after {self.date_to.isoformat()}."
            )

    @classmethod
    def of(
        cls,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        sources: Sequence[str] | None = (),
    ) -> DocumentFilter | None:
        """The filter, or None when it lets everything through."""
        clean = tuple(dict.fromkeys(s.strip() for s in sources or () if s and s.strip()))
        found = cls(date_from, date_to, clean)
        return found if found else None

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources)

    def where(self) -> dict[str, Any] | None:
        """The Chroma `where` clause (None when nothing is filtered)."""
        clauses: list[dict[str, Any]] = []
        if self.date_from:
            clauses.append({"day": {"$gte": day_number(self.date_from)}})
        if self.date_to:
            clauses.append({"day": {"$lte": day_number(self.date_to)}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, meta: Mapping[str, Any]) -> bool:
        """Whether a chunk with this metadata is let through (the same test as `where`)."""
        day = meta.get("day")
        if self.date_from or self.date_to:
            if not isinstance(day, int) or isinstance(day, bool):
                return False
            if self.date_from and day < day_number(self.date_from):
                return False
            if self.date_to and day > day_number(self.date_to):
                return False
        return not self.sources or meta.get("source") in self.sources
