"""Hybrid retrieval: dense search in Chroma plus French BM25, fused by reciprocal rank fusion."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from threading import Lock
from typing import Any

import numpy as np

from rag.bm25 import Bm25Index, ChunkAnalyses
from rag.filters import DocumentFilter
from rag.telemetry.metrics import BM25_REBUILDS, BM25_SECONDS
from rag.telemetry.tracing import span
from rag.text import content_part
from rag.types import Passage
from vectorstore import Hit, Store


def _passage(
    chunk_id: str,
    text: str,
    meta: Mapping[str, Any],
    score: float,
    dense: float | None,
    lexical: float | None,
) -> Passage:
    return Passage(
        id=chunk_id,
        file=str(meta.get("file", "")),
        title=str(meta.get("title", "")),
        text=text,
        char_start=int(meta.get("char_start", 0)),
        char_end=int(meta.get("char_end", 0)),
        score=score,
        dense=dense,
        lexical=lexical,
        **document_fields(meta),
    )


def document_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A passage's document metadata from its chunk's: date, author, source, url and PDF pages."""
    fields: dict[str, Any] = {k: str(meta[k]) for k in ("date", "author", "source", "url") if meta.get(k)}
    if isinstance(meta.get("page"), int):
        fields["page"] = meta["page"]
        starts = str(meta.get("page_starts", ""))
        fields["page_starts"] = tuple(
            (int(page), int(offset)) for page, _, offset in (s.partition("@") for s in starts.split(";") if s)
        )
    return fields


class HybridRetriever:
    """Dense + BM25 retrieval over one store. The BM25 index is derived from the store's contents
    and rebuilt when the store's generation or size changes, so it is right after every sync and
    works the same with an embedded store or a Chroma server. The store caches its version for a
    second (see `ChunkStore.version`), so a query costs no extra round trip to Chroma."""

    def __init__(self, store: Store, *, candidates: int = 20, rrf_k: int = 60) -> None:
        self.store = store
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._bm25: Bm25Index | None = None
        self._analyses = ChunkAnalyses()  # survives rebuilds: only new chunks are analysed again
        self._version: tuple[int, int] | None = None
        self._lock = Lock()

    def bm25(self, *, fresh: bool = False) -> Bm25Index:
        """The BM25 index for the store's current contents (rebuilt only when they changed)."""
        version = self.store.version(fresh=fresh)
        with self._lock:
            if self._bm25 is None or version != self._version:
                started = time.perf_counter()
                with span("bm25_rebuild"):
                    # In file and chunk order, not the store's insertion order: BM25 breaks score ties
                    # by row, and the same corpus must rank the same however its ingests went.
                    rows = sorted(
                        self.store.iter_all(),
                        key=lambda r: (str(r[2].get("file", "")), int(r[2].get("chunk_index", 0)), r[0]),
                    )
                    self._bm25 = Bm25Index(rows, self._analyses)
                self._version = version
                BM25_REBUILDS.inc()
                BM25_SECONDS.observe(time.perf_counter() - started)
            return self._bm25

    def retrieve(
        self,
        question: str,
        query_vector: np.ndarray,
        top_k: int,
        files: Sequence[str] | None = None,
        restrict: DocumentFilter | None = None,
    ) -> list[Passage]:
        """The `top_k` best passages, among `files` and the documents `restrict` lets through (the
        same restriction on the dense and on the keyword side)."""
        bm25 = self.bm25()
        where = restrict.where() if restrict else None
        with span("dense_search"):
            dense_hits = (
                self.store.query(query_vector, self.candidates, files=files, where=where) if len(bm25) else []
            )
        with span("bm25"):
            if any(hit.id not in bm25.known for hit in dense_hits):
                # Dense search reads the store now, its version is cached for a second: a chunk that
                # BM25 has never seen means another process wrote, so catch up now, not a second late.
                bm25 = self.bm25(fresh=True)
            # « En quelle année » asks for a date: its words are not what the passage is about.
            lexical_hits = bm25.search(
                content_part(question) or question,
                self.candidates,
                files=files,
                allowed=restrict.matches if restrict else None,
            )
        with span("fusion"):
            return self._fuse(bm25, dense_hits, lexical_hits, top_k)

    def _fuse(
        self,
        bm25: Bm25Index,
        dense_hits: Sequence[Hit],
        lexical_hits: Sequence[tuple[int, float]],
        top_k: int,
    ) -> list[Passage]:
        """Reciprocal rank fusion of both rankings, each passage with its dense and BM25 scores."""
        fused: dict[str, float] = {}
        found: dict[str, tuple[str, Mapping[str, Any]]] = {}
        dense: dict[str, float] = {}
        lexical: dict[str, float] = {}
        for rank, hit in enumerate(dense_hits):
            fused[hit.id] = fused.get(hit.id, 0.0) + 1.0 / (self.rrf_k + rank + 1)
            found[hit.id] = (hit.document, hit.metadata)
            dense[hit.id] = hit.similarity
        for rank, (row, score) in enumerate(lexical_hits):
            chunk_id = bm25.ids[row]
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self.rrf_k + rank + 1)
            found.setdefault(chunk_id, (bm25.texts[row], bm25.metas[row]))
            lexical[chunk_id] = score
        ranked = sorted(fused, key=lambda i: (-fused[i], i))[:top_k]
        return [_passage(i, *found[i], fused[i], dense.get(i), lexical.get(i)) for i in ranked]


def interleave(first: list[Passage], second: list[Passage], k: int) -> list[Passage]:
    """Both rankings fused, best of each first, without duplicates."""
    merged: dict[str, Passage] = {}
    for pair in zip(first, second, strict=False):
        for passage in pair:
            merged.setdefault(passage.id, passage)
    for passage in first + second:
        merged.setdefault(passage.id, passage)
    return list(merged.values())[:k]
