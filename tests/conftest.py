"""Shared fixtures: the real packaged embedding model (loaded once), real Chroma on temporary
directories with a unique collection per test, copies of the real corpus, `rag` run as another
process, and the browser tests' chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fastapi import FastAPI  # noqa: E402

from api import create_app  # noqa: E402
from ingest.service import run_ingest  # noqa: E402
from rag.compose import build_corpus, build_engine, build_server_config  # noqa: E402
from rag.corpus import Corpus  # noqa: E402
from rag.embedding import Embedder  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.settings import DEFAULT_EMBED_MODEL, Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(DEFAULT_EMBED_MODEL)


def make_settings(corpus: Path, index: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "corpus_dir": corpus,
        "index_dir": index,
        "collection": f"t-{uuid.uuid4().hex[:12]}",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def refused_until_rebuilt(settings: Settings, embedder: Embedder) -> Engine:
    """An index built by other vectors is refused, by the engine and by ingest, until `--rebuild`;
    the rebuilt index's engine."""
    from rag.errors import EmbeddingModelMismatchError

    with pytest.raises(EmbeddingModelMismatchError, match="rag ingest --rebuild"):
        build_engine(settings, embedder=embedder)
    with pytest.raises(EmbeddingModelMismatchError):
        run_ingest(settings, embedder=embedder, progress=False)
    report = run_ingest(settings, embedder=embedder, progress=False, rebuild=True)
    assert len(report.added) == len(list(settings.corpus_dir.iterdir()))
    return build_engine(settings, embedder=embedder)


def point_rag_at(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `rag` run in this process (`cli.main.main`) at these settings' corpus, index and collection."""
    for key, value in {
        "RAG_CORPUS_DIR": settings.corpus_dir,
        "RAG_INDEX_DIR": settings.index_dir,
        "RAG_COLLECTION": settings.collection,
        "HF_HUB_OFFLINE": "1",
    }.items():
        monkeypatch.setenv(key, str(value))


def rag_env(settings: Settings, **extra: object) -> dict[str, str]:
    """The environment of a `rag` command run as another process on these settings' corpus and index
    (small batches and pages, so a test can catch it half way)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "RAG_CORPUS_DIR": str(settings.corpus_dir),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_COLLECTION": settings.collection,
        "RAG_EMBED_BATCH_SIZE": "8",
        "RAG_INGEST_PAGE": "8",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_rag(
    *args: str, env: Mapping[str, str], cwd: Path = ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`rag ARGS` run to its end as another process (on `os.environ` updated with `env`), its output
    captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_rag(*args: str, env: Mapping[str, str], cwd: Path = ROOT, **popen: Any) -> subprocess.Popen[Any]:
    """`rag ARGS` started as another process (on `os.environ` updated with `env`); `popen` says where
    its output goes."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args], cwd=cwd, env={**os.environ, **env}, **popen
    )


def api_app(engine: Engine, settings: Settings, **options: Any) -> FastAPI:
    """The HTTP API for `engine` as `rag serve` configures it from `settings` (without the chat)."""
    return create_app(engine, build_server_config(settings), build_corpus(settings), **options)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the real corpus that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def settings(corpus: Path, tmp_path: Path) -> Settings:
    return make_settings(corpus, tmp_path / "index")


@pytest.fixture(scope="session")
def engine_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """The settings of `engine`: a copy of the real corpus, ingested once for the read-only tests."""
    base = tmp_path_factory.mktemp("engine")
    corpus = base / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(corpus, base / "index")
    run_ingest(settings, embedder=embedder, progress=False)
    return settings


@pytest.fixture(scope="session")
def engine(engine_settings: Settings, embedder: Embedder) -> Iterator[Engine]:
    """An engine on the real corpus, ingested once for the read-only tests."""
    yield build_engine(engine_settings, embedder=embedder)


@pytest.fixture(scope="session")
def engine_corpus(engine_settings: Settings) -> Corpus:
    """The articles `engine` answers from, as the front ends read them."""
    return build_corpus(engine_settings)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium for the browser tests; its absence fails them, unless RAG_SKIP_BROWSER=1 says
    to skip them."""
    path = shutil.which("chromium")
    if path:
        return path
    if os.environ.get("RAG_SKIP_BROWSER") == "1":
        pytest.skip("chromium is not installed and RAG_SKIP_BROWSER=1: the browser test is skipped")
    pytest.fail(
        "chromium is not installed: run `make browser-deps` (apt-get install chromium), "
        "or set RAG_SKIP_BROWSER=1 to skip the browser tests"
    )
