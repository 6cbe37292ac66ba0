"""Ingest killed with SIGKILL half way: the index still answers and the next run completes it."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ingest.loader import find_files, load_article
from ingest.service import make_chunker, run_ingest
from rag.compose import build_engine
from rag.embedding import Embedder
from tests.conftest import CORPUS, ROOT, make_settings, rag_env
from vectorstore import open_store

pytestmark = pytest.mark.slow
COPIES = 12  # 60 files, a few hundred chunks: long enough to be killed half way


def replicate(target: Path) -> None:
    target.mkdir()
    for i in range(COPIES):
        for src in CORPUS.iterdir():
            text = src.read_text(encoding="utf-8")
            (target / f"{i:02d}_{src.name}").write_text(f"Copie {i}.\n{text}", encoding="utf-8")


def test_ingest__killed_mid_run_then_rerun_is_complete_without_duplicates(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    replicate(corpus)
    settings = make_settings(corpus, tmp_path / "index", embed_batch_size=8)
    env = rag_env(settings, RAG_INGEST_PAGE=32)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ingest", "--progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    written = 0
    buffer = ""
    while time.monotonic() < deadline and written < 64:
        char = proc.stderr.read(1)
        if not char:
            break
        buffer += char
        if char in "\r\n":
            # tqdm lines look like "embedding:  20%|██  | 64/320 [...]"
            if "|" in buffer and "/" in buffer:
                with contextlib.suppress(ValueError):
                    written = int(buffer.split("|")[-1].strip().split("/")[0])
            buffer = ""
    assert proc.poll() is None, "the ingest finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert written >= 64

    # The killed index still opens and answers from what it holds.
    partial = build_engine(settings, embedder=embedder)
    assert partial.store.count() > 0
    assert partial.ask("Combien Amazon a-t-il investi dans Anthropic ?").answer

    report = run_ingest(settings, embedder=embedder, progress=False)
    assert report.chunks_written > 0
    store = open_store(
        index_dir=settings.index_dir, collection=settings.collection, embed_model=settings.embed_model
    )
    metas = [m for _, _, m in store.iter_all(documents=False)]
    chunker = make_chunker(settings, embedder)
    files, _ = find_files(corpus)
    expected = sum(len(chunker.split(load_article(corpus, f))) for f in files)
    assert len(metas) == expected
    positions = Counter((m["file"], m["chunk_index"]) for m in metas)
    assert max(positions.values()) == 1, "duplicate chunks after the re-run"
    assert run_ingest(settings, embedder=embedder, progress=False).chunks_written == 0
    shutil.rmtree(tmp_path / "index")
