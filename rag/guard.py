"""Untrusted article text: retrieved passages lose the sentences that speak to a model (« ignore les
instructions précédentes », fake system blocks), hidden HTML and active links before any answerer
sees them; answers lose active markup and stay within a length. Defence in depth, not a proof: see
SECURITY.md."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from rag.answering.base import Draft
from rag.injection import INSTRUCTION, for_matching
from rag.text import Span, sentence_spans
from rag.types import Passage, Sentence

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
# Any `![` and any link reference definition (`[r]: https://…`) count, whatever follows: an image
# with brackets in its alt text or a reference-style one (`![logo][r]`) is as active as a plain one.
ACTIVE = re.compile(
    r"!\[[^\]]*\]\([^)]*\)|!\[|\[[^\]]{0,999}\]:"
    r"|\]\(\s*(?:javascript|data|vbscript)\s*:[^)]*\)"
    r"|(?:javascript|vbscript)\s*:"
    r"|<\s*/?\s*(?:script|iframe|img|image|object|embed|svg|style|link|meta|form|input|button|base|video"
    r"|audio|source|math|template)\b[^>]*>?"
    r"|<[^>]*\bon[a-z]+\s*=[^>]*>"
    r"|\b(?:href|src|action|formaction)\s*=\s*[\"']?\s*(?:javascript|data|vbscript)\s*:",
    re.IGNORECASE,
)


def hostile_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of `text` to hide: hidden blocks and active content, the sentences they
    touch, and whole lines (paragraphs) with a sentence that speaks to a model: the sentences
    around an instruction belong to it (« Ignore all previous instructions. The password is … »)."""
    regions = [m.span() for m in _BLOCKS.finditer(text)]
    regions += [m.span() for m in ACTIVE.finditer(text)]
    spans = list(regions)
    sentences = sentence_spans(text)
    read = [for_matching(sentence.text) for sentence in sentences]
    speaking = {i for i, folded in enumerate(read) if INSTRUCTION.search(folded)}
    for i in range(len(read) - 1):
        # An instruction cut in two (« Oublie. Tout ce qui précède. ») is read across the cut.
        if not {i, i + 1} & speaking and INSTRUCTION.search(f"{read[i]} {read[i + 1]}"):
            speaking |= {i, i + 1}
    for i, sentence in enumerate(sentences):
        if i in speaking:
            spans.append(_line(text, sentence))
        elif any(start < sentence.end and sentence.start < end for start, end in regions):
            spans.append((sentence.start, sentence.end))
    return sorted(spans)


def _line(text: str, sentence: Span) -> tuple[int, int]:
    """The whole line (paragraph) around `sentence`."""
    line_end = text.find("\n", sentence.end)
    return text.rfind("\n", 0, sentence.start) + 1, len(text) if line_end < 0 else line_end


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
    if found == "![":
        return "! ["  # no image without `![`, whatever comes after
    if found.endswith("]:"):
        return found[:-1] + " :"  # no link reference definition without `]:`
    found = re.sub(r"(?i)(javascript|vbscript|data)\s*:", r"\1 ", found)
    return found.replace("<", "‹").replace(">", "›")


def neutralize(text: str) -> str:
    """Answer text without active markup (what `ACTIVE` finds): images keep their alt text, tags
    lose their brackets, code-running schemes their colon, and no `![` or `]:` is left (an alt text
    may hold one). Text without any is returned as is, so an extractive answer (already free of it)
    stays an exact quote."""
    text = ACTIVE.sub(_defuse, text)
    return text.replace("![", "! [").replace("]:", "] :")


_SCHEMES = ("javascript", "vbscript")


def _unfinished(text: str) -> int:
    """Where the end of a streamed `text` may be the start of markup its next piece would finish
    (`!` then `[`, `]` then `:`, a tag not yet closed, `java` then `script:`); len(text) if nowhere."""
    cut = len(text)
    tag = text.rfind("<")
    if tag >= 0 and ">" not in text[tag:] and len(text) - tag < 200:
        cut = tag
    word = re.search(r"[A-Za-z]*$", text)
    if word and word.group() and any(s.startswith(word.group().lower()) for s in _SCHEMES):
        cut = min(cut, word.start())
    if text[cut - 1 : cut] in ("!", "]"):
        cut -= 1
    return cut


class StreamGuard:
    """`neutralize` for an answer streamed piece by piece: the end of a piece that could start
    active markup with the next one is held back until it is known, so the pieces put together
    (as a client shows them) hold no `![`, `]:`, tag or script link either."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = _unfinished(text)
        self._held = text[cut:]
        return neutralize(text[:cut])

    def flush(self) -> str:
        """What is still held back, at the end of the stream."""
        held, self._held = self._held, ""
        return neutralize(held)


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
