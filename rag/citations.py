"""Numbering citations and composing the answer text with its `[n]` markers."""

from __future__ import annotations

import re

from rag.answering.base import Draft
from rag.types import REFUSAL, Citation, Sentence

MARKER = re.compile(r"\[(\d+)\]")


def compose(draft: Draft) -> tuple[str, list[Citation], list[Sentence]]:
    """Number the draft's quotes from 1 in order of first use and write the answer text."""
    if draft.refused or not draft.sentences:
        return REFUSAL, [], []
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []
    sentences: list[Sentence] = []
    parts: list[str] = []
    for sentence in draft.sentences:
        marks: list[int] = []
        for quote in sentence.quotes:
            key = (quote.file, quote.char_start, quote.char_end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(
                    Citation(
                        n=numbers[key], file=quote.file, title=quote.title, quote=quote.text,
                        char_start=quote.char_start, char_end=quote.char_end, score=quote.score,
                    )
                )
            if numbers[key] not in marks:
                marks.append(numbers[key])
        text = sentence.text.strip()
        parts.append(text + ("" if not marks else " " + "".join(f"[{n}]" for n in marks)))
        sentences.append(Sentence(text=text, citations=tuple(marks), verdict=sentence.verdict))
    return " ".join(parts), citations, sentences


def markers(answer: str) -> list[int]:
    """The citation numbers used in an answer text, in order of appearance."""
    return [int(m) for m in MARKER.findall(answer)]


def strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text).strip()
