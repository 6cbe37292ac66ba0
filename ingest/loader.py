"""Find the corpus files to ingest and read them as documents (one per file, one per line of a dump)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.readers import EXTENSIONS, Extracted, Warn, read_document
from rag.corpus import SkippedFile, is_inside, title_of
from rag.errors import CorpusError


@dataclass(frozen=True)
class Article:
    """A document read from a corpus file: its text as stored and cited, and what is known of it."""

    file: str  # the document's id: the file's path relative to the corpus, « dump.jsonl#3 » in a dump
    text: str
    title: str
    sha: str  # of the file's bytes
    path: str = ""  # the corpus file it comes from (the id, for a one-document file)
    kind: str = "text"
    meta: dict[str, str | int | float | bool] = field(default_factory=dict)
    extra: dict[str, str | int | float | bool] = field(default_factory=dict)
    pages: tuple[tuple[int, int, int], ...] = ()
    sections: tuple[tuple[int, str], ...] = ()


def file_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_documents(
    corpus: Path, path: Path, warn: Warn | None = None, data: bytes | None = None
) -> list[Article]:
    """The documents of one corpus file; SkippedFile with the reason when it cannot be read."""
    data = path.read_bytes() if data is None else data
    name = relative_name(corpus, path)
    kind, found = read_document(path.suffix, data, warn or (lambda reason: None))
    sha = file_sha(data)
    return [
        _article(name, kind, sha, extracted, len(found) > 1 or bool(extracted.key)) for extracted in found
    ]


def _article(name: str, kind: str, sha: str, found: Extracted, keyed: bool) -> Article:
    if not found.text.strip():
        raise SkippedFile("no text")
    return Article(
        file=f"{name}#{found.key}" if keyed else name,
        text=found.text,
        title=found.title or title_of(found.text),
        sha=sha,
        path=name,
        kind=kind,
        meta=found.meta,
        extra=found.extra,
        pages=found.pages,
        sections=found.sections,
    )


def load_article(corpus: Path, path: Path) -> Article:
    """The one document of a corpus file (a dump holds several: use `load_documents`)."""
    found = load_documents(corpus, path)
    if len(found) != 1:
        raise CorpusError(f"{path.name} holds {len(found)} documents")
    return found[0]


def relative_name(corpus: Path, path: Path) -> str:
    return path.resolve().relative_to(corpus.resolve()).as_posix()


def find_files(corpus: Path, paths: Iterable[Path] = ()) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Corpus files to ingest (all, or under `paths`) and the ones refused, with the reason."""
    if not corpus.is_dir():
        raise CorpusError(f"The corpus directory {corpus} does not exist or is not a directory.")
    roots = list(paths) or [corpus]
    found: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for root in roots:
        root = root if root.is_absolute() or root.exists() else corpus / root
        if not root.exists():
            raise CorpusError(f"{root} does not exist.")
        if not is_inside(corpus, root):
            raise CorpusError(f"{root} is outside the corpus directory {corpus}: copy it there first.")
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            name = path.relative_to(root).as_posix() if path != root else path.name
            if any(part.startswith(".") for part in name.split("/")):
                continue
            if path.suffix.lower() not in EXTENSIONS:
                if path == root:
                    refused.append((path, f"not one of the formats read ({', '.join(EXTENSIONS)})"))
                continue
            if not is_inside(corpus, path):
                refused.append((path, "symbolic link pointing outside the corpus"))
                continue
            found.append(path)
    return sorted(set(found)), refused


__all__ = [
    "Article",
    "SkippedFile",
    "file_sha",
    "find_files",
    "load_article",
    "load_documents",
    "relative_name",
]
