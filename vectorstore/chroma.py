"""Chroma access: an embedded `PersistentClient` by default, an `HttpClient` when a host is given.

Collections use cosine distance and record the embedding model that built them; embeddings are
always passed in, so Chroma never loads an embedding function of its own.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

log = logging.getLogger(__name__)

MODEL_KEY = "rag_embed_model"
GENERATION_KEY = "rag_generation"
PAGE = 5000
MIN_FREE_BYTES = 32 * 2**20
"""Free space kept on the disk of an embedded index: a write is refused below it, with a clear error,
rather than run the disk full (on a full disk Chroma may hang instead of failing)."""
REFRESH_S = 1.0
"""How long a reader trusts the collection's (generation, count) before asking Chroma again: the
bound on how late it notices a change made by another process. Writes made in this process are
noticed at once."""

# Writes made in this process, per (location, collection): every ChunkStore on the same collection
# (an ingest's and a server's engine's) sees them at once, without asking Chroma.
_local_writes: Counter[tuple[str, str]] = Counter()


def _location(index_dir: Path, host: str, port: int) -> str:
    return f"{host}:{port}" if host else str(index_dir.resolve())


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
    if host:
        try:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        except (OSError, ValueError, RuntimeError, chromadb.errors.ChromaError, httpx.HTTPError) as exc:
            raise StoreUnavailable(
                f"Cannot reach the Chroma server at {host}:{port} ({exc.__class__.__name__}): start it, "
                "or check RAG_CHROMA_HOST and RAG_CHROMA_PORT."
            ) from exc
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"Cannot create the index directory {index_dir}: {exc.strerror}.") from exc
    try:
        return chromadb.PersistentClient(path=str(index_dir), settings=settings)
    except (OSError, ValueError, RuntimeError, chromadb.errors.ChromaError) as exc:
        # Chroma caches a system per path before starting it: one that failed would be handed to
        # every later client of this path, so a repaired index could not be opened without a restart.
        if str(index_dir) not in SharedSystemClient._identifier_to_refcount:
            _forget_system(index_dir)
        raise StoreUnavailable(
            f"Cannot open the index in {index_dir}: it is damaged or was not written by Chroma "
            f"({exc.__class__.__name__}: {str(exc)[:120]}). Run `rag ingest --rebuild` to rebuild it "
            "from the corpus (stop `rag serve` first)."
        ) from exc


@contextlib.contextmanager
def _reaching(action: str, location: str = "") -> Iterator[None]:
    """Store calls fail fast with StoreUnavailable when a Chroma server is down (it recovers by
    itself once the server is back), or when a write cannot be made (disk full, read-only)."""
    try:
        yield
    except httpx.TransportError as exc:
        raise StoreUnavailable(
            f"The Chroma server cannot be reached ({exc.__class__.__name__}) to {action}: start it "
            "again; requests succeed again as soon as it answers."
        ) from exc
    except (OSError, chromadb.errors.InternalError) as exc:
        if action.startswith("read"):
            raise
        reason = str(exc)[:160]
        # Chroma does not always say why a write failed (a compaction error, say): look at the disk.
        with contextlib.suppress(OSError):
            if location.startswith("/") and shutil.disk_usage(location).free < 2**21:
                reason = f"the disk holding the index is full; {reason}"
        raise StoreUnavailable(
            f"Cannot {action} ({reason}): the index keeps what it held before this step. "
            "Free some space (or make the index writable), then run `rag ingest` again."
        ) from exc


def open_store(
    *, index_dir: Path, collection: str, embed_model: str, host: str = "", port: int = 8000,
    create: bool = False, refresh_s: float = REFRESH_S,
) -> ChunkStore:
    """Open (or with `create`, create) the collection built by `embed_model`. Its `count()` and
    `version()` are cached for `refresh_s` seconds (0: always ask Chroma)."""
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
    return ChunkStore(
        client, col, embed_model, location=_location(index_dir, host, port), refresh_s=refresh_s
    )


def drop_collection(*, index_dir: Path, collection: str, host: str = "", port: int = 8000) -> None:
    """Delete a collection if it exists (used by `rag ingest --rebuild`). An embedded index too
    damaged to open is moved aside whole, into `damaged-<time>` inside the index directory."""
    try:
        client = _client(index_dir, host, port)
    except StoreUnavailable:
        if host or not (index_dir / "chroma.sqlite3").exists():
            raise
        _set_aside(index_dir)
        return
    _local_writes[(_location(index_dir, host, port), collection)] += 1
    with contextlib.suppress(chromadb.errors.NotFoundError, ValueError):
        client.delete_collection(collection)


def _forget_system(index_dir: Path) -> None:
    SharedSystemClient._identifier_to_system.pop(str(index_dir), None)
    SharedSystemClient._identifier_to_refcount.pop(str(index_dir), None)


def _set_aside(index_dir: Path) -> None:
    aside = index_dir / time.strftime("damaged-%Y%m%d-%H%M%S")
    try:
        aside.mkdir()
        for item in index_dir.iterdir():
            if item != aside and not item.name.endswith(".lock") and not item.name.startswith("damaged-"):
                item.rename(aside / item.name)
    except OSError as exc:
        raise StoreUnavailable(f"Cannot move the damaged index aside: {exc.strerror}.") from exc
    _forget_system(index_dir)  # a client of this process may still hold the files moved away
    log.warning("The index in %s could not be opened: its files were moved to %s.", index_dir, aside)


class ChunkStore:
    """A Chroma collection of chunks: ids, documents, metadatas and embeddings."""

    def __init__(
        self, client: ClientAPI, collection: Collection, embed_model: str, *, location: str = "",
        refresh_s: float = 0.0,
    ) -> None:
        self.client = client
        self.collection = collection
        self.embed_model = embed_model
        self.refresh_s = refresh_s
        self._key = (location or f"client-{id(client)}", collection.name)
        # (checked at, local writes then, generation, count): one round trip per refresh_s, not per query.
        self._seen: tuple[float, int, int, int] | None = None

    @property
    def name(self) -> str:
        return self.collection.name

    @property
    def local_writes(self) -> int:
        """How many writes this process has made to the collection (through any ChunkStore)."""
        return _local_writes[self._key]

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write to the collection: failures become StoreUnavailable, and once it is done every
        ChunkStore of this process on the collection notices it at once."""
        with _reaching("write to the index", self._key[0]):
            yield
        _local_writes[self._key] += 1

    def version(self, *, fresh: bool = False) -> tuple[int, int]:
        """(generation, count) of the collection, at most `refresh_s` old (read now if `fresh`), and
        never older than this process's last write. Readers compare it to know when to refresh what
        they derived."""
        writes, now = self.local_writes, time.monotonic()
        seen = self._seen
        if not fresh and seen is not None and seen[1] == writes and now - seen[0] < self.refresh_s:
            return seen[2], seen[3]
        generation = self.generation()  # follows a rebuilt collection, or raises StoreMissing
        try:
            with _reaching("read the index"):
                count = self.collection.count()
        except chromadb.errors.NotFoundError:
            generation = self.generation()  # rebuilt between the two calls
            count = self.collection.count()
        self._seen = (now, writes, generation, count)
        return generation, count

    def count(self) -> int:
        return self.version()[1]

    def generation(self) -> int:
        """A counter that ingest bumps after every change, so readers know to refresh caches.
        Looking the collection up by name also follows a rebuild made by another process."""
        try:
            col = self.client.get_collection(self.collection.name, embedding_function=None)
        except chromadb.errors.NotFoundError as exc:
            raise StoreMissing(f"The collection {self.collection.name!r} no longer exists.") from exc
        except (OSError, ValueError, RuntimeError, chromadb.errors.ChromaError, httpx.TransportError) as exc:
            raise StoreUnavailable(
                f"The vector store cannot be reached ({exc.__class__.__name__}): if it is a Chroma "
                "server, start it again; requests succeed again as soon as it answers."
            ) from exc
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
        with self._writing():
            self.collection.modify(metadata={MODEL_KEY: self.embed_model, GENERATION_KEY: current + 1})
        return current + 1

    def _check_space(self) -> None:
        location = self._key[0]
        try:
            free = shutil.disk_usage(location).free if location.startswith("/") else MIN_FREE_BYTES
        except OSError:
            return
        if free < MIN_FREE_BYTES:
            raise StoreUnavailable(
                f"The disk holding the index has {free / 2**20:.0f} MiB free, under the "
                f"{MIN_FREE_BYTES / 2**20:.0f} MiB kept in reserve: the index keeps what it held before "
                "this step. Free some space, then run `rag ingest` again."
            )

    def upsert(
        self, ids: Sequence[str], embeddings: Any, documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        self._check_space()
        with self._writing():
            self.collection.upsert(
                ids=list(ids), embeddings=embeddings, documents=list(documents),
                metadatas=[dict(m) for m in metadatas],
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, Any]]) -> None:
        if ids:
            with self._writing():
                self.collection.update(ids=list(ids), metadatas=[dict(m) for m in metadatas])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            with self._writing():
                self.collection.delete(ids=list(ids[start : start + PAGE]))

    def iter_all(self, *, documents: bool = True) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """Every (id, document, metadata), paged so a large collection is not read at once."""
        include: list[Any] = ["metadatas", "documents"] if documents else ["metadatas"]
        offset = 0
        while True:
            with _reaching("read the index"):
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
        with _reaching("read the index"):
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
