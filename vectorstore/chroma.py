"""`ChunkStore`: one Chroma collection of chunks, its reads and writes, how they fail (a server down, a
disk full), and the version readers follow. Embeddings are always passed in, so Chroma never loads an
embedding function of its own."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from vectorstore.base import Hit, Meta, Row, Store, StoreMismatch, StoreMissing, StoreUnavailable

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


def check_model(collection: Collection, embed_model: str) -> None:
    """StoreMismatch when `collection` was built (or rebuilt meanwhile) by another embedding model."""
    built = (collection.metadata or {}).get(MODEL_KEY)
    if built != embed_model:
        raise StoreMismatch(
            f"The index was built with the embedding model {built!r}, not {embed_model!r}. Run `rag ingest "
            "--rebuild` to rebuild it with the configured model, or restart with the index's model."
        )


@contextlib.contextmanager
def reaching(action: str, location: str = "") -> Iterator[None]:
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


def check_space(location: str) -> None:
    """StoreUnavailable when the disk holding an embedded index has less than MIN_FREE_BYTES free."""
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


class ChunkStore(Store):
    """A Chroma collection of chunks: ids, documents, metadatas and embeddings."""

    # Writes made in this process per (location, collection), shared on purpose: an ingest's store and
    # a server's on one collection see each other's writes at once (Chroma has no write counter).
    writes_in_process: ClassVar[Counter[tuple[str, str]]] = Counter()

    def __init__(
        self, client: ClientAPI, collection: Collection, embed_model: str, *, location: str, refresh_s: float
    ) -> None:
        self.client = client
        self.collection = collection
        self.embed_model = embed_model
        self.refresh_s = refresh_s
        self._key = (location, collection.name)
        # (checked at, local writes then, generation, count): one round trip per refresh_s, not per query.
        self._seen: tuple[float, int, int, int] | None = None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write to the collection: failures become StoreUnavailable, and once it is done every
        ChunkStore of this process on the collection notices it at once."""
        with reaching("write to the index", self._key[0]):
            yield
        self.writes_in_process[self._key] += 1

    def version(self, *, fresh: bool = False) -> tuple[int, int]:
        """(generation, count) of the collection, at most `refresh_s` old (read now if `fresh`), and
        never older than this process's last write: readers compare it to refresh what they derived."""
        writes, now, seen = self.writes_in_process[self._key], time.monotonic(), self._seen
        if not fresh and seen is not None and seen[1] == writes and now - seen[0] < self.refresh_s:
            return seen[2], seen[3]
        generation = self.generation()  # follows a rebuilt collection, or raises StoreMissing
        try:
            with reaching("read the index"):
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
        check_model(col, self.embed_model)
        if col.id != self.collection.id:
            self.collection = col
        return int((col.metadata or {}).get(GENERATION_KEY, 0))

    def bump_generation(self) -> int:
        current = self.generation()
        with self._writing():
            self.collection.modify(metadata={MODEL_KEY: self.embed_model, GENERATION_KEY: current + 1})
        return current + 1

    def upsert(
        self, ids: Sequence[str], embeddings: Any, documents: Sequence[str], metadatas: Sequence[Meta]
    ) -> None:
        check_space(self._key[0])
        with self._writing():
            self.collection.upsert(
                ids=list(ids),
                embeddings=embeddings,
                documents=list(documents),
                metadatas=[dict(m) for m in metadatas],
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Meta]) -> None:
        if ids:
            with self._writing():
                self.collection.update(ids=list(ids), metadatas=[dict(m) for m in metadatas])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            with self._writing():
                self.collection.delete(ids=list(ids[start : start + PAGE]))

    def iter_all(self, *, documents: bool = True) -> Iterator[Row]:
        """Every (id, document, metadata), paged so a large collection is not read at once."""
        include: list[Any] = ["metadatas", "documents"] if documents else ["metadatas"]
        offset = 0
        while True:
            with reaching("read the index"):
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
        self,
        embedding: Iterable[float],
        n: int,
        *,
        files: Sequence[str] | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """The `n` chunks nearest to `embedding`, among those of `files` and matching the metadata
        filter `where` (a Chroma where clause), when given."""
        clauses: list[Any] = [{"file": {"$in": list(files)}}] if files else []
        clauses += [dict(where)] if where else []
        where_clause: Any = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        vector: Sequence[float] = [float(x) for x in embedding]
        n = min(n, max(self.count(), 1))
        with reaching("read the index"):
            result = self.collection.query(
                query_embeddings=[vector],
                n_results=n,
                where=where_clause,
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
