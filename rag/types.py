"""Data passed between retrieval, answering and the front ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

REFUSAL = "Je ne trouve pas la réponse dans les articles."


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its place in the source file and its retrieval scores."""

    id: str
    file: str
    title: str
    text: str
    char_start: int
    char_end: int
    score: float  # fused (reciprocal rank fusion) score
    dense: float | None = None  # cosine similarity to the question, when the dense retriever found it
    lexical: float | None = None  # BM25 score, when BM25 found it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer: an exact quote of a corpus file and where it lies."""

    n: int
    file: str
    title: str
    quote: str
    char_start: int
    char_end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sentence:
    """A sentence of an answer and the citation numbers it carries."""

    text: str
    citations: tuple[int, ...]
    verdict: str = "supported"  # supported | unsupported (generative answerers)


@dataclass
class Answer:
    """The result of a question: what every front end formats."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    passages: list[Passage]
    sentences: list[Sentence] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    answerer: str = "extractive"
    standalone_question: str | None = None
    degraded: bool = False
    degraded_reason: str | None = None

    def to_dict(self, *, with_passages: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [asdict(s) for s in self.sentences],
            "answerer": self.answerer,
            "degraded": self.degraded,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.degraded_reason:
            data["degraded_reason"] = self.degraded_reason
        if self.standalone_question is not None:
            data["standalone_question"] = self.standalone_question
        if with_passages:
            data["passages"] = [p.to_dict() for p in self.passages]
        return data
