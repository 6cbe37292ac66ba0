"""JSON Lines article dumps, as news APIs and datasets export them: one article per line with
`title`, `text` or `content`, `date`, `url`, `author`, `source`; other keys are kept as metadata.
A line that is not an article is reported with its number and left out; the others are read."""

from __future__ import annotations

import json

from ingest.readers.base import Extracted, SkippedFile, Warn, clean_meta, iso_date, single_line
from rag.corpus import decode

KNOWN = ("title", "text", "content", "date", "url", "author", "source")


def read_jsonl(data: bytes, warn: Warn) -> list[Extracted]:
    found: list[Extracted] = []
    bad = 0
    for number, line in enumerate(decode(data).split("\n"), start=1):
        if not line.strip():
            continue
        problem, article = _article(line)
        if article is None:
            bad += 1
            warn(f"line {number}: {problem}; the line is left out")
            continue
        found.append(Extracted(**article, key=str(number)))
    if not found:
        raise SkippedFile(f"no article in the dump ({bad} line(s) left out)")
    return found


def _article(line: str) -> tuple[str, dict | None]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg} at column {exc.colno})", None
    if not isinstance(row, dict):
        return "not a JSON object", None
    text = row.get("text") or row.get("content")
    if not isinstance(text, str) or not text.strip():
        return "no `text` or `content`", None
    author, source = row.get("author"), row.get("source")
    if isinstance(source, dict):  # {"id": ..., "name": "Le Monde"}, as news APIs write it
        source = source.get("name") or source.get("id")
    if isinstance(author, list):
        author = ", ".join(str(a) for a in author)
    meta = clean_meta(
        {
            "date": iso_date(row.get("date")),
            "author": single_line(str(author or "")),
            "source": single_line(str(source or "")),
            "url": str(row.get("url") or ""),
        }
    )
    extra = clean_meta({k: v for k, v in row.items() if k not in KNOWN})
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "", {"text": text, "title": single_line(str(row.get("title") or "")), "meta": meta, "extra": extra}
