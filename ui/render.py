"""HTML for the chat: the conversation, the evidence found while the answer is written, each answer's
sentences as verification judged them and its sources, and an article with its quoted passage
highlighted. Every piece of article, question or answer text is escaped before markup goes around it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from rag.markers import MARKER
from rag.types import Citation, Passage, Sentence
from ui.meta import render_meta
from ui.rating import render_rating
from ui.turns import Turn

WELCOME = (
    "Posez une question sur les articles de presse. Chaque réponse renvoie à ses sources par des "
    "marqueurs [n] ; un clic sur une source ouvre l’article, passage cité surligné."
)
ARTICLE_HINT = "Cliquez sur une source (ou sur un marqueur [n]) pour lire l’article, passage cité surligné."
REFUSAL_HINT = "Les articles ne traitent pas de cette question : reformulez-la ou posez-en une autre."
DEGRADED_NOTE = "Le modèle de langage est indisponible : réponse composée d’extraits des articles."
PENDING = "Recherche dans les articles…"
WRITING = "Réponse en cours de rédaction : chaque phrase sera vérifiée contre les articles."
EVIDENCE_LABEL = "Extraits trouvés dans les articles"
UNSUPPORTED_LABEL = "non vérifiée"
UNSUPPORTED_TITLE = "Aucun passage des articles n’appuie cette phrase."
UNSUPPORTED_NOTE = (
    "Les phrases marquées « non vérifiée » ne sont appuyées par aucun passage des articles : "
    "ne vous y fiez pas."
)

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
        parts.append(render_evidence(turn.passages))
    elif not turn.done:  # the LLM is writing: its raw text, then the evidence it reads
        body = render_answer(index, turn.answer, turn.citations)
        parts.append(f'<div class="answer draft">{body}<span class="cursor">▍</span></div>')
        parts.append(f'<p class="status-note writing">{escape(WRITING)}</p>')
        parts.append(render_evidence(turn.passages))
    else:
        body = (
            render_sentences(index, turn.sentences, turn.citations)
            if turn.sentences
            else render_answer(index, turn.answer, turn.citations)
        )
        parts.append(f'<div class="answer">{body}</div>')
        if any(s.verdict == "unsupported" for s in turn.sentences):
            parts.append(f'<p class="unsupported-note" role="note">{escape(UNSUPPORTED_NOTE)}</p>')
        if turn.degraded:
            parts.append(f'<p class="status-note degraded">{escape(DEGRADED_NOTE)}</p>')
        parts.append(render_sources(index, turn.citations))
    parts.append(render_rating(index, turn))
    return f'<div class="turn">{question}<div class="msg bot">{"".join(parts)}</div></div>'


def _marker(index: int, n: int, known: set[int], space: str) -> str:
    if n not in known:
        return f'{space}<span class="marker">[{n}]</span>'
    # A span, not a <button>: an inline box does not break away from the word before it.
    return (
        f'{space}<span role="button" tabindex="0" class="marker" data-turn="{index}" data-n="{n}" '
        f'title="Ouvrir la source {n}">[{n}]</span>'
    )


def render_answer(index: int, answer: str, citations: Sequence[Citation]) -> str:
    """The escaped answer; its [n] markers become buttons that open source n."""
    known = {c.n for c in citations}

    def marker(match: re.Match[str]) -> str:
        space = "\u00a0" if match.group(1) else ""  # [n] stays by its word
        return _marker(index, int(match.group(2)), known, space)

    return _MARKER.sub(marker, escape(answer))


def render_sentences(index: int, sentences: Sequence[Sentence], citations: Sequence[Citation]) -> str:
    """The verified answer sentence by sentence (the same text as the answer): a sentence that no
    passage supports is marked « non vérifiée », in words and in colour."""
    known = {c.n for c in citations}
    pieces = []
    for sentence in sentences:
        marks = "".join(
            _marker(index, n, known, "\u00a0" if i == 0 else "") for i, n in enumerate(sentence.citations)
        )
        if sentence.verdict == "unsupported":
            pieces.append(
                f'<span class="unsupported" title="{escape(UNSUPPORTED_TITLE)}">{escape(sentence.text)}'
                f'<span class="verdict">{escape(UNSUPPORTED_LABEL)}</span></span>{marks}'
            )
        else:
            pieces.append(f"{escape(sentence.text)}{marks}")
    return " ".join(pieces)


def render_evidence(passages: Sequence[Passage]) -> str:
    """The passages retrieved for the question, readable while the LLM writes its answer."""
    if not passages:
        return ""
    items = "".join(
        f'<li><span class="title">{escape(p.title)}</span> <span class="file">{escape(p.file)}</span>'
        f"<blockquote>{escape(p.text.strip())}</blockquote></li>"
        for p in passages
    )
    return (
        f'<div class="evidence"><p class="sources-label">{escape(EVIDENCE_LABEL)}</p><ol>{items}</ol></div>'
    )


def render_sources(index: int, citations: Sequence[Citation]) -> str:
    """The sources under an answer: number, title, file and quoted passage, each one clickable."""
    if not citations:
        return ""
    items = "".join(
        f'<li><button type="button" class="source" data-turn="{index}" data-n="{c.n}" '
        f'title="Ouvrir l’article">'
        f'<span class="num">[{c.n}]</span> <span class="title">{escape(c.title)}</span> '
        f'<span class="file">{escape(c.file)}</span></button>'
        f"{render_meta(source=c.source, date=c.date, author=c.author, page=c.page, url=c.url)}"
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
    c = citation
    meta = render_meta(source=c.source, date=c.date, author=c.author, page=c.page, url=c.url)
    return (
        f'<article class="source-view"><p class="source-head"><span class="num">[{citation.n}]</span> '
        f'{escape(title)}</p><p class="file">{escape(citation.file)}</p>{meta}'
        f'<div class="article-text">{body}</div></article>'
    )


def render_notice(message: str) -> str:
    """A short neutral message in the article panel (hint, source not found)."""
    return f'<p class="article-hint">{escape(message)}</p>'
