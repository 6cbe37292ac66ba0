"""Numbering citations and composing the answer text with its `[n]` markers."""

from __future__ import annotations

from dataclasses import replace

from rag.answering.base import Draft
from rag.types import REFUSAL, Citation, Sentence


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
        parts.append(text + ("" if not marks else " " + "".join(f"[{n}]" for n in marks)))
        sentences.append(Sentence(text, tuple(marks), sentence.verdict))
    return " ".join(parts), list(numbered.values()), sentences
