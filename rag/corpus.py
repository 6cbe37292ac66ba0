"""Reading corpus text files as the index sees them (UTF-8 with cp1252/latin-1 fallback, BOM and CRLF
handled), resolving a file name safely inside the corpus, and `Corpus`, what front ends read: the
documents as ingest stored them (text, metadata, pages), the one text citations' spans refer to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.documents import DocumentTexts, StoredDocument
from rag.errors import CorpusError

EXTENSIONS = (".txt", ".md")
"""Text files, which a front end may read as they are when ingest has not stored them (yet)."""
TITLE_CHARS = 160
MAX_NAME_CHARS = 1024
"""Longest document name looked up (a path inside the corpus); longer is no article, unread."""


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
    (absolute paths, `..`, links leading outside, other extensions, missing files, and names the
    file system refuses: too long, NUL bytes), always the same error, whatever the reason."""
    missing = CorpusError(f"No article named {name[:80]!r} in the corpus.")
    if (
        not name
        or len(name) > MAX_NAME_CHARS
        or any(ch < " " for ch in name)
        or name.startswith("/")
        or "\\" in name
        or any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/"))
    ):
        raise missing
    candidate = corpus / name
    try:
        if (
            candidate.suffix.lower() not in EXTENSIONS
            or not is_inside(corpus, candidate)
            or not candidate.is_file()
        ):
            raise missing
    except (OSError, ValueError):  # a part over NAME_MAX, a path over PATH_MAX, bytes it refuses
        raise missing from None
    return candidate


@dataclass(frozen=True)
class Corpus:
    """The documents as the front ends read them: stored by ingest beside the index (`texts`), or,
    for a text file of the corpus directory not stored yet, the file as it is."""

    root: Path
    texts: DocumentTexts | None = None

    def document(self, name: str) -> StoredDocument:
        """The document `name` (an id as citations give it); CorpusError if there is none."""
        found = self.texts.get(name) if self.texts is not None else None
        if found is not None:
            return found
        path = corpus_file(self.root, name)
        try:
            text = read_text(path)
        except OSError:  # gone or unreadable since it was found: no article, as for any other name
            raise CorpusError(f"No article named {name!r} in the corpus.") from None
        return StoredDocument(id=name, path=name, kind="text", title=title_of(text), text=text, sha="")

    def source(self, name: str) -> tuple[str, str]:
        """Text and title of a document (CorpusError if there is none)."""
        document = self.document(name)
        return document.text, document.title

    def documents(self) -> list[StoredDocument]:
        """Every stored document, by id."""
        return list(self.texts) if self.texts is not None else []
