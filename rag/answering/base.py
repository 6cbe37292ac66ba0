"""The answerer interface: extractive today, generative answerers plug in without changing callers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rag.conversation import Message
from rag.types import Passage, Sentence


@dataclass
class Draft:
    """What an answerer returns: sentences with their `quotes` (`Citation`s with `n` = 0), which
    the engine numbers."""

    sentences: list[Sentence]
    refused: bool
    evidence: float = 0.0
    degraded_reason: str | None = None
    extra: dict[str, float] = field(default_factory=dict)
    path: str | None = None  # which path produced it (`rag.answering.arbiter`); None: the answerer's name


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

    def stream(self, question: str, passages: list[Passage], evidence: Evidence) -> Iterator[str | Draft]:
        """Yield text deltas as they come, then the final Draft."""
        ...

    def condense(self, messages: Sequence[Message]) -> str:
        """The standalone question to search for a conversation's last user message (an LLM may
        rewrite it; without one, `rag.conversation.condense`'s rules)."""
        ...

    def status(self) -> dict[str, Any] | None:
        """What readiness reports about the answerer (an LLM's circuit state); None: nothing."""
        ...
