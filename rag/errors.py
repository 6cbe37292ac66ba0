"""Domain errors, with messages written for the person who will read them."""


class RagError(Exception):
    """Base of every error the service reports to a user."""

    code = "rag_error"


class ConfigError(RagError):
    """A setting is missing or invalid."""

    code = "config_error"


class CorpusError(RagError):
    """The corpus directory or a file in it cannot be used."""

    code = "corpus_error"


class IndexNotReadyError(RagError):
    """The index is missing, empty or damaged: run `rag ingest`."""

    code = "index_not_ready"


class EmbeddingModelMismatchError(RagError):
    """The collection was built with another embedding model."""

    code = "embedding_model_mismatch"


class StoreUnavailableError(RagError):
    """The vector store (for example a Chroma server) cannot be reached."""

    code = "store_unavailable"


class InvalidQuestionError(RagError):
    """The question is empty, too long or otherwise unusable."""

    code = "invalid_question"


class IngestLockedError(RagError):
    """Another ingest holds the index lock."""

    code = "ingest_locked"


class RefusedError(RagError):
    """A call turned away for now: the caller may try again in `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OverloadedError(RefusedError):
    """Every slot is busy and the queue is full."""

    code = "overloaded"


class RateLimitedError(RefusedError):
    """The caller (a key, or an address) asked too often."""

    code = "rate_limited"


class DeadlineError(RagError):
    """The answer took longer than the deadline of a call."""

    code = "timeout"
