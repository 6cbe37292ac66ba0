"""Word files through python-docx: paragraphs and tables in document order, headings as sections,
the core properties as metadata. A ZIP that would expand past a bound (a zip bomb) is refused."""

from __future__ import annotations

import io
import zipfile

from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.readers.base import Extracted, SkippedFile, Warn, clean_meta, iso_date, single_line

MAX_EXPANDED = 256 * 2**20
"""Most bytes a Word file may expand to; a real article is a few hundred KiB of XML."""
MAX_RATIO = 200
"""Most a part may expand per byte it takes in the file (XML compresses ~10x; a bomb ~1000x)."""


def check_zip(data: bytes) -> None:
    """SkippedFile for a broken archive or one whose parts expand past the bounds (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise SkippedFile(f"broken Word file ({exc})") from None
    total = sum(info.file_size for info in infos)
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    if total > MAX_EXPANDED or (
        worst is not None and worst.file_size > 2**20 and worst.file_size > MAX_RATIO * worst.compress_size
    ):
        raise SkippedFile(
            f"the Word file would expand to {total / 2**20:.0f} MiB from "
            f"{len(data) / 2**20:.1f} MiB (a zip bomb?)"
        )


def _blocks(document: object) -> list[tuple[str, str]]:
    """(style name, text) of every paragraph, tables row by row with cells joined by « | »."""
    found: list[tuple[str, str]] = []
    for block in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(block, Paragraph):
            found.append((block.style.name if block.style is not None else "", block.text))
        elif isinstance(block, Table):
            for row in block.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                found.append(("", " | ".join(dict.fromkeys(c for c in cells if c))))
    return found


def read_docx(data: bytes, warn: Warn) -> list[Extracted]:
    check_zip(data)
    try:
        document = Document(io.BytesIO(data))
        blocks = _blocks(document)
    except Exception as exc:  # a parser on hostile bytes raises anything: report it, skip the file
        raise SkippedFile(f"broken Word file ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    lines: list[str] = []
    sections: list[tuple[int, str]] = []
    cursor = 0
    for style, raw in blocks:
        text = " ".join(raw.split())  # line breaks inside a paragraph wrap it, they do not end it
        if not text:
            continue
        if style.startswith("Heading") or style == "Title":
            sections.append((cursor, single_line(text)))
        lines.append(text)
        cursor += len(text) + 1
    if not lines:
        raise SkippedFile("the Word file has no text")
    props = document.core_properties
    meta = clean_meta(
        {
            "author": single_line(props.author or ""),
            "date": iso_date(props.created),
            "url": props.identifier if (props.identifier or "").startswith(("http://", "https://")) else "",
            "source": single_line(props.category or ""),
        }
    )
    return [Extracted("\n".join(lines), single_line(props.title or ""), meta, sections=tuple(sections))]
