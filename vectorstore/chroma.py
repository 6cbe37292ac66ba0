"""Chroma access: an embedded `PersistentClient` by default, an `HttpClient` when a host is given.

Collections use cosine distance and record the embedding model that built them; embeddings are
always passed in, so Chroma never loads an embedding function of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings

MODEL_KEY = "rag_embed_model"
GENERATION_KEY = "rag_generation"
PAGE = 5000


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
    metadata: Mapping[str, Any]
    similarity: float


def _client(index_dir: Path, host: str, port: int) -> ClientAPI:
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(index_dir), settings=settings)
    except (OSError, ValueError, RuntimeError, chromadb.errors.ChromaError) as exc:
        where = f"the Chroma server at {host}:{port}" if host else "the index directory"
        raise StoreUnavailable(f"Cannot open {where}: {exc.__class__.__name__}.") from exc


def open_store(
    *, index_dir: Path, collection: str, embed_model: str, host: str = "", port: int = 8000,
    create: bool = False,
) -> ChunkStore:
    """Open (or with `create`, create) the collection built by `embed_model`."""
    client = _client(index_dir, host, port)
    try:
        if create:
            col = client.get_or_create_collection(
                collection,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={MODEL_KEY: embed_model, GENERATION_KEY: 0},
                embedding_function=None,
            )
        else:
            col = client.get_collection(collection, embedding_function=None)
    except chromadb.errors.NotFoundError as exc:
        raise StoreMissing(f"The collection {collection!r} does not exist yet.") from exc
    except (OSError, ValueError, RuntimeError, chromadb.errors.ChromaError) as exc:
        raise StoreUnavailable(f"Cannot open the collection {collection!r}: {exc}") from exc
    built_with = (col.metadata or {}).get(MODEL_KEY)
    if built_with != embed_model:
        raise StoreMismatch(
            f"The index was built with the embedding model {built_with!r}, not {embed_model!r}. "
            "Run `rag ingest --rebuild` to rebuild it with the configured model."
        )
    return ChunkStore(client, col, embed_model)


def drop_collection(*, index_dir: Path, collection: str, host: str = "", port: int = 8000) -> None:
    """Delete a collection if it exists (used by `rag ingest --rebuild`)."""
    client = _client(index_dir, host, port)
    with contextlib.suppress(chromadb.errors.NotFoundError, ValueError):
        client.delete_collection(collection)


class ChunkStore:
    """A Chroma collection of chunks: ids, documents, metadatas and embeddings."""

    def __init__(self, client: ClientAPI, collection: Collection, embed_model: str) -> None:
        self.client = client
        self.collection = collection
        self.embed_model = embed_model

    @property
    def name(self) -> str:
        return self.collection.name

    def count(self) -> int:
        try:
            return self.collection.count()
        except chromadb.errors.NotFoundError:
            self.generation()  # follows a rebuilt collection, or raises StoreMissing
            return self.collection.count()

    def generation(self) -> int:
        """A counter that ingest bumps after every change, so readers know to refresh caches.
        Looking the collection up by name also follows a rebuild made by another process."""
        try:
            col = self.client.get_collection(self.collection.name, embedding_function=None)
        except chromadb.errors.NotFoundError as exc:
            raise StoreMissing(f"The collection {self.collection.name!r} no longer exists.") from exc
        except (OSError, ValueError, RuntimeError, chromadb.errors.ChromaError) as exc:
            raise StoreUnavailable(f"The vector store cannot be reached: {exc.__class__.__name__}.") from exc
        if (col.metadata or {}).get(MODEL_KEY) != self.embed_model:
            raise StoreMismatch(
                f"The index was rebuilt with the embedding model {(col.metadata or {}).get(MODEL_KEY)!r}, "
                f"not {self.embed_model!r}: restart with the same model or run `rag ingest --rebuild`."
            )
        if col.id != self.collection.id:
            self.collection = col
        return int((col.metadata or {}).get(GENERATION_KEY, 0))

    def bump_generation(self) -> int:
        current = self.generation()
        self.collection.modify(metadata={MODEL_KEY: self.embed_model, GENERATION_KEY: current + 1})
        return current + 1

    def upsert(
        self, ids: Sequence[str], embeddings: Any, documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        self.collection.upsert(
            ids=list(ids), embeddings=embeddings, documents=list(documents),
            metadatas=[dict(m) for m in metadatas],
        )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]) -> None:
        if ids:
            self.collection.update(ids=list(ids), metadatas=[dict(m) for m in metadatas])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            self.collection.delete(ids=list(ids[start : start + PAGE]))

    def iter_all(self, *, documents: bool = True) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """Every (id, document, metadata), paged so a large collection is not read at once."""
        include: list[Any] = ["metadatas", "documents"] if documents else ["metadatas"]
        offset = 0
        while True:
            page = self.collection.get(include=include, limit=PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            docs = page.get("documents") or [""] * len(ids)
            metas = page.get("metadatas") or [{}] * len(ids)
            for chunk_id, doc, meta in zip(ids, docs, metas, strict=True):
                yield chunk_id, doc or "", meta or {}
            offset += len(ids)

    def query(
        self, embedding: Sequence[float], n: int, *, files: Sequence[str] | None = None,
    ) -> list[Hit]:
        where: Any = {"file": {"$in": list(files)}} if files else None
        n = min(n, max(self.count(), 1))
        result = self.collection.query(
            query_embeddings=[list(map(float, embedding))], n_results=n, where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        docs = (result.get("documents") or [[]])[0]
        metas = (result.get("metadatas") or [[]])[0]
        dists = (result.get("distances") or [[]])[0]
        return [
            Hit(i, d or "", m or {}, 1.0 - float(dist))
            for i, d, m, dist in zip(ids, docs, metas, dists, strict=True)
        ]
