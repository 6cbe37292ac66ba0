"""Frozen values that settings turn into (by `rag.compose`): the engine's limits on what it is
asked and answers, and what the HTTP server enforces. Front ends read these, never `Settings`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What the engine accepts and returns; the chat reads them to keep a conversation within."""

    top_k: int
    max_question_chars: int
    max_chat_messages: int
    max_chat_chars: int
    max_answer_chars: int


@dataclass(frozen=True)
class ServerConfig:
    """What the HTTP server enforces: keys, admission, rate limits, request sizes, streams per client,
    failed logins, CORS."""

    api_keys: tuple[str, ...]
    admin_key: str
    max_concurrent: int
    max_queue: int
    request_timeout_s: float
    rate_limit_per_min: int
    rate_limit_burst: int
    max_body_bytes: int
    max_upload_bytes: int
    max_connections: int
    max_streams_per_client: int = 16  # open event streams per client address
    login_failures: int = 10  # failed logins per client address and window; 0: no limit
    login_failure_window_s: int = 300
    public_docs: bool = False  # /docs, /redoc, /openapi.json open even with keys
    cors_origins: tuple[str, ...] = ()
    log_questions: bool = False  # the request log may carry the question's text

    @property
    def login_keys(self) -> list[str]:
        """Every key that opens the chat in a browser (API keys and the admin key)."""
        return [k for k in (*self.api_keys, self.admin_key) if k]
