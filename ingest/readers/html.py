"""Saved web pages through trafilatura: the article's main text without menus, banners, « à lire
aussi » boxes and comments, and the page's own metadata (title, author, date, canonical URL, site
name, from its meta tags, OpenGraph and JSON-LD). A page with no article (a paywall) is refused."""

from __future__ import annotations

import logging
import re

import trafilatura
from trafilatura.settings import Document

from ingest.readers.base import Extracted, SkippedFile, Warn, clean_meta, iso_date, single_line

logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)

MIN_ARTICLE_CHARS = 200
"""Less main text than this is not an article: a paywall, a home page, an error page."""
TEASER_CHARS = 1000
"""A page that says it is for subscribers only holds a teaser when its text is this short."""
_NOT_FREE = re.compile(r"\"isAccessibleForFree\"\s*:\s*\"?false", re.IGNORECASE)


def read_html(data: bytes, warn: Warn) -> list[Extracted]:
    try:
        found = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            deduplicate=False,
        )
    except Exception as exc:  # a parser on hostile bytes raises anything: report it, skip the file
        raise SkippedFile(f"unreadable HTML ({exc.__class__.__name__}: {str(exc)[:120]})") from None
    if not isinstance(found, Document):
        found = Document()  # nothing found: the length check below says so
    text = (found.text or "").strip()
    paywalled = bool(_NOT_FREE.search(data[:200_000].decode("utf-8", "replace")))
    if len(text) < MIN_ARTICLE_CHARS or (paywalled and len(text) < TEASER_CHARS):
        raise SkippedFile(
            f"no article text on the page ({len(text)} characters once menus, banners and comments "
            "are removed): "
            + ("it is behind a paywall" if paywalled else "a paywall, or a page without an article")
        )
    meta = clean_meta(
        {
            "author": single_line(found.author or ""),
            "date": iso_date(found.date),
            "source": single_line(found.sitename or found.hostname or ""),
            "url": found.url or "",
            "description": single_line(found.description or "", 500),
        }
    )
    title = single_line(found.title or "")
    return [Extracted(text, title, meta)]
