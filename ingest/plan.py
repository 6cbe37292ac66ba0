"""What a sync must do: read the corpus files that changed (an unchanged file, by the hash of its
bytes, is not read again), and compare their chunks and documents with what the index holds."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ingest.chunker import Chunk, Chunker
from ingest.loader import Article, SkippedFile, file_sha, find_files, load_documents, relative_name
from rag.documents import DocumentTexts, StoredDocument
from rag.progress import IngestProgress
from vectorstore import Store

Report = Callable[[str, str], None]
"""(file, reason): a file, or a part of one, left out."""


@dataclass
class FileChanges:
    """The corpus files by what a sync does with them: what a plan finds and a report tells."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # parts of files left out


@dataclass
class Plan(FileChanges):
    """The changes that make the index mirror the files."""

    to_write: list[Chunk] = field(default_factory=list)
    to_relabel: list[Chunk] = field(default_factory=list)
    to_delete: list[str] = field(default_factory=list)
    documents: list[StoredDocument] = field(default_factory=list)
    documents_gone: list[str] = field(default_factory=list)
    files: int = 0


def source_file(meta: Mapping[str, Any]) -> str:
    """The corpus file a stored chunk was read from."""
    return str(meta.get("path") or meta.get("file", ""))


def _is_complete(stored: Mapping[str, Mapping[str, Any]], sha: str) -> bool:
    metas = list(stored.values())
    return (
        bool(metas)
        and all(m.get("file_sha") == sha for m in metas)
        and len(metas) == int(metas[0].get("n_chunks", -1))
    )


def _texts_complete(texts: DocumentTexts | None, stored: Mapping[str, Mapping[str, Any]], sha: str) -> bool:
    if texts is None:
        return True
    for doc_id in {str(m.get("file", "")) for m in stored.values()}:
        found = texts.get(doc_id)
        if found is None or found.sha != sha:
            return False
    return True


def stored_document(article: Article, chunks: int) -> StoredDocument:
    return StoredDocument(
        id=article.file,
        path=article.path or article.file,
        kind=article.kind,
        title=article.title,
        text=article.text,
        sha=article.sha,
        meta=dict(article.meta),
        extra=dict(article.extra),
        pages=list(article.pages),
        sections=list(article.sections),
        chunks=chunks,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def plan_sync(
    corpus: Path,
    store: Store,
    chunker: Chunker,
    paths: Iterable[Path] = (),
    *,
    texts: DocumentTexts | None = None,
    skip: Report,
    warn: Report,
    max_file_bytes: int | None = None,
    show: bool = False,
    on_progress: Callable[[IngestProgress], None] | None = None,
) -> Plan:
    """Read the changed files under `paths` (all the corpus by default) and list the changes."""
    started = time.perf_counter()
    paths = list(paths)
    files, refused = find_files(corpus, paths)
    scopes = [relative_name(corpus, p if p.exists() else corpus / p) for p in paths]
    planner = _Planner(corpus, store, chunker, texts, skip, warn, max_file_bytes)
    planner.plan.files = len(files)
    for path, reason in refused:
        planner.left_out(str(path), reason)
    for done, path in enumerate(tqdm(files, unit="file", desc="reading", disable=not show)):
        if on_progress is not None:
            on_progress(IngestProgress("reading", done, len(files), 0, 0, time.perf_counter() - started))
        planner.read(path)
    planner.remove_missing(scopes)
    return planner.plan


def _in_scope(name: str, scopes: list[str]) -> bool:
    """Whether a stored file lies under one of the synced paths (all do when none is given)."""
    if not scopes or "." in scopes:
        return True
    return any(name == s or name.startswith(s.rstrip("/") + "/") for s in scopes)


class _Planner:
    """One planning pass: the index as it was, the files read so far, and the plan they make."""

    def __init__(
        self,
        corpus: Path,
        store: Store,
        chunker: Chunker,
        texts: DocumentTexts | None,
        skip: Report,
        warn: Report,
        max_file_bytes: int | None,
    ) -> None:
        self.corpus, self.chunker, self.texts = corpus, chunker, texts
        self.skip, self.warn, self.max_file_bytes = skip, warn, max_file_bytes
        self.plan = Plan()
        self.seen: set[str] = set()
        self.stored: dict[str, dict[str, Mapping[str, Any]]] = defaultdict(dict)
        for chunk_id, _, meta in store.iter_all(documents=False):
            self.stored[source_file(meta)][chunk_id] = meta

    def left_out(self, name: str, reason: str) -> None:
        self.plan.skipped.append((name, reason))
        self.skip(name, reason)

    def read(self, path: Path) -> None:
        """Plan one corpus file: unchanged (by the hash of its bytes), left out, or read and compared."""
        name = relative_name(self.corpus, path)
        self.seen.add(name)
        try:
            size = path.stat().st_size
            if self.max_file_bytes is not None and size > self.max_file_bytes:
                raise SkippedFile(
                    f"{size / 2**20:.1f} MiB, over the {self.max_file_bytes / 2**20:.1f} MiB limit "
                    "(RAG_MAX_FILE_BYTES): split it, or raise the limit"
                )
            data = path.read_bytes()
            existing = self.stored.get(name, {})
            sha = file_sha(data)
            if _is_complete(existing, sha) and _texts_complete(self.texts, existing, sha):
                self.plan.unchanged.append(name)
                return

            def part(reason: str) -> None:
                self.plan.warnings.append((name, reason))
                self.warn(name, reason)

            articles = load_documents(self.corpus, path, part, data)
        except (SkippedFile, OSError) as exc:
            self.left_out(name, str(exc))
            return
        self._compare(name, existing, articles)

    def _compare(self, name: str, existing: Mapping[str, Mapping[str, Any]], articles: list[Article]) -> None:
        """List what to write, relabel and delete for a file read again, against its stored chunks."""
        plan = self.plan
        (plan.updated if existing else plan.added).append(name)
        chunks = self.chunker.split_file(articles)
        wanted = {c.id for c in chunks}
        plan.to_write += [c for c in chunks if c.id not in existing]
        plan.to_relabel += [c for c in chunks if c.id in existing and existing[c.id] != c.metadata]
        plan.to_delete += [i for i in existing if i not in wanted]
        counts = defaultdict(int, {a.file: 0 for a in articles})
        for chunk in chunks:
            counts[str(chunk.metadata["file"])] += 1
        plan.documents += [stored_document(a, counts[a.file]) for a in articles]
        kept = {a.file for a in articles}
        plan.documents_gone += sorted({str(m.get("file")) for m in existing.values()} - kept)

    def remove_missing(self, scopes: list[str]) -> None:
        """Plan the removal of stored files, within `scopes`, that are no longer in the corpus."""
        plan = self.plan
        skipped_names = {name for name, _ in plan.skipped}
        for name, chunk_ids in self.stored.items():
            if name not in self.seen and name not in skipped_names and _in_scope(name, scopes):
                plan.removed.append(name)
                plan.to_delete += list(chunk_ids)
                plan.documents_gone += sorted({str(m.get("file")) for m in chunk_ids.values()})
