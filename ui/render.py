"""HTML for the chat: the conversation, each answer's sources and an article with its quoted passage
highlighted. Every piece of article, question or answer text is escaped before markup goes around it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from rag.markers import MARKER
from rag.types import Citation
from ui.turns import Turn

WELCOME = (
    "Posez une question sur les articles de presse. Chaque réponse renvoie à ses sources par des "
    "marqueurs [n] ; un clic sur une source ouvre l’article, passage cité surligné."
)
ARTICLE_HINT = "Cliquez sur une source (ou sur un marqueur [n]) pour lire l’article, passage cité surligné."
REFUSAL_HINT = "Les articles ne traitent pas de cette question : reformulez-la ou posez-en une autre."
DEGRADED_NOTE = "Le modèle de langage est indisponible : réponse composée d’extraits des articles."
PENDING = "Recherche dans les articles…"

_MARKER = re.compile(rf"(\s?){MARKER.pattern}")  # with the space before it


def render_conversation(turns: Sequence[Turn]) -> str:
    """The whole conversation: each question, its answer and the sources under it."""
    if not turns:
        return f'<div class="conversation"><p class="welcome">{escape(WELCOME)}</p></div>'
    body = "".join(render_turn(i, turn) for i, turn in enumerate(turns))
    return f'<div class="conversation">{body}</div>'


def render_turn(index: int, turn: Turn) -> str:
    """One question and its answer (or its refusal notice, or its error)."""
    question = f'<div class="msg user">{escape(turn.question)}</div>'
    parts: list[str] = []
    if turn.searched and turn.searched.strip() != turn.question.strip():
        parts.append(f'<p class="searched">Recherche : {escape(turn.searched)}</p>')
    if turn.error:
        parts.append(f'<div class="notice error" role="alert">{escape(turn.error)}</div>')
    elif turn.refused:
        parts.append(
            f'<div class="notice refusal" role="status"><strong>{escape(turn.answer)}</strong>'
            f"<br><span>{escape(REFUSAL_HINT)}</span></div>"
        )
    elif not turn.answer:
        parts.append(f'<p class="pending">{escape(PENDING)}</p>')
    else:
        cursor = "" if turn.done else '<span class="cursor">▍</span>'
        parts.append(f'<div class="answer">{render_answer(index, turn.answer, turn.citations)}{cursor}</div>')
        if turn.degraded:
            parts.append(f'<p class="searched">{escape(DEGRADED_NOTE)}</p>')
        parts.append(render_sources(index, turn.citations))
    return f'<div class="turn">{question}<div class="msg bot">{"".join(parts)}</div></div>'


def render_answer(index: int, answer: str, citations: Sequence[Citation]) -> str:
    """The escaped answer; its [n] markers become buttons that open source n."""
    known = {c.n for c in citations}

    def marker(match: re.Match[str]) -> str:
        space, n = "\u00a0" if match.group(1) else "", int(match.group(2))  # [n] stays by its word
        if n not in known:
            return f'{space}<span class="marker">[{n}]</span>'
        # A span, not a <button>: an inline box does not break away from the word before it.
        return (
            f'{space}<span role="button" tabindex="0" class="marker" data-turn="{index}" data-n="{n}" '
            f'title="Ouvrir la source {n}">[{n}]</span>'
        )

    return _MARKER.sub(marker, escape(answer))


def render_sources(index: int, citations: Sequence[Citation]) -> str:
    """The sources under an answer: number, title, file and quoted passage, each one clickable."""
    if not citations:
        return ""
    items = "".join(
        f'<li><button type="button" class="source" data-turn="{index}" data-n="{c.n}" '
        f'title="Ouvrir l’article">'
        f'<span class="num">[{c.n}]</span> <span class="title">{escape(c.title)}</span> '
        f'<span class="file">{escape(c.file)}</span></button>'
        f"<blockquote>« {escape(c.quote)} »</blockquote></li>"
        for c in citations
    )
    return f'<div class="sources"><p class="sources-label">Sources</p><ol>{items}</ol></div>'


def render_article(text: str, title: str, citation: Citation) -> str:
    """The article, escaped, with the citation's span wrapped in <mark>."""
    start = max(0, min(citation.char_start, len(text)))
    end = max(start, min(citation.char_end, len(text)))
    if end > start:
        body = f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"
    else:  # a span outside the file (edited since the index was built): the text, unmarked
        body = escape(text)
    return (
        f'<article class="source-view"><p class="source-head"><span class="num">[{citation.n}]</span> '
        f'{escape(title)}</p><p class="file">{escape(citation.file)}</p>'
        f'<div class="article-text">{body}</div></article>'
    )


def render_notice(message: str) -> str:
    """A short neutral message in the article panel (hint, source not found)."""
    return f'<p class="article-hint">{escape(message)}</p>'
