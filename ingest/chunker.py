"""Sentence-aware chunking sized in the embedding model's word pieces, with exact character spans."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter

from ingest.loader import Article
from rag.errors import ConfigError

SPECIAL_TOKENS = 2  # [CLS] and [SEP] count against the model's sequence length


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, ready to embed."""

    id: str
    text: str
    metadata: dict[str, str | int]


def chunk_id(file: str, index: int, text: str) -> str:
    """Deterministic id from the file, the position and the content: re-ingesting replaces."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{file}:{index}:{digest}"


class Chunker:
    """Splits articles with llama-index's SentenceSplitter, counting the embedder's own tokens."""

    def __init__(
        self, *, chunk_size: int, chunk_overlap: int, max_tokens: int,
        tokenize: Callable[[str], list[int]],
    ) -> None:
        limit = max_tokens - SPECIAL_TOKENS
        if chunk_size > limit:
            raise ConfigError(
                f"RAG_CHUNK_SIZE={chunk_size} is larger than the embedding model accepts "
                f"({limit} word pieces): the end of each chunk would be silently cut off."
            )
        self.splitter = SentenceSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=tokenize,
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
                        "file": article.file,
                        "title": article.title,
                        "chunk_index": index,
                        "char_start": start,
                        "char_end": end,
                        "file_sha": article.sha,
                        "n_chunks": len(pieces),
                    },
                )
            )
        return chunks
