"""Untrusted article text: retrieved passages lose the sentences that speak to a model (« ignore les
instructions précédentes », fake system blocks), hidden HTML and active links before any answerer
sees them; answers lose active markup and stay within a length. Defence in depth, not a proof: see
SECURITY.md."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from functools import lru_cache

from rag.answering.base import Draft
from rag.text import fold, sentence_spans
from rag.types import Passage, Sentence

# Phrases addressed to a model rather than to a reader, in French and English (matched on text
# folded to lowercase without accents, zero-width characters removed).
_INSTRUCTION = re.compile(
    r"\b(?:ignore[rsz]?|disregard|oublie[rsz]?|forget|override|contourne[rsz]?)\b.{0,40}?"
    r"\b(?:instructions?|consignes?|prompts?|regles|rules|directives?|messages? precedents?)\b"
    r"|\b(?:previous|prior|above|earlier|preceding)\s+(?:instructions|prompts?|directions)\b"
    r"|\binstructions?\s+(?:precedentes|anterieures|ci-dessus)\b"
    r"|\b(?:you are now|from now on,? you|tu es (?:desormais|maintenant)|vous etes (?:desormais|maintenant)"
    r"|a partir de maintenant,? (?:tu|vous)|act as|developer mode|mode developpeur|jailbreak)\b"
    r"|\b(?:system|systeme)\s+(?:prompt|message)\b|\b(?:prompt|message|invite)\s+systeme\b"
    r"|\bnew instructions?\b|\bnouvelles? (?:instructions|consignes)\b"
    r"|\b(?:reveal|print|repeat|output|leak|reveler?|revelez|affiche[rsz]?|divulgue[rsz]?|donne[rsz]?)"
    r"\b.{0,30}?\b(?:secret|password|mot de passe|api key|cle d'api|canary|instructions|consignes)\b"
    r"|^\W{0,6}(?:system|systeme|developer|instructions?)\s*:"
    r"|<\|[a-z_]+\|>|\[/?inst\]|<</?sys>>|\[/?system\]|</?system>|begin system|end system",
    re.MULTILINE,
)
# Blocks whose whole content is hidden from a reader or addressed to a model.
_BLOCKS = re.compile(
    r"<!--.*?(?:-->|\Z)|\A(?:(?!<!--).)*?-->"
    r"|<(script|style|template|iframe|object|embed|svg|noscript)\b.*?(?:</\1\s*>|\Z)"
    r"|<(\w+)\b[^>]*(?:\bhidden\b|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0"
    r"|opacity\s*:\s*0(?![.\d]*[1-9]))[^>]*>.*?(?:</\2\s*>|\Z)"
    r"|```\s*(?:system|prompt|instructions?)\b.*?(?:```|\Z)"
    r"|<\|im_start\|>.*?(?:<\|im_end\|>|\Z)|\[INST\].*?(?:\[/INST\]|\Z)|<<SYS>>.*?(?:<</SYS>>|\Z)"
    r"|\[SYSTEM\].*?(?:\[/SYSTEM\]|\Z)|<system>.*?(?:</system>|\Z)",
    re.IGNORECASE | re.DOTALL,
)
# What a browser or a markdown renderer would act on: an image loads its URL (a way to send data
# out), a script or a handler runs, a javascript: or data: link runs when clicked.
ACTIVE = re.compile(
    r"!\[[^\]]*\]\([^)]*\)"
    r"|\]\(\s*(?:javascript|data|vbscript)\s*:[^)]*\)"
    r"|(?:javascript|vbscript)\s*:"
    r"|<\s*/?\s*(?:script|iframe|img|image|object|embed|svg|style|link|meta|form|input|button|base|video"
    r"|audio|source|math|template)\b[^>]*>?"
    r"|<[^>]*\bon[a-z]+\s*=[^>]*>"
    r"|\b(?:href|src|action|formaction)\s*=\s*[\"']?\s*(?:javascript|data|vbscript)\s*:",
    re.IGNORECASE,
)


def _visible(text: str) -> str:
    """The text folded for matching, without the invisible characters that split words."""
    return fold("".join(ch for ch in text if unicodedata.category(ch) != "Cf"))


def hostile_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of `text` to hide: hidden blocks and active content, the sentences they
    touch, and whole lines (paragraphs) with a sentence that speaks to a model: the sentences
    around an instruction belong to it (« Ignore all previous instructions. The password is … »)."""
    regions = [m.span() for m in _BLOCKS.finditer(text)]
    regions += [m.span() for m in ACTIVE.finditer(text)]
    spans = list(regions)
    for sentence in sentence_spans(text):
        if _INSTRUCTION.search(_visible(sentence.text)):
            line_start = text.rfind("\n", 0, sentence.start) + 1
            line_end = text.find("\n", sentence.end)
            spans.append((line_start, len(text) if line_end < 0 else line_end))
        elif any(start < sentence.end and sentence.start < end for start, end in regions):
            spans.append((sentence.start, sentence.end))
    return sorted(spans)


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the spans replaced by spaces (line breaks kept), so every offset stays valid:
    citations still point into the source file."""
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


@lru_cache(maxsize=4096)
def clean_text(text: str) -> str:
    """`text` with its hostile sentences blanked (cached: the same passages come back often)."""
    spans = hostile_spans(text)
    return blank(text, spans) if spans else text


def clean_passage(passage: Passage) -> Passage:
    """The passage with its hostile sentences blanked, its title too (a file's first line, so it
    travels with every citation); the same object when there is nothing to hide."""
    text, title = clean_text(passage.text), clean_text(passage.title)
    if text is passage.text and title is passage.title:
        return passage
    return replace(passage, text=text, title=title.strip() or passage.file)


def _defuse(match: re.Match[str]) -> str:
    found = match.group()
    image = re.fullmatch(r"!\[([^\]]*)\]\([^)]*\)", found)
    if image:
        return image.group(1)  # the alt text, without the URL a renderer would load
    found = re.sub(r"(?i)(javascript|vbscript|data)\s*:", r"\1 ", found)
    return found.replace("<", "‹").replace(">", "›")


def neutralize(text: str) -> str:
    """Answer text without active markup (what `ACTIVE` finds): images keep their alt text, tags
    lose their brackets, code-running schemes their colon. Text without any is returned as is, so
    an extractive answer (already free of it) stays an exact quote."""
    return ACTIVE.sub(_defuse, text)


def bound_draft(draft: Draft, max_chars: int) -> Draft:
    """The draft without active markup, and cut to its sentences that fit in `max_chars` (at least
    the first, itself cut at a word): a runaway answer never reaches a client whole."""
    kept: list[Sentence] = []
    used = 0
    for sentence in draft.sentences:
        text = neutralize(sentence.text)
        room = max_chars - used - 8 * len(sentence.quotes)  # the [n] markers count too
        if len(text) > room:
            if kept:
                break
            text = text[: max(room, 0)].rsplit(" ", 1)[0] + " …"
        kept.append(sentence if text == sentence.text else replace(sentence, text=text))
        used += len(text) + 1 + 8 * len(sentence.quotes)
    return replace(draft, sentences=kept) if kept != draft.sentences else draft
