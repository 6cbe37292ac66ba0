"""The answer model: passages, citations, sentences and answers, as every front end and the HTTP API
serialize them (pydantic dataclasses: their JSON schema is the one `/openapi.json` publishes)."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, field_serializer
from pydantic.dataclasses import dataclass

REFUSAL = "Je ne trouve pas la réponse dans les articles."
UNVERIFIED = "(non vérifiée)"
"""Written before a generated sentence no passage supports (`RAG_UNSUPPORTED=mark`), so that a client
showing only the answer text (an OpenAI-compatible chat) shows the flag too."""

Support = Literal["supported", "unsupported"]
"""A sentence's verdict: generative answerers mark the sentences their passages do not support."""

# A field with a default is still always in the JSON, so the published schema requires it; the
# fields left out when empty (`exclude_if`) stay optional.
MODEL = ConfigDict(json_schema_serialization_defaults_required=True)


@dataclass(frozen=True, config=MODEL)
class Passage:
    """A retrieved chunk with its place in the source file and its retrieval scores."""

    id: str
    file: str
    title: str
    text: str
    char_start: int
    char_end: int
    score: Annotated[float, Field(description="Fused (reciprocal rank fusion) score.")]
    dense: Annotated[
        float | None, Field(description="Cosine similarity to the question, if dense search found it.")
    ] = None
    lexical: Annotated[float | None, Field(description="BM25 score, if BM25 found it.")] = None
    date: Annotated[str | None, Field(description="The document's date (YYYY-MM-DD), if known.")] = None
    author: Annotated[str | None, Field(description="The document's author, if known.")] = None
    source: Annotated[str | None, Field(description="The site or paper it comes from, if known.")] = None
    url: Annotated[str | None, Field(description="Where the document was published, if known.")] = None
    page: Annotated[int | None, Field(description="PDF page the passage starts on.")] = None
    page_starts: Annotated[tuple[tuple[int, int], ...], Field(exclude=True)] = ()  # (page, offset) inside

    def page_at(self, offset: int) -> int | None:
        """The PDF page holding character `offset` of the document, if it lies in this passage."""
        page = self.page
        for number, start in self.page_starts:
            if start <= offset:
                page = number
        return page

    def to_dict(self) -> dict[str, Any]:
        return dict(_PASSAGE.dump_python(self, mode="json"))


@dataclass(frozen=True, config=MODEL)
class Citation:
    """An exact quote of a corpus file, where it lies and how well it supports its sentence. An
    answerer quotes with `n` = 0; the engine numbers citations from 1 in order of first use."""

    n: Annotated[int, Field(description="The number the answer's [n] markers refer to.")]
    file: str
    title: str
    quote: Annotated[str, Field(description="Exact text of the source file between char_start and char_end.")]
    char_start: int
    char_end: int
    score: float
    date: Annotated[str | None, Field(description="The document's date (YYYY-MM-DD), if known.")] = None
    author: Annotated[str | None, Field(description="The document's author, if known.")] = None
    source: Annotated[str | None, Field(description="The site or paper it comes from, if known.")] = None
    url: Annotated[str | None, Field(description="Where the document was published, if known.")] = None
    page: Annotated[int | None, Field(description="PDF page the quote starts on.")] = None

    def to_dict(self) -> dict[str, Any]:
        return dict(_CITATION.dump_python(self, mode="json"))


@dataclass(frozen=True, config=MODEL)
class Sentence:
    """A sentence of an answer with the numbers of its citations. An answerer drafts it with its
    `quotes` instead; the engine numbers them into `citations` (quotes are not serialized)."""

    text: str
    citations: tuple[int, ...] = ()
    verdict: Support = "supported"
    quotes: Annotated[tuple[Citation, ...], Field(exclude=True)] = ()


@dataclass(config=MODEL)
class Answer:
    """The result of a question: what every front end formats, and the body of `/v1/ask`."""

    question: str
    answer: Annotated[str, Field(description="The answer, with [n] markers that refer to `citations`.")]
    refused: bool
    citations: list[Citation]
    passages: Annotated[list[Passage], Field(exclude=True)]  # serialized on request: `to_dict`
    sentences: list[Sentence] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    answerer: str = "extractive"
    path: Annotated[
        str,
        Field(
            description="What produced the answer: `extractive` (quoted evidence), `llm` (the LLM's "
            "verified answer), `llm_with_evidence` (that answer, then the quoted evidence), "
            "`extractive_over_llm_refusal` (the LLM declined, the evidence was strong), "
            "`extractive_over_unsupported_llm` (the LLM's key claim failed verification), "
            "`llm_refused`, `llm_unsupported` or `refused_weak_evidence` (a refusal)."
        ),
    ] = "extractive"
    standalone_question: Annotated[
        str | None,
        Field(exclude_if=lambda q: q is None, description="The question searched for a follow-up."),
    ] = None
    degraded: bool = False
    degraded_reason: Annotated[str | None, Field(exclude_if=lambda r: not r)] = None
    conversation_id: Annotated[
        str | None,
        Field(exclude_if=lambda i: i is None, description="The saved conversation (HTTP API, when saving)."),
    ] = None
    turn_id: Annotated[
        str | None,
        Field(exclude_if=lambda i: i is None, description="The saved answer, for `POST /v1/feedback`."),
    ] = None

    @field_serializer("timings_ms")
    def _rounded(self, timings: dict[str, float]) -> dict[str, float]:
        return {step: round(ms, 2) for step, ms in timings.items()}

    def to_dict(self, *, with_passages: bool = False) -> dict[str, Any]:
        """The JSON object of `rag ask --json` and `/v1/ask`; with the passages if asked."""
        data = dict(_ANSWER.dump_python(self, mode="json"))
        if with_passages:
            data["passages"] = [p.to_dict() for p in self.passages]
        return data


_PASSAGE = TypeAdapter(Passage)
_CITATION = TypeAdapter(Citation)
_ANSWER = TypeAdapter(Answer)
