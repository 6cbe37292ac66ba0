"""A document's metadata as the chat shows it beside a citation or an article: source, date, author,
PDF page, and a link to the original when there is one. Everything is escaped."""

from __future__ import annotations

from html import escape

LINK_TEXT = "lire l’original ↗"


def french_date(iso: str | None) -> str:
    """28/05/2024 for 2024-05-28; anything else as it is."""
    if iso and len(iso) == 10 and iso[4] == iso[7] == "-":
        return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"
    return iso or ""


def safe_url(url: str | None) -> str:
    """The URL if it is a web address (never `javascript:` or a local path), else ""."""
    return url if url and url.startswith(("https://", "http://")) else ""


def render_meta(
    *,
    source: str | None = None,
    date: str | None = None,
    author: str | None = None,
    page: int | None = None,
    url: str | None = None,
) -> str:
    """« Tech Hebdo · 28/05/2024 · Thomas Bernard · p. 2 · lire l’original ↗ », or "" if nothing is known."""
    parts = [escape(x) for x in (source, french_date(date), author) if x]
    if page:
        parts.append(f"p.&nbsp;{int(page)}")
    link = safe_url(url)
    if link:
        parts.append(f'<a href="{escape(link)}" target="_blank" rel="noopener noreferrer">{LINK_TEXT}</a>')
    return f'<p class="meta">{" · ".join(parts)}</p>' if parts else ""
