"""Opening Chroma: an embedded `PersistentClient` by default, an `HttpClient` when a host is given; a
collection checked against its embedding model; a damaged embedded index moved aside on rebuild."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from vectorstore.base import StoreMissing, StoreUnavailable
from vectorstore.chroma import GENERATION_KEY, MODEL_KEY, REFRESH_S, ChunkStore, check_model

log = logging.getLogger(__name__)


def _location(index_dir: Path, host: str, port: int) -> str:
    return f"{host}:{port}" if host else str(index_dir.resolve())


def forget_chroma_system(index_dir: Path, *, in_use_too: bool = False) -> None:
    """Make Chroma drop its cached system for `index_dir` (if no client uses it, or `in_use_too`), so
    that the next client of this path starts a new one. Chroma keeps a system that failed to start and
    has no public way to drop one path's (`clear_system_cache()` drops all, open clients' included):
    hence its private maps here, and tests/test_vectorstore.py, which fails the day they change."""
    key = str(index_dir)
    if in_use_too or key not in SharedSystemClient._identifier_to_refcount:
        SharedSystemClient._identifier_to_system.pop(key, None)
        SharedSystemClient._identifier_to_refcount.pop(key, None)


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
        forget_chroma_system(index_dir)  # else a repaired index could not be opened without a restart
        raise StoreUnavailable(
            f"Cannot open the index in {index_dir}: it is damaged or was not written by Chroma "
            f"({exc.__class__.__name__}: {str(exc)[:120]}). Run `rag ingest --rebuild` to rebuild it "
            "from the corpus (stop `rag serve` first)."
        ) from exc


def open_store(
    *,
    index_dir: Path,
    collection: str,
    embed_model: str,
    host: str = "",
    port: int = 8000,
    create: bool = False,
) -> ChunkStore:
    """Open (or with `create`, create) the collection built by `embed_model`. Its `count()` and
    `version()` are cached for REFRESH_S seconds (its `refresh_s`; 0: always ask Chroma)."""
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
    check_model(col, embed_model)
    return ChunkStore(
        client, col, embed_model, location=_location(index_dir, host, port), refresh_s=REFRESH_S
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
    ChunkStore.writes_in_process[(_location(index_dir, host, port), collection)] += 1
    with contextlib.suppress(chromadb.errors.NotFoundError, ValueError):
        client.delete_collection(collection)


def _set_aside(index_dir: Path) -> None:
    aside = index_dir / time.strftime("damaged-%Y%m%d-%H%M%S")
    try:
        aside.mkdir()
        for item in index_dir.iterdir():
            if item != aside and not item.name.endswith(".lock") and not item.name.startswith("damaged-"):
                item.rename(aside / item.name)
    except OSError as exc:
        raise StoreUnavailable(f"Cannot move the damaged index aside: {exc.strerror}.") from exc
    forget_chroma_system(index_dir, in_use_too=True)  # a client of this process may hold the files moved
    log.warning("The index in %s could not be opened: its files were moved to %s.", index_dir, aside)
