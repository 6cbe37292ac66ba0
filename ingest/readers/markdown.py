"""Markdown and plain text: the file's text as it is (spans and quotes refer to it), headings kept as
the section each chunk belongs to, and a Markdown front matter (title, date, author, source, url)
read as metadata and left out of the text."""

from __future__ import annotations

import re
from typing import Any

import yaml
from markdown_it import MarkdownIt

from ingest.readers.base import Extracted, Warn, clean_meta, iso_date, single_line
from rag.corpus import decode

_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
KNOWN = ("title", "date", "author", "source", "url")


def read_text(data: bytes, warn: Warn) -> list[Extracted]:
    return [Extracted(decode(data))]


def front_matter(text: str, warn: Warn) -> tuple[dict[str, Any], str]:
    """The YAML front matter (if any) and the text after it."""
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        values = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        warn(f"front matter is not valid YAML ({str(exc).splitlines()[0]}); kept as text")
        return {}, text
    if not isinstance(values, dict):
        return {}, text
    return values, text[match.end() :].lstrip("\n")


def headings(text: str) -> tuple[tuple[int, str], ...]:
    """(start, « Heading > Subheading ») of every heading, found by a CommonMark parser (so a `#`
    inside a code block is not a heading)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    path: list[tuple[int, str]] = []
    found = []
    tokens = MarkdownIt("commonmark").parse(text)
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        level = int(token.tag[1:])
        title = single_line(tokens[index + 1].content, 200)
        path = [(lvl, name) for lvl, name in path if lvl < level] + [(level, title)]
        found.append((starts[token.map[0]], " > ".join(name for _, name in path)))
    return tuple(found)


def read_markdown(data: bytes, warn: Warn) -> list[Extracted]:
    values, text = front_matter(decode(data), warn)
    sections = headings(text)
    title = single_line(str(values.get("title") or ""))
    if not title and sections and sections[0][0] == 0:
        title = sections[0][1]
    meta = clean_meta(
        {
            "date": iso_date(values.get("date")),
            "author": single_line(str(values.get("author") or "")),
            "source": single_line(str(values.get("source") or values.get("site") or "")),
            "url": str(values.get("url") or values.get("canonical_url") or ""),
        }
    )
    extra = clean_meta({k: v for k, v in values.items() if k not in (*KNOWN, "site", "canonical_url")})
    return [Extracted(text, title, meta, extra, sections=sections)]
