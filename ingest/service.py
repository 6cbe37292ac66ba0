"""Ingest entry point: lock the index, open (or rebuild) the collection and sync the corpus."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ingest.chunker import Chunker
from ingest.lock import index_lock
from ingest.sync import SyncReport, sync_corpus
from rag.embedding import Embedder
from rag.engine import store_errors
from rag.settings import Settings
from vectorstore import ChunkStore, drop_collection, open_store


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    return Chunker(
        chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap,
        max_tokens=embedder.max_tokens, tokenize=embedder.count_tokens,
    )


def run_ingest(
    settings: Settings, *, paths: Iterable[Path] = (), rebuild: bool = False,
    embedder: Embedder | None = None, store: ChunkStore | None = None,
    progress: bool | None = None, on_skip: Callable[[str, str], None] | None = None,
) -> SyncReport:
    """Sync the corpus (or `paths` inside it) into the index, under the ingest lock."""
    embedder = embedder or Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    chunker = make_chunker(settings, embedder)
    with index_lock(settings.index_dir), store_errors():
        if store is None:
            location = {
                "index_dir": settings.index_dir, "collection": settings.collection,
                "host": settings.chroma_host, "port": settings.chroma_port,
            }
            if rebuild:
                drop_collection(**location)
            store = open_store(**location, embed_model=settings.embed_model, create=True)
        return sync_corpus(
            settings.corpus_dir, store, embedder, chunker, paths, page_size=settings.ingest_page,
            progress=progress, on_skip=on_skip, max_file_bytes=settings.max_file_bytes,
        )
