"""A store opened when first used, and opened again after a failure: what lets `rag serve` start
and report why it is not ready (a damaged index, a Chroma server down) instead of crashing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from vectorstore.base import Hit, Meta, Row, Store, StoreError


class LazyStore(Store):
    """The store of `opener()`, opened on first use and, while it cannot be opened, tried again at
    most every `retry_s`: a server started while its index is damaged or its Chroma server down
    answers 503 with the reason, and becomes ready once the store opens, without a restart."""

    def __init__(self, opener: Callable[[], Store], *, retry_s: float = 2.0) -> None:
        self._opener = opener
        self._retry_s = retry_s
        self._store: Store | None = None
        self._failure: tuple[float, StoreError] | None = None
        self._lock = threading.Lock()

    def opened(self) -> Store:
        with self._lock:
            if self._store is None:
                if self._failure and time.monotonic() - self._failure[0] < self._retry_s:
                    # A fresh exception each time: raising one object again grows its traceback.
                    raise type(self._failure[1])(*self._failure[1].args)
                try:
                    self._store = self._opener()
                except StoreError as exc:
                    self._failure = (time.monotonic(), exc)
                    raise
            return self._store

    def version(self, *, fresh: bool = False) -> tuple[int, int]:
        return self.opened().version(fresh=fresh)

    def count(self) -> int:
        return self.opened().count()

    def bump_generation(self) -> int:
        return self.opened().bump_generation()

    def upsert(
        self, ids: Sequence[str], embeddings: Any, documents: Sequence[str], metadatas: Sequence[Meta]
    ) -> None:
        self.opened().upsert(ids, embeddings, documents, metadatas)

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Meta]) -> None:
        self.opened().update_metadata(ids, metadatas)

    def delete(self, ids: Sequence[str]) -> None:
        self.opened().delete(ids)

    def iter_all(self, *, documents: bool = True) -> Iterator[Row]:
        return self.opened().iter_all(documents=documents)

    def query(
        self,
        embedding: Iterable[float],
        n: int,
        *,
        files: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        return self.opened().query(embedding, n, files=files, where=where)


def open_store_lazily(opener: Callable[[], Store], *, retry_s: float = 2.0) -> LazyStore:
    """`opener()`'s store, opened when first used (see LazyStore)."""
    return LazyStore(opener, retry_s=retry_s)
