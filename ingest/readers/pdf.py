"""PDF through pypdf: the text layer page by page, its lines joined back into paragraphs (by line
spacing, font size and short last lines), with the span of every page. Encrypted, broken and
scanned (text-less) PDFs are refused with the reason."""

from __future__ import annotations

import io
import logging
import re
import statistics
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject, PdfReader
from pypdf.errors import FileNotDecryptedError

from ingest.readers.base import Extracted, SkippedFile, Warn, clean_meta, single_line

logging.getLogger("pypdf").setLevel(logging.ERROR)  # broken files are reported by our own message

SHORT_LINE = 0.7
"""A line shorter than this share of the page's usual line ends its paragraph (the last line of a
paragraph rarely fills the column; every other line does, justified or not)."""
WIDE_GAP = 1.3
"""Lines further apart than this many usual line gaps belong to different paragraphs."""
_STARTS_PARAGRAPH = re.compile(r"[\"«“—–\-•(\[0-9A-ZÀ-ÖØ-Þ]")


@dataclass
class Line:
    """A line of a page's text layer, with the height of its baseline and its font size."""

    text: str
    y: float | None = None
    size: float = 0.0


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkippedFile("encrypted PDF: it needs a password to be read")
        _ = len(reader.pages)
    except SkippedFile:
        raise
    except FileNotDecryptedError:
        raise SkippedFile("encrypted PDF: it needs a password to be read") from None
    except Exception as exc:  # a parser on hostile bytes raises anything: report it, skip the file
        raise SkippedFile(f"broken PDF ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    return reader


def page_lines(page: PageObject) -> list[Line]:
    """The page's lines in pypdf's reading order, each placed by its first piece of text."""
    lines = [Line("")]

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append(Line(""))
            line = lines[-1]
            if part.strip() and line.y is None:
                line.y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                line.size = size * (abs(tm[3] * cm[3]) or 1.0)
            line.text += part

    page.extract_text(visitor_text=visit)
    for line in lines:
        line.text = " ".join(line.text.split())  # justified text comes with runs of spaces
    return [line for line in lines if line.text]


def _ends_paragraph(previous: Line, line: Line, width: float, gap: float, spaced: bool) -> bool:
    """Whether `line` starts a new paragraph. Pages that space their paragraphs say so by spacing
    alone; on others a short line ends its paragraph (a justified narrow column has short lines
    inside paragraphs too, but those pages space their paragraphs)."""
    if previous.size and line.size and abs(previous.size - line.size) > 0.15 * previous.size:
        return True  # a heading and its text
    if previous.y is not None and line.y is not None and WIDE_GAP * gap < previous.y - line.y < 3 * gap:
        return True
    if spaced:
        return False
    return len(previous.text) < SHORT_LINE * width and bool(_STARTS_PARAGRAPH.match(line.text))


def reflow(lines: list[Line]) -> list[str]:
    """Paragraphs from the lines of one page; a trailing hyphen joins the word it cut."""
    if not lines:
        return []
    width = statistics.quantiles([len(x.text) for x in lines], n=10)[-1] if len(lines) > 1 else 0.0
    steps = [
        a.y - b.y
        for a, b in zip(lines, lines[1:], strict=False)
        if a.y is not None and b.y is not None and 0 < a.y - b.y < 3 * max(a.size, 1.0)
    ]
    gap = statistics.median(steps) if steps else 0.0
    spaced = any(WIDE_GAP * gap < step < 3 * gap for step in steps)
    paragraphs = [lines[0].text]
    for previous, line in zip(lines, lines[1:], strict=False):
        if _ends_paragraph(previous, line, width, gap, spaced):
            paragraphs.append(line.text)
        elif paragraphs[-1].endswith("-") and paragraphs[-1][-2:-1].isalpha():
            paragraphs[-1] += line.text
        else:
            paragraphs[-1] += " " + line.text
    return paragraphs


def read_pdf(data: bytes, warn: Warn) -> list[Extracted]:
    reader = _open(data)
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    blank: list[int] = []
    cursor = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            paragraphs = reflow(page_lines(page))
        except Exception as exc:  # one unreadable page does not lose the others
            warn(f"page {number} cannot be read ({exc.__class__.__name__}); it is left out")
            continue
        if not paragraphs:
            blank.append(number)
            continue
        text = "\n".join(paragraphs)
        if parts:
            # A page that starts in lower case goes on with the sentence the last one left open.
            parts.append(" " if text[0].islower() else "\n")
            cursor += 1
        pages.append((number, cursor, cursor + len(text)))
        parts.append(text)
        cursor += len(text)
    if not parts:
        raise SkippedFile("no text layer (a scanned PDF?): text in images cannot be read (no OCR)")
    if blank:
        warn(f"page(s) {', '.join(map(str, blank))} have no text layer (scanned?) and are left out")
    info: Any = reader.metadata or {}
    meta = clean_meta({"author": single_line(str(info.get("/Author") or "")), "pages": len(reader.pages)})
    title = single_line(str(info.get("/Title") or ""))
    return [Extracted("".join(parts), title, meta, pages=tuple(pages))]
