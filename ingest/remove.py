"""Removing documents: the corpus file goes, and so do its chunks and stored text, so the next sync
does not bring it back. An article of a dump goes with its whole dump (a line cannot be cut out of
someone's export); the error says so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ingest.lock import index_lock
from ingest.plan import source_file
from rag.compose import build_document_texts, open_chunk_store
from rag.corpus import is_inside
from rag.documents import DocumentNotFoundError, PartOfDumpError
from rag.engine import store_errors
from rag.settings import Settings
from vectorstore import Store


@dataclass
class RemoveReport:
    """What a removal did."""

    files: list[str] = field(default_factory=list)  # corpus files deleted
    documents: list[str] = field(default_factory=list)  # document ids gone from the index
    chunks_deleted: int = 0


def remove_documents(settings: Settings, ids: Sequence[str], *, store: Store | None = None) -> RemoveReport:
    """Delete the documents `ids` (or dumps, by their file name) from the corpus and the index, under
    the ingest lock. Nothing is deleted when one is unknown (DocumentNotFoundError) or is an article
    of a dump (PartOfDumpError)."""
    texts = build_document_texts(settings)
    with index_lock(settings.index_dir), store_errors():
        store = store or open_chunk_store(settings)
        chunks: dict[str, list[str]] = defaultdict(list)  # source file -> chunk ids
        documents: dict[str, set[str]] = defaultdict(set)  # source file -> document ids
        owner: dict[str, str] = {}  # document id -> source file
        for chunk_id, _, meta in store.iter_all(documents=False):
            path, doc_id = source_file(meta), str(meta.get("file", ""))
            chunks[path].append(chunk_id)
            documents[path].add(doc_id)
            owner[doc_id] = path
        files = []
        for doc_id in dict.fromkeys(ids):
            found = owner.get(doc_id) or (doc_id if doc_id in chunks else None)
            if found is None:
                raise DocumentNotFoundError(f"No document {doc_id!r} in the index.")
            path = found
            if path != doc_id:
                raise PartOfDumpError(
                    f"{doc_id!r} is one article of the dump {path!r}: remove its line from that file "
                    f"and run the ingest again, or remove the whole dump ({path!r})."
                )
            files.append(path)
        report = RemoveReport()
        for path in files:
            target = settings.corpus_dir / path
            if is_inside(settings.corpus_dir, target) and target.is_file():
                target.unlink()
                report.files.append(path)
            report.documents += sorted(documents[path])
            store.delete(chunks[path])
            report.chunks_deleted += len(chunks[path])
            texts.delete(sorted(documents[path]))
        if report.chunks_deleted:
            store.bump_generation()
        return report
