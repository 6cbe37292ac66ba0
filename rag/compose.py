"""The composition root: the only place where settings become objects (embedder, store, answerer,
limits, engine, corpus, server config). The CLI, the server, ingest and eval all build through it."""

from __future__ import annotations

from typing import Any

from rag.answering import Answerer
from rag.answering.answerability import load_model
from rag.answering.extractive import ExtractiveAnswerer
from rag.corpus import Corpus
from rag.documents import DocumentTexts, documents_dir
from rag.embedding import Embedder, vector_identity
from rag.engine import Engine, store_errors
from rag.history import HistoryStore
from rag.limits import Limits, ServerConfig
from rag.retrieval import HybridRetriever
from rag.settings import Settings
from vectorstore import Store, drop_collection, open_store, open_store_lazily


def build_embedder(settings: Settings) -> Embedder:
    return Embedder(
        settings.embed_model,
        batch_size=settings.embed_batch_size,
        backend=settings.embed_backend,
        export_root=settings.index_dir / "embedders",
    )


def _location(settings: Settings) -> dict[str, Any]:
    return {
        "index_dir": settings.index_dir,
        "collection": settings.collection,
        "host": settings.chroma_host,
        "port": settings.chroma_port,
    }


def open_chunk_store(settings: Settings, *, create: bool = False, lazy: bool = False) -> Store:
    """The collection of the settings (created with `create`). With `lazy`, it opens on first use
    (and again after failures), so a server can start and say why it is not ready rather than exit.
    Store errors come out as the service's own (`store_errors`)."""

    def opener() -> Store:
        return open_store(
            **_location(settings),
            embed_model=vector_identity(settings.embed_model, settings.embed_backend),
            create=create,
        )

    with store_errors():
        return open_store_lazily(opener) if lazy else opener()


def drop_chunk_store(settings: Settings) -> None:
    """Delete the settings' collection (`rag ingest --rebuild`)."""
    with store_errors():
        drop_collection(**_location(settings))


def build_answerer(settings: Settings) -> Answerer:
    """The extractive answerer, or a generative one that falls back on it when its LLM fails."""
    extractive = ExtractiveAnswerer(
        model=load_model(settings.embed_model),
        refusal_threshold=settings.refusal_threshold,
        max_sentences=settings.max_answer_sentences,
    )
    if settings.answerer == "extractive":
        return extractive
    from rag.answering.breaker import CircuitBreaker
    from rag.answering.generative import GenerativeAnswerer
    from rag.answering.llms import build_llm

    return GenerativeAnswerer(
        build_llm(settings),
        name=settings.answerer,
        fallback=extractive,
        breaker=CircuitBreaker(
            failures=settings.llm_breaker_failures, reset_after_s=settings.llm_breaker_reset_s
        ),
        drop_unsupported=settings.unsupported == "drop",
        prompt=settings.llm_prompt,
        evidence_sentences=settings.llm_evidence_sentences,
        override_evidence=settings.llm_override_evidence,
        answer_floor=settings.llm_answer_floor,
    )


def build_limits(settings: Settings) -> Limits:
    return Limits(
        top_k=settings.top_k,
        max_question_chars=settings.max_question_chars,
        max_chat_messages=settings.max_chat_messages,
        max_chat_chars=settings.max_chat_chars,
        max_answer_chars=settings.max_answer_chars,
    )


def build_document_texts(settings: Settings) -> DocumentTexts:
    """The documents' texts and metadata, stored by ingest beside the index."""
    return DocumentTexts(documents_dir(settings.index_dir, settings.collection))


def build_corpus(settings: Settings) -> Corpus:
    return Corpus(settings.corpus_dir, build_document_texts(settings))


def build_server_config(settings: Settings) -> ServerConfig:
    return ServerConfig(
        api_keys=tuple(settings.api_keys),
        admin_key=settings.admin_key,
        max_concurrent=settings.max_concurrent,
        max_queue=settings.max_queue,
        request_timeout_s=settings.request_timeout_s,
        rate_limit_per_min=settings.rate_limit_per_min,
        rate_limit_burst=settings.rate_limit_burst,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        max_connections=settings.max_connections,
        max_streams_per_client=settings.max_streams_per_client,
        login_failures=settings.login_failures,
        login_failure_window_s=settings.login_failure_window_s,
        public_docs=settings.public_docs,
        cors_origins=tuple(settings.cors_origins),
        log_questions=settings.log_questions,
    )


def history_url(settings: Settings) -> str:
    """The database of saved conversations: RAG_HISTORY_URL, or a SQLite file in the index directory."""
    url = settings.history_url.get_secret_value()
    return url or f"sqlite:///{(settings.index_dir / 'history.db').resolve()}"


def open_history(settings: Settings) -> HistoryStore:
    """The conversation store of the settings, whether or not the service saves into it (the
    `rag feedback` commands read what was saved)."""
    return HistoryStore(history_url(settings))


def build_history(settings: Settings) -> HistoryStore | None:
    """The conversation store the service saves into; None when RAG_SAVE_CONVERSATIONS is off."""
    return open_history(settings) if settings.save_conversations else None


def build_engine(
    settings: Settings,
    *,
    answerer: Answerer | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    create: bool = False,
    lazy: bool = False,
) -> Engine:
    """Turn settings into an engine; the objects given are used instead of new ones (a test's
    shared embedder, a second engine on the same store)."""
    embedder = embedder or build_embedder(settings)
    store = store if store is not None else open_chunk_store(settings, create=create, lazy=lazy)
    return Engine(
        embedder=embedder,
        retriever=HybridRetriever(store, candidates=settings.candidates, rrf_k=settings.rrf_k),
        answerer=answerer or build_answerer(settings),
        limits=build_limits(settings),
    )


__all__ = [
    "build_answerer",
    "build_corpus",
    "build_document_texts",
    "build_embedder",
    "build_engine",
    "build_history",
    "build_limits",
    "build_server_config",
    "drop_chunk_store",
    "history_url",
    "open_chunk_store",
    "open_history",
]
