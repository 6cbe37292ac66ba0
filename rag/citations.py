"""Numbering citations, composing the answer text with its `[n]` markers, and giving each citation
its document's metadata."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.answering.base import Draft
from rag.types import REFUSAL, UNVERIFIED, Citation, Passage, Sentence


def compose(draft: Draft) -> tuple[str, list[Citation], list[Sentence]]:
    """Number the draft's quotes from 1 in order of first use and write the answer text."""
    if draft.refused or not draft.sentences:
        return REFUSAL, [], []
    numbered: dict[tuple[str, int, int], Citation] = {}
    sentences: list[Sentence] = []
    parts: list[str] = []
    for sentence in draft.sentences:
        marks: list[int] = []
        for quote in sentence.quotes:
            key = (quote.file, quote.char_start, quote.char_end)
            if key not in numbered:
                numbered[key] = replace(quote, n=len(numbered) + 1)
            if numbered[key].n not in marks:
                marks.append(numbered[key].n)
        text = sentence.text.strip()
        shown = f"{UNVERIFIED} {text}" if sentence.verdict == "unsupported" else text
        parts.append(shown + ("" if not marks else " " + "".join(f"[{n}]" for n in marks)))
        sentences.append(Sentence(text, tuple(marks), sentence.verdict))
    return " ".join(parts), list(numbered.values()), sentences


def with_metadata(citations: list[Citation], passages: Sequence[Passage]) -> list[Citation]:
    """The citations with their document's metadata (date, author, source, url) and the PDF page
    their quote starts on, taken from the passage they quote."""
    found = []
    for citation in citations:
        same = [p for p in passages if p.file == citation.file]
        holding = [p for p in same if p.char_start <= citation.char_start < p.char_end] or same
        if not holding:
            found.append(citation)
            continue
        passage = holding[0]
        found.append(
            replace(
                citation,
                date=passage.date,
                author=passage.author,
                source=passage.source,
                url=passage.url,
                page=passage.page_at(citation.char_start),
            )
        )
    return found
