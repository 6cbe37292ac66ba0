"""The document formats read, and what a file is by its content, not its name: an upload or a renamed
file whose content does not match its extension is refused before any reader sees it."""

from __future__ import annotations

import io
import re
import zipfile

import filetype

from rag.corpus import SkippedFile, decode

KINDS = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}
"""File extensions read, and the kind of content each must hold."""

LABELS = {
    "text": "plain text",
    "markdown": "Markdown",
    "pdf": "PDF",
    "docx": "DOCX (Word)",
    "html": "HTML",
    "jsonl": "JSON Lines",
}
_HTML = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)


def content_kind(data: bytes) -> str:
    """ "pdf", "docx", "html", "jsonl" or "text" from the bytes themselves; SkippedFile for content
    no reader takes (an image, an archive, a spreadsheet, undecodable bytes)."""
    head = data[:8192]
    if b"%PDF-" in head[:1024]:
        return "pdf"
    guessed = filetype.guess(head)
    if guessed is not None and guessed.extension in ("zip", "docx", "xlsx", "pptx", "odt", "epub"):
        return _zip_kind(data)
    if guessed is not None:
        raise SkippedFile(f"the content is {guessed.mime}, which cannot be read")
    text = decode(head.rsplit(b"\n", 1)[0] if len(data) > len(head) else head)
    start = text.lstrip()[:2048]
    if _HTML.search(start):
        return "html"
    if start.startswith("{"):
        return "jsonl"
    return "text"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise SkippedFile(f"broken ZIP container ({exc})") from None
    if "word/document.xml" in names:
        return "docx"
    raise SkippedFile("a ZIP archive that is not a Word document")


def check_kind(suffix: str, data: bytes) -> str:
    """The kind of reader for a file with this extension, after checking that its content is of
    that kind (Markdown and plain text read each other's content: both are text)."""
    expected = KINDS.get(suffix.lower())
    if expected is None:
        raise SkippedFile(f"{suffix or 'no extension'}: not one of {', '.join(sorted(KINDS))}")
    found = content_kind(data)
    textual = {"text", "markdown"}
    if found == expected or (expected in textual and found in textual | {"jsonl"}):
        return expected
    if expected == "jsonl" and found == "text":
        return expected  # a dump whose first line is broken: the reader says which lines are
    raise SkippedFile(
        f"the content is {LABELS.get(found, found)}, not {LABELS[expected]} as its extension says"
    )
