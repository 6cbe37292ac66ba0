"""Ingest entry point: lock the index, open (or rebuild) the collection and sync the corpus."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ingest.chunker import Chunker
from ingest.lock import index_lock
from ingest.sync import SyncReport, sync_corpus
from rag.compose import build_document_texts, build_embedder, drop_chunk_store, open_chunk_store
from rag.embedding import Embedder
from rag.engine import store_errors
from rag.progress import IngestProgress
from rag.settings import Settings
from rag.telemetry.metrics import counted_ingest
from vectorstore import Store


def make_chunker(settings: Settings, embedder: Embedder) -> Chunker:
    return Chunker(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        max_tokens=embedder.max_tokens,
        tokenize=embedder.count_tokens,
    )


@counted_ingest
def run_ingest(
    settings: Settings,
    *,
    paths: Iterable[Path] = (),
    rebuild: bool = False,
    embedder: Embedder | None = None,
    store: Store | None = None,
    progress: bool | None = None,
    on_skip: Callable[[str, str], None] | None = None,
    on_progress: Callable[[IngestProgress], None] | None = None,
) -> SyncReport:
    """Sync the corpus (or `paths` inside it) into the index, under the ingest lock; the text of
    each document is stored beside the index, where citations and the source view read it."""
    embedder = embedder or build_embedder(settings)
    chunker = make_chunker(settings, embedder)
    texts = build_document_texts(settings)
    with index_lock(settings.index_dir), store_errors():
        if store is None:
            if rebuild:
                drop_chunk_store(settings)
                texts.clear()
            store = open_chunk_store(settings, create=True)
        return sync_corpus(
            settings.corpus_dir,
            store,
            embedder,
            chunker,
            paths,
            page_size=settings.ingest_page,
            progress=progress,
            on_skip=on_skip,
            max_file_bytes=settings.max_file_bytes,
            texts=texts,
            on_progress=on_progress,
        )
