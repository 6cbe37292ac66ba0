"""A store opened when first used, and opened again after a failure: what lets `rag serve` start
and report why it is not ready (a damaged index, a Chroma server down) instead of crashing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, cast

from vectorstore.chroma import ChunkStore, StoreError


class LazyStore:
    """A ChunkStore opened on first use and, while it cannot be opened, tried again at most every
    `retry_s`: a server started while its index is damaged or its Chroma server down answers 503
    with the reason, and becomes ready once the store opens, without a restart."""

    def __init__(self, opener: Callable[[], ChunkStore], *, retry_s: float = 2.0) -> None:
        self._opener = opener
        self._retry_s = retry_s
        self._store: ChunkStore | None = None
        self._failure: tuple[float, StoreError] | None = None
        self._lock = threading.Lock()

    def opened(self) -> ChunkStore:
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

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends ask for these: never open for them
            raise AttributeError(name)
        return getattr(self.opened(), name)


def open_store_lazily(opener: Callable[[], ChunkStore], *, retry_s: float = 2.0) -> ChunkStore:
    """`opener()`'s store, opened when first used (see LazyStore), typed as the store it stands for."""
    return cast(ChunkStore, LazyStore(opener, retry_s=retry_s))
