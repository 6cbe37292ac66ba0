"""The documents of an index, as ingest stored them beside it: for each, the text extracted from its
file (what chunks, citations and the source view all refer to), its metadata, its page spans and
when it was ingested. One JSON file per document, written atomically, keyed by the document's id."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import CorpusError, StoreUnavailableError

MetaValue = str | int | float | bool


class DocumentNotFoundError(CorpusError):
    """No document of that id in the index."""


class PartOfDumpError(CorpusError):
    """The document is one article of a dump: it goes with its whole file."""


@dataclass
class StoredDocument:
    """One document: an article file, or one article of a dump (`id` « dump.jsonl#3 »)."""

    id: str
    path: str  # the corpus file it was read from
    kind: str  # text, markdown, pdf, docx, html, jsonl
    title: str
    text: str
    sha: str  # of the file's bytes: an unchanged file is not read again
    meta: dict[str, MetaValue] = field(default_factory=dict)  # date, author, source, url...
    extra: dict[str, MetaValue] = field(default_factory=dict)  # a dump's other keys
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (page, start, end)
    sections: list[tuple[int, str]] = field(default_factory=list)  # (start, heading path)
    chunks: int = 0
    ingested_at: str = ""  # ISO 8601, UTC

    def page_at(self, offset: int) -> int | None:
        """The page holding character `offset` of the text, for PDFs."""
        for page, start, end in self.pages:
            if start <= offset < end or (offset == end and page == self.pages[-1][0]):
                return page
        return None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredDocument:
        data = dict(data)
        data["pages"] = [tuple(p) for p in data.get("pages", [])]
        data["sections"] = [tuple(s) for s in data.get("sections", [])]
        return cls(**data)


def documents_dir(index_dir: Path, collection: str) -> Path:
    """Where the documents of a collection are kept: beside its embedded index."""
    return index_dir / "documents" / collection


class DocumentTexts:
    """The stored documents of one collection."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, doc_id: str) -> Path:
        return self.root / (hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:32] + ".json")

    def get(self, doc_id: str) -> StoredDocument | None:
        try:
            data = json.loads(self._file(doc_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreUnavailableError(
                f"The stored text of {doc_id!r} cannot be read ({exc.__class__.__name__}): run "
                "`rag ingest` again to write it anew."
            ) from None
        document = StoredDocument.from_json(data)
        return document if document.id == doc_id else None

    def put(self, document: StoredDocument) -> None:
        """Write a document atomically: a reader sees the old version or the new one, whole."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(document.to_json(), out, ensure_ascii=False)
            os.replace(tmp, self._file(document.id))
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
            raise StoreUnavailableError(
                f"Cannot store the text of {document.id!r} ({exc.strerror or exc}): the index keeps "
                "what it held before this step. Free some space (or make the index writable), then "
                "run `rag ingest` again."
            ) from None

    def delete(self, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            with contextlib.suppress(FileNotFoundError):
                self._file(doc_id).unlink()

    def __iter__(self) -> Iterator[StoredDocument]:
        """Every stored document, by id."""
        if not self.root.is_dir():
            return iter(())
        found = []
        for path in self.root.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):  # deleted, or being written, meanwhile
                found.append(StoredDocument.from_json(json.loads(path.read_text(encoding="utf-8"))))
        return iter(sorted(found, key=lambda d: d.id))

    def clear(self) -> None:
        """Forget every document (`rag ingest --rebuild`)."""
        shutil.rmtree(self.root, ignore_errors=True)
