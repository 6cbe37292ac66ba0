"""What a reader returns: the text extracted from a document with its metadata, page and section
spans; and the helpers readers share (dates, metadata values)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rag.corpus import SkippedFile
from rag.documents import MetaValue

Warn = Callable[[str], None]
"""Tell the person ingesting about a part of a file left out (a bad JSONL line, a page without text)."""


@dataclass(frozen=True)
class Extracted:
    """One document read from a file. Every span (pages, sections, and later chunks and citations)
    is an offset in `text`, the text stored at ingest and shown as the document's source."""

    text: str
    title: str = ""
    meta: dict[str, MetaValue] = field(default_factory=dict)  # date, author, source, url, site...
    extra: dict[str, MetaValue] = field(default_factory=dict)  # a dump's unknown keys, kept
    pages: tuple[tuple[int, int, int], ...] = ()  # (page number, start, end) for PDFs
    sections: tuple[tuple[int, str], ...] = ()  # (start, heading path) for Markdown
    key: str = ""  # the document's place inside a file holding several (a JSONL line number)


def iso_date(value: Any) -> str:
    """A date as YYYY-MM-DD from the usual ways dumps and pages write it; "" when it is not one."""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 4e10:
        return datetime.fromtimestamp(value).strftime("%Y-%m-%d")  # a Unix time in seconds
    if not isinstance(value, str) or not value.strip():
        return ""
    text = value.strip().replace("Z", "+00:00")
    for parse in (datetime.fromisoformat, lambda s: datetime.strptime(s[:10], "%d/%m/%Y")):
        try:
            return parse(text).strftime("%Y-%m-%d")
        except ValueError:
            continue
    return ""


def date_number(iso: str) -> int:
    """20240806 for 2024-08-06: Chroma compares numbers only, so date ranges filter on this."""
    return int(iso.replace("-", "")) if iso else 0


def scalar(value: Any) -> MetaValue | None:
    """A metadata value as the vector store keeps it (lists and objects as JSON); None when empty."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, str | int | float | bool):
        return value.strip() if isinstance(value, str) else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def clean_meta(values: Mapping[str, Any]) -> dict[str, MetaValue]:
    """The non-empty values, stripped and made storable."""
    out = {}
    for key, value in values.items():
        kept = scalar(value)
        if kept is not None and kept != "":
            out[key] = kept
    return out


def single_line(text: str, limit: int = 300) -> str:
    """Metadata written on one line (titles and authors sometimes carry newlines)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


__all__ = ["Extracted", "MetaValue", "SkippedFile", "Warn", "clean_meta", "date_number", "iso_date"]
