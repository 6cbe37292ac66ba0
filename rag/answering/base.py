"""The answerer interface: extractive today, generative answerers plug in without changing callers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.types import Passage


@dataclass(frozen=True)
class Quote:
    """An exact passage of a corpus file that supports a sentence."""

    file: str
    title: str
    text: str
    char_start: int
    char_end: int
    score: float


@dataclass(frozen=True)
class DraftSentence:
    """A sentence of an answer with the quotes that support it."""

    text: str
    quotes: tuple[Quote, ...]
    verdict: str = "supported"


@dataclass
class Draft:
    """What an answerer returns; the engine numbers its citations."""

    sentences: list[DraftSentence]
    refused: bool
    evidence: float = 0.0
    degraded_reason: str | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Evidence:
    """What an answerer may use besides the passages: the question's vector, an embedding
    function for short texts, corpus term weights and the corpus's proper names."""

    query_vector: np.ndarray
    embed: Callable[[list[str]], np.ndarray]
    idf: Callable[[str], float]
    names: frozenset[str] = frozenset()


class Answerer(Protocol):
    """Turns a question and its retrieved passages into cited sentences (or a refusal)."""

    name: str

    def answer(self, question: str, passages: list[Passage], evidence: Evidence) -> Draft: ...

    def stream(
        self, question: str, passages: list[Passage], evidence: Evidence
    ) -> Iterator[str | Draft]:
        """Yield text deltas as they come, then the final Draft."""
        ...
