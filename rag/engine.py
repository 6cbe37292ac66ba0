"""The engine: the one object every front end calls, and `build_engine`, the composition root."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rag.answering import Answerer, Draft, Evidence
from rag.answering.extractive import ExtractiveAnswerer
from rag.citations import compose
from rag.conversation import Message, condense
from rag.corpus import corpus_file, read_text, title_of
from rag.embedding import Embedder
from rag.errors import (
    EmbeddingModelMismatchError,
    IndexNotReadyError,
    InvalidQuestionError,
    RagError,
    StoreUnavailableError,
)
from rag.guard import bound_draft, clean_passage, neutralize
from rag.retrieval import HybridRetriever
from rag.settings import Settings
from rag.types import Answer, Citation, Passage
from vectorstore import (
    ChunkStore,
    StoreMismatch,
    StoreMissing,
    StoreUnavailable,
    open_store,
    open_store_lazily,
)


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


@dataclass
class Event:
    """One step of a streamed answer: retrieval, delta, citation, done."""

    type: str
    data: dict[str, Any]


log = logging.getLogger("rag.engine")


class Engine:
    """Retrieves passages and answers questions with citations."""

    def __init__(
        self, settings: Settings, *, embedder: Embedder, store: ChunkStore, answerer: Answerer,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.answerer = answerer
        self.retriever = HybridRetriever(store, candidates=settings.candidates, rrf_k=settings.rrf_k)
        self._warming = threading.Event()

    def start_warm_up(self) -> threading.Thread:
        """`warm_up` in a background thread; not ready from this call on until it ends."""
        self._warming.set()
        thread = threading.Thread(target=self.warm_up, name="rag-warm-up", daemon=True)
        thread.start()
        return thread

    def warm_up(self) -> None:
        """Pay now what the first question would pay: BM25 over the whole collection (about a
        minute at 100k chunks) and the model's first forward pass. While it runs, `status()` says
        not ready; a store that cannot be opened yet is left to `status()` to report."""
        self._warming.set()
        try:
            self.embedder.embed_cached(["Pourquoi ?"])
            with store_errors():
                self.retriever.bm25()
        except RagError as exc:
            log.warning("Warm-up stopped: %s", exc)
        finally:
            self._warming.clear()

    # -- inputs -----------------------------------------------------------------------------
    def check_question(self, question: str, top_k: int | None) -> tuple[str, int]:
        question = (question or "").strip()
        if not question:
            raise InvalidQuestionError("The question is empty.")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestionError(
                f"The question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars}."
            )
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= 50:
            raise InvalidQuestionError(f"top_k must be between 1 and 50, not {k}.")
        return question, k

    def check_conversation(self, messages: Sequence[Message]) -> None:
        limit, chars = self.settings.max_chat_messages, sum(len(m.content) for m in messages)
        if len(messages) > limit:
            raise InvalidQuestionError(
                f"The conversation has {len(messages)} messages; the limit is {limit}."
            )
        if chars > self.settings.max_chat_chars:
            raise InvalidQuestionError(
                f"The conversation is {chars} characters long; the limit is {self.settings.max_chat_chars}."
            )
        if not any(m.role == "user" and m.content.strip() for m in messages):
            raise InvalidQuestionError("The conversation has no user message to answer.")

    # -- retrieval --------------------------------------------------------------------------
    def retrieve(
        self, question: str, top_k: int | None = None, files: Sequence[str] | None = None,
        *, also: str | None = None,
    ) -> tuple[list[Passage], Evidence, dict[str, float]]:
        """Passages for a question (and, fused with them, for `also`: a follow-up's literal text)."""
        question, k = self.check_question(question, top_k)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        vector = self.embedder.embed_cached([question])[0]
        timings["embed"] = (time.perf_counter() - started) * 1000
        with store_errors():
            if self.store.count() == 0:
                raise IndexNotReadyError("The index is empty: run `rag ingest` first.")
            passages = self.retriever.retrieve(question, vector, k, files=files)
            if also and also.strip() != question:
                literal = self.retriever.retrieve(
                    also, self.embedder.embed_cached([also])[0], k, files=files
                )
                passages = interleave(passages, literal, k)
            bm25 = self.retriever.bm25()
        # Articles are untrusted: what speaks to a model, hides text or would run never reaches one.
        passages = [clean_passage(p) for p in passages]
        timings["retrieve"] = (time.perf_counter() - started) * 1000 - timings["embed"]
        return passages, Evidence(vector, self.embedder.embed_cached, bm25.idf, bm25.names), timings

    # -- answering --------------------------------------------------------------------------
    def ask(
        self, question: str, *, top_k: int | None = None, files: Sequence[str] | None = None,
        also: str | None = None,
    ) -> Answer:
        """Answer a question from the articles, with numbered citations."""
        started = time.perf_counter()
        passages, evidence, timings = self.retrieve(question, top_k, files, also=also)
        answered = time.perf_counter()
        draft = self.answerer.answer(question.strip(), passages, evidence)
        return self._finish(question.strip(), draft, passages, timings, answered, started)

    def ask_stream(
        self, question: str, *, top_k: int | None = None, files: Sequence[str] | None = None,
        also: str | None = None,
    ) -> Iterator[Event]:
        """Answer as a stream of events: retrieval, delta..., citation..., done (with the Answer)."""
        started = time.perf_counter()
        passages, evidence, timings = self.retrieve(question, top_k, files, also=also)
        yield Event("retrieval", {"passages": [p.to_dict() for p in passages]})
        answered = time.perf_counter()
        draft: Draft | None = None
        streamed = False
        sent = 0
        for item in self.answerer.stream(question.strip(), passages, evidence):
            if isinstance(item, str):
                streamed = True
                if sent < self.settings.max_answer_chars:  # the rest is cut from the final answer too
                    item = neutralize(item[: self.settings.max_answer_chars - sent])
                    sent += len(item)
                    yield Event("delta", {"text": item})
            else:
                draft = item
        assert draft is not None, "an answerer's stream must end with its Draft"
        answer = self._finish(question.strip(), draft, passages, timings, answered, started)
        if not streamed:
            # Extractive (or degraded) answers exist whole at once: stream them sentence by sentence.
            for i, piece in enumerate(_pieces(answer.answer)):
                yield Event("delta", {"text": piece if i == 0 else " " + piece})
        for citation in answer.citations:
            yield Event("citation", citation.to_dict())
        yield Event("done", {"answer": answer})

    def _finish(
        self, question: str, draft: Draft, passages: list[Passage], timings: dict[str, float],
        answered: float, started: float,
    ) -> Answer:
        text, citations, sentences = compose(bound_draft(draft, self.settings.max_answer_chars))
        now = time.perf_counter()
        timings = {**timings, "answer": (now - answered) * 1000, "total": (now - started) * 1000}
        return Answer(
            question=question, answer=text, refused=draft.refused, citations=citations,
            passages=passages, sentences=sentences, timings_ms=timings, answerer=self.answerer.name,
            degraded=draft.degraded_reason is not None, degraded_reason=draft.degraded_reason,
        )

    # -- conversations ----------------------------------------------------------------------
    def condense(self, messages: Sequence[Message]) -> str:
        """The standalone question for a conversation: by the LLM when there is one."""
        condenser = getattr(self.answerer, "condense", None)
        return str(condenser(messages)) if callable(condenser) else condense(messages)

    def chat(self, messages: Sequence[Message], *, top_k: int | None = None) -> Answer:
        """Answer the last user message of a conversation, searching a standalone question."""
        self.check_conversation(messages)
        standalone = self.condense(messages)
        answer = self.ask(standalone, top_k=top_k, also=_last_user(messages))
        answer.question = _last_user(messages)
        answer.standalone_question = standalone
        return answer

    def chat_stream(self, messages: Sequence[Message], *, top_k: int | None = None) -> Iterator[Event]:
        """Like `ask_stream`; the retrieval event also carries the standalone question."""
        self.check_conversation(messages)
        standalone = self.condense(messages)
        for event in self.ask_stream(standalone, top_k=top_k, also=_last_user(messages)):
            if event.type == "retrieval":
                event.data["standalone_question"] = standalone
            elif event.type == "done":
                event.data["answer"].question = _last_user(messages)
                event.data["answer"].standalone_question = standalone
            yield event

    # -- sources ----------------------------------------------------------------------------
    def source(self, file: str) -> tuple[str, str]:
        """Text and title of a corpus file, only if it is a file of the corpus."""
        path = corpus_file(self.settings.corpus_dir, file)
        text = read_text(path)
        return text, title_of(text)

    def status(self) -> dict[str, Any]:
        """Readiness: the index open and non-empty, the embedder loaded."""
        try:
            with store_errors():
                count = self.store.count()
        except (IndexNotReadyError, StoreUnavailableError, EmbeddingModelMismatchError) as exc:
            return {"ready": False, "reason": str(exc), "chunks": 0}
        if count == 0:
            return {"ready": False, "reason": "The index is empty: run `rag ingest`.", "chunks": 0}
        if self._warming.is_set():
            return {"ready": False, "reason": "Warming up: building the search index.", "chunks": count}
        status: dict[str, Any] = {"ready": True, "chunks": count, "embed_model": self.embedder.name}
        llm_status = getattr(self.answerer, "status", None)
        status["llm"] = llm_status() if callable(llm_status) else None
        return status


def interleave(first: list[Passage], second: list[Passage], k: int) -> list[Passage]:
    """Both rankings fused, best of each first, without duplicates."""
    merged: dict[str, Passage] = {}
    for pair in zip(first, second, strict=False):
        for passage in pair:
            merged.setdefault(passage.id, passage)
    for passage in first + second:
        merged.setdefault(passage.id, passage)
    return list(merged.values())[:k]


def _last_user(messages: Sequence[Message]) -> str:
    return next(m.content for m in reversed(messages) if m.role == "user")


def _pieces(answer: str) -> list[str]:
    return [p for p in re.split(r"(?<=\])\s+", answer) if p]


def build_answerer(settings: Settings) -> Answerer:
    extractive = ExtractiveAnswerer(
        refusal_threshold=settings.refusal_threshold, max_sentences=settings.max_answer_sentences
    )
    if settings.answerer == "extractive":
        return extractive
    from rag.answering.breaker import CircuitBreaker
    from rag.answering.generative import GenerativeAnswerer
    from rag.answering.llms import build_llm

    return GenerativeAnswerer(
        build_llm(settings), name=settings.answerer, fallback=extractive,
        breaker=CircuitBreaker(
            failures=settings.llm_breaker_failures, reset_after_s=settings.llm_breaker_reset_s
        ),
        drop_unsupported=settings.unsupported == "drop",
    )


def build_engine(
    settings: Settings, *, answerer: Answerer | None = None, embedder: Embedder | None = None,
    store: ChunkStore | None = None, create: bool = False, lazy: bool = False,
) -> Engine:
    """Turn settings into a ready engine. The only place where settings become objects. With
    `lazy`, the store opens on first use (and again after failures), so a server can start and
    say why it is not ready rather than exit."""
    embedder = embedder or Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    if store is None:

        def opener() -> ChunkStore:
            return open_store(
                index_dir=settings.index_dir, collection=settings.collection,
                embed_model=settings.embed_model, host=settings.chroma_host,
                port=settings.chroma_port, create=create,
            )

        with store_errors():
            store = open_store_lazily(opener) if lazy else opener()
    return Engine(settings, embedder=embedder, store=store, answerer=answerer or build_answerer(settings))


__all__ = ["Answer", "Citation", "Engine", "Event", "build_engine"]
