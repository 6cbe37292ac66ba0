"""Reading corpus files as the index sees them (UTF-8 with cp1252/latin-1 fallback, BOM and CRLF
handled), resolving a file name safely inside the corpus, and `Corpus`, what front ends read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError

EXTENSIONS = (".txt", ".md")
TITLE_CHARS = 160


class SkippedFile(CorpusError):
    """A corpus file that cannot be ingested; the message says why."""


def decode(data: bytes) -> str:
    """Decode file bytes; raise SkippedFile for empty, binary or undecodable content."""
    if not data.strip():
        raise SkippedFile("empty file")
    if b"\x00" in data:
        raise SkippedFile("binary file (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            if any("\x80" <= ch <= "\x9f" for ch in text):
                raise SkippedFile("undecodable text (neither UTF-8, cp1252 nor latin-1)") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for ch in text if ch < " " and ch not in "\n\t\f\v")
    if controls > max(8, len(text) // 100):
        raise SkippedFile("binary file (control characters)")
    if not text.strip():
        raise SkippedFile("empty file")
    return text


def read_text(path: Path) -> str:
    """The text of a corpus file as the index sees it (spans and quotes refer to this text)."""
    return decode(path.read_bytes())


def title_of(text: str) -> str:
    """The first non-empty line, shortened: articles have no other title."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = first.lstrip("#").strip()
    return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "…"


def is_inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def corpus_file(corpus: Path, name: str) -> Path:
    """The path of a corpus file named relative to the corpus; CorpusError for anything else
    (absolute paths, `..`, links leading outside, other extensions, missing files)."""
    candidate = corpus / name
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/"))
        or candidate.suffix.lower() not in EXTENSIONS
        or not is_inside(corpus, candidate)
        or not candidate.is_file()
    ):
        raise CorpusError(f"No article named {name!r} in the corpus.")
    return candidate


@dataclass(frozen=True)
class Corpus:
    """The corpus directory as the front ends read it: the text and title of one article."""

    root: Path

    def source(self, name: str) -> tuple[str, str]:
        """Text and title of a corpus file, only if it is a file of the corpus (CorpusError if not)."""
        text = read_text(corpus_file(self.root, name))
        return text, title_of(text)
