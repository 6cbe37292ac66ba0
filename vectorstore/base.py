"""What the rest of the code knows of a vector store: the `Store` protocol, its hits and its errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Meta = Mapping[str, Any]
Row = tuple[str, str, Meta]  # (id, document, metadata) of one chunk


class StoreError(Exception):
    """Base of the vector store's errors."""


class StoreUnavailable(StoreError):
    """The store cannot be opened or reached."""


class StoreMissing(StoreError):
    """The collection does not exist yet."""


class StoreMismatch(StoreError):
    """The collection was built with another embedding model."""


@dataclass(frozen=True)
class Hit:
    """One nearest-neighbour result."""

    id: str
    document: str
    metadata: Meta
    similarity: float


class Store(Protocol):
    """A collection of chunks (ids, documents, metadatas, embeddings) and its version: readers compare
    `version()` = (generation, count) to know when to rebuild what they derived from it. Implemented
    by `ChunkStore` (a Chroma collection) and `LazyStore` (one opened on first use)."""

    def version(self, *, fresh: bool = False) -> tuple[int, int]: ...
    def count(self) -> int: ...
    def bump_generation(self) -> int: ...
    def upsert(
        self, ids: Sequence[str], embeddings: Any, documents: Sequence[str], metadatas: Sequence[Meta]
    ) -> None: ...
    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Meta]) -> None: ...
    def delete(self, ids: Sequence[str]) -> None: ...
    def iter_all(self, *, documents: bool = True) -> Iterator[Row]: ...
    def query(
        self,
        embedding: Iterable[float],
        n: int,
        *,
        files: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]: ...
