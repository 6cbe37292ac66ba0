"""Readers of the document formats, each through a maintained library: what a file holds, checked
by content, turned into extracted documents (text, metadata, page and section spans)."""

from __future__ import annotations

from collections.abc import Callable

from ingest.readers.base import Extracted, SkippedFile, Warn
from ingest.readers.docx import read_docx
from ingest.readers.html import read_html
from ingest.readers.jsonl import read_jsonl
from ingest.readers.markdown import read_markdown, read_text
from ingest.readers.pdf import read_pdf
from rag.formats import KINDS, LABELS, check_kind, content_kind

READERS: dict[str, Callable[[bytes, Warn], list[Extracted]]] = {
    "text": read_text,
    "markdown": read_markdown,
    "pdf": read_pdf,
    "docx": read_docx,
    "html": read_html,
    "jsonl": read_jsonl,
}
EXTENSIONS = tuple(KINDS)
"""File extensions ingest reads."""


def read_document(suffix: str, data: bytes, warn: Warn) -> tuple[str, list[Extracted]]:
    """(kind, documents) of a file's bytes, after checking its content matches its extension;
    SkippedFile, with the reason, for a file that cannot be read."""
    kind = check_kind(suffix, data)
    return kind, READERS[kind](data, warn)


__all__ = [
    "EXTENSIONS",
    "KINDS",
    "LABELS",
    "Extracted",
    "SkippedFile",
    "Warn",
    "content_kind",
    "read_document",
]
