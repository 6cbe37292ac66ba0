"""Readiness of an engine (its index open and non-empty, its search index built, its embedder
loaded) and the warm-up that pays at start what the first question would pay."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from rag.engine import Engine, store_errors
from rag.errors import EmbeddingModelMismatchError, IndexNotReadyError, RagError, StoreUnavailableError

log = logging.getLogger("rag.readiness")


@dataclass(frozen=True)
class Status:
    """Ready to answer, or the reason why not; the answerer's own state when it has one."""

    ready: bool
    chunks: int
    reason: str | None = None
    embed_model: str | None = None
    llm: dict[str, Any] | None = None


class Readiness:
    """Says whether `engine` can answer now, and warms it up."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
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
            self.engine.embedder.embed_query(["Pourquoi ?"])
            with store_errors():
                self.engine.retriever.bm25()
        except RagError as exc:
            log.warning("Warm-up stopped: %s", exc)
        finally:
            self._warming.clear()

    def status(self) -> Status:
        """Readiness: the index open and non-empty, warm-up over, the embedder loaded."""
        try:
            with store_errors():
                count = self.engine.store.count()
        except (IndexNotReadyError, StoreUnavailableError, EmbeddingModelMismatchError) as exc:
            return Status(ready=False, chunks=0, reason=str(exc))
        if count == 0:
            return Status(ready=False, chunks=0, reason="The index is empty: run `rag ingest`.")
        if self._warming.is_set():
            return Status(ready=False, chunks=count, reason="Warming up: building the search index.")
        return Status(
            ready=True,
            chunks=count,
            embed_model=self.engine.embedder.name,
            llm=self.engine.answerer.status(),
        )
