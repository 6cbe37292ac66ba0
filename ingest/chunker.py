"""Sentence-aware chunking sized in the embedding model's word pieces, with exact character spans."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter

from ingest.loader import Article
from ingest.readers.base import MetaValue, date_number
from rag.errors import ConfigError

SPECIAL_TOKENS = 2  # [CLS] and [SEP] count against the model's sequence length
CITED = ("date", "author", "source", "url")
"""Document metadata every chunk carries (besides its title), for citations and filters."""


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, ready to embed."""

    id: str
    text: str
    metadata: dict[str, MetaValue]


def chunk_id(file: str, index: int, text: str) -> str:
    """Deterministic id from the file, the position and the content: re-ingesting replaces."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{file}:{index}:{digest}"


class Chunker:
    """Splits articles with llama-index's SentenceSplitter, counting the embedder's own tokens."""

    def __init__(
        self,
        *,
        chunk_size: int,
        chunk_overlap: int,
        max_tokens: int,
        tokenize: Callable[[str], list[int]],
    ) -> None:
        limit = max_tokens - SPECIAL_TOKENS
        if chunk_size > limit:
            raise ConfigError(
                f"RAG_CHUNK_SIZE={chunk_size} is larger than the embedding model accepts "
                f"({limit} word pieces): the end of each chunk would be silently cut off."
            )
        self.splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            tokenizer=tokenize,
            include_metadata=False,
        )

    def split(self, article: Article) -> list[Chunk]:
        pieces = self.splitter.split_text(article.text)
        chunks: list[Chunk] = []
        cursor = 0
        for index, piece in enumerate(pieces):
            start = article.text.find(piece, cursor)
            if start < 0:  # overlap may start before the cursor
                start = article.text.find(piece)
            if start < 0:
                raise ValueError(f"chunk {index} of {article.file} is not a substring of the file")
            end = start + len(piece)
            cursor = start + 1
            chunks.append(
                Chunk(
                    id=chunk_id(article.file, index, piece),
                    text=piece,
                    metadata={
                        **document_metadata(article),
                        **place(article, start, end),
                        "chunk_index": index,
                        "char_start": start,
                        "char_end": end,
                        "n_chunks": len(pieces),
                    },
                )
            )
        return chunks

    def split_file(self, articles: list[Article]) -> list[Chunk]:
        """The chunks of every document of one file; `n_chunks` counts them all, so a sync knows
        whether the file is completely stored."""
        chunks = [chunk for article in articles for chunk in self.split(article)]
        for chunk in chunks:
            chunk.metadata["n_chunks"] = len(chunks)
        return chunks


def document_metadata(article: Article) -> dict[str, MetaValue]:
    """What every chunk of a document carries: its id, file, title, date, author, source, url (the
    ones known), and a dump's other keys prefixed `extra_`."""
    meta: dict[str, MetaValue] = {"file": article.file, "title": article.title, "file_sha": article.sha}
    if article.path and article.path != article.file:
        meta["path"] = article.path
    if article.kind not in ("text", "markdown"):
        meta["kind"] = article.kind
    meta.update({k: v for k, v in article.meta.items() if k in CITED})
    if "date" in meta:
        meta["day"] = date_number(str(meta["date"]))
    meta.update({f"extra_{k}": v for k, v in article.extra.items()})
    return meta


def place(article: Article, start: int, end: int) -> dict[str, MetaValue]:
    """The page (PDF) or section (headings) where a chunk starts, and its last page if another."""
    found: dict[str, MetaValue] = {}
    pages = [page for page, p_start, p_end in article.pages if p_start < end and start < p_end]
    if pages:
        found["page"] = pages[0]
        if pages[-1] != pages[0]:
            found["page_end"] = pages[-1]
            # Where each later page starts, so a quote inside the chunk is cited with its own page.
            found["page_starts"] = ";".join(
                f"{page}@{p_start}" for page, p_start, _ in article.pages if start < p_start < end
            )
    heading = [name for offset, name in article.sections if offset <= start]
    if heading:
        found["section"] = heading[-1]
    return found
