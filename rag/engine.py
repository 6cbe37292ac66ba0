"""The engine: the one object every front end calls (`ask`, `ask_stream`, `chat`, `chat_stream`),
with the timing of each step; what it is asked passes `rag.input_checks`. `rag.compose` builds it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rag.answering import Answerer, Draft, Evidence
from rag.citations import compose, with_metadata
from rag.conversation import Message
from rag.embedding import Embedder
from rag.errors import EmbeddingModelMismatchError, IndexNotReadyError, StoreUnavailableError
from rag.events import CitationEvent, DeltaEvent, DoneEvent, Event, RetrievalEvent
from rag.filters import DocumentFilter
from rag.guard import StreamGuard, bound_draft, clean_passage
from rag.input_checks import check_conversation, check_question
from rag.limits import Limits
from rag.markers import marked_pieces
from rag.retrieval import HybridRetriever, interleave
from rag.telemetry.metrics import record_answer
from rag.telemetry.tracing import Span, describe, detached_span, span, steps, traced, within
from rag.types import Answer, Passage
from vectorstore import Store, StoreMismatch, StoreMissing, StoreUnavailable


@contextmanager
def store_errors() -> Iterator[None]:
    """Translate vector store errors into the service's own, with advice for the reader."""
    try:
        yield
    except StoreMissing as exc:
        raise IndexNotReadyError("The index is empty or missing: run `rag ingest` first.") from exc
    except StoreMismatch as exc:
        raise EmbeddingModelMismatchError(str(exc)) from exc
    except StoreUnavailable as exc:
        raise StoreUnavailableError(str(exc)) from exc


@dataclass(frozen=True)
class _Query:
    """What to search (`text`) and, in a conversation, its last message (searched too, and shown
    as the question) with the standalone question it became."""

    text: str
    top_k: int | None
    files: Sequence[str] | None = None
    asked: str | None = None
    standalone: str | None = None
    restrict: DocumentFilter | None = None


class Engine:
    """Retrieves passages and answers questions and conversations with citations."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        retriever: HybridRetriever,
        answerer: Answerer,
        limits: Limits,
    ) -> None:
        self.embedder = embedder
        self.retriever = retriever
        self.answerer = answerer
        self.limits = limits

    @property
    def store(self) -> Store:
        return self.retriever.store

    # -- retrieval --------------------------------------------------------------------------
    @traced("retrieve")
    def retrieve(
        self,
        question: str,
        top_k: int | None = None,
        files: Sequence[str] | None = None,
        *,
        also: str | None = None,
        restrict: DocumentFilter | None = None,
    ) -> tuple[list[Passage], Evidence, dict[str, float]]:
        """Passages for a question (and, fused with them, for `also`: a follow-up's literal text),
        from the documents `restrict` lets through (a date range, sources)."""
        question, k = check_question(question, top_k, self.limits)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with span("embed"):
            vector = self.embedder.embed_query([question])[0]
        timings["embed"] = (time.perf_counter() - started) * 1000
        with store_errors():
            if self.store.count() == 0:
                raise IndexNotReadyError("The index is empty: run `rag ingest` first.")
            passages = self.retriever.retrieve(question, vector, k, files=files, restrict=restrict)
            if also and also.strip() != question:
                also_vector = self.embedder.embed_query([also])[0]
                literal = self.retriever.retrieve(also, also_vector, k, files=files, restrict=restrict)
                passages = interleave(passages, literal, k)
            bm25 = self.retriever.bm25()
        # Articles are untrusted: what speaks to a model, hides text or would run never reaches one.
        passages = [clean_passage(p) for p in passages]
        timings["retrieve"] = (time.perf_counter() - started) * 1000 - timings["embed"]
        return passages, Evidence(vector, self.embedder.embed_cached, bm25.idf, bm25.names), timings

    # -- answering --------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        files: Sequence[str] | None = None,
        restrict: DocumentFilter | None = None,
    ) -> Answer:
        """Answer a question from the articles (those `restrict` lets through), with numbered citations."""
        with span("question") as root:
            return observed(root, self._answer(_Query(question, top_k, files, restrict=restrict)))

    def ask_stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        files: Sequence[str] | None = None,
        restrict: DocumentFilter | None = None,
    ) -> Iterator[Event]:
        """Answer as a stream of events: retrieval, delta..., citation..., done (with the Answer)."""
        with detached_span("question") as root:
            yield from self._stream(_Query(question, top_k, files, restrict=restrict), root)

    def chat(
        self, messages: Sequence[Message], *, top_k: int | None = None, restrict: DocumentFilter | None = None
    ) -> Answer:
        """Answer the last user message of a conversation, searching a standalone question."""
        with span("question") as root:
            return observed(root, self._answer(self._conversation(messages, top_k, restrict)))

    def chat_stream(
        self, messages: Sequence[Message], *, top_k: int | None = None, restrict: DocumentFilter | None = None
    ) -> Iterator[Event]:
        """Like `ask_stream`; the retrieval event also carries the standalone question."""
        with detached_span("question") as root:
            with within(root):
                query = self._conversation(messages, top_k, restrict)
            yield from self._stream(query, root)

    def _conversation(
        self, messages: Sequence[Message], top_k: int | None, restrict: DocumentFilter | None = None
    ) -> _Query:
        check_conversation(messages, self.limits)
        with span("condense"):
            standalone = self.answerer.condense(messages)
        last = next(m.content for m in reversed(messages) if m.role == "user")
        return _Query(standalone, top_k, asked=last, standalone=standalone, restrict=restrict)

    def _answer(self, query: _Query) -> Answer:
        started = time.perf_counter()
        passages, evidence, timings = self.retrieve(
            query.text, query.top_k, query.files, also=query.asked, restrict=query.restrict
        )
        answered = time.perf_counter()
        with span("answer"):
            draft = self.answerer.answer(query.text.strip(), passages, evidence)
        return self._finish(query, draft, passages, timings, answered, started)

    def _stream(self, query: _Query, root: Span) -> Iterator[Event]:
        # Each step may run in another thread: spans are entered per step, never across a yield.
        started = time.perf_counter()
        with within(root):
            passages, evidence, timings = self.retrieve(
                query.text, query.top_k, query.files, also=query.asked, restrict=query.restrict
            )
        yield RetrievalEvent(tuple(passages), standalone_question=query.standalone)
        answered = time.perf_counter()
        draft: Draft | None = None
        streamed, sent, limit, guard = False, 0, self.limits.max_answer_chars, StreamGuard()
        with detached_span("answer", parent=root) as answering:
            for item in steps(self.answerer.stream(query.text.strip(), passages, evidence), answering):
                if isinstance(item, str):
                    streamed = True
                    if sent < limit:  # the rest is cut from the final answer too
                        item = guard.feed(item[: limit - sent])
                        sent += len(item)
                        if item:
                            yield DeltaEvent(item)
                else:
                    draft = item
        assert draft is not None, "an answerer's stream must end with its Draft"
        if rest := guard.flush():
            yield DeltaEvent(rest)
        answer = observed(root, self._finish(query, draft, passages, timings, answered, started))
        if not streamed:
            # Extractive (or degraded) answers exist whole at once: stream them sentence by sentence.
            for i, piece in enumerate(marked_pieces(answer.answer)):
                yield DeltaEvent(piece if i == 0 else " " + piece)
        for citation in answer.citations:
            yield CitationEvent(citation)
        yield DoneEvent(answer)

    def _finish(
        self,
        query: _Query,
        draft: Draft,
        passages: list[Passage],
        timings: dict[str, float],
        answered: float,
        started: float,
    ) -> Answer:
        text, citations, sentences = compose(bound_draft(draft, self.limits.max_answer_chars))
        citations = with_metadata(citations, passages)
        now = time.perf_counter()
        timings = {**timings, "answer": (now - answered) * 1000, "total": (now - started) * 1000}
        return Answer(
            question=query.text.strip() if query.asked is None else query.asked,
            answer=text,
            refused=draft.refused,
            citations=citations,
            passages=passages,
            sentences=sentences,
            timings_ms=timings,
            answerer=self.answerer.name,
            path=draft.path or "extractive",
            standalone_question=query.standalone,
            degraded=draft.degraded_reason is not None,
            degraded_reason=draft.degraded_reason,
        )


def observed(root: Span, answer: Answer) -> Answer:
    """The answer, counted in the metrics and described on its question's span."""
    record_answer(answer)
    describe(root, answer)
    return answer


__all__ = ["Engine", "store_errors"]
