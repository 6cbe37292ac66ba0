"""Find the corpus files to ingest and load them as articles."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rag.corpus import EXTENSIONS, SkippedFile, is_inside, read_text, title_of
from rag.errors import CorpusError


@dataclass(frozen=True)
class Article:
    """A corpus file read as text."""

    file: str  # path relative to the corpus directory, with forward slashes
    text: str
    title: str
    sha: str


def load_article(corpus: Path, path: Path) -> Article:
    text = read_text(path)
    return Article(
        file=relative_name(corpus, path),
        text=text,
        title=title_of(text),
        sha=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


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
                    refused.append((path, f"not a {' or '.join(EXTENSIONS)} file"))
                continue
            if not is_inside(corpus, path):
                refused.append((path, "symbolic link pointing outside the corpus"))
                continue
            found.append(path)
    return sorted(set(found)), refused


__all__ = ["Article", "SkippedFile", "find_files", "load_article", "relative_name"]
