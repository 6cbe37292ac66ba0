"""Chroma as a server (`chroma run` on 127.0.0.1, RAG_CHROMA_HOST set): ingest, sync, hybrid retrieval
and citations behave exactly as with the embedded store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
import httpx
import pytest

from ingest.service import run_ingest
from rag.compose import build_engine
from rag.embedding import Embedder
from rag.engine import Engine
from rag.llm_server import stop_process
from tests.conftest import CORPUS, make_settings, rag_env
from tests.live_server import free_port, wait_ready
from vectorstore import ChunkStore, LazyStore

pytestmark = [pytest.mark.server, pytest.mark.slow]

CHROMA = Path(sys.executable).parent / "chroma"
QUESTIONS = [
    "Pourquoi Leike est-il parti ?",
    "Combien Amazon a-t-il investi dans Anthropic ?",
    "Combien de temps Schulman est-il resté chez Anthropic ?",
    "Quelle est la capitale de l'Australie ?",
]
EDITED = "001_693cd8350728ec63.txt"
DELETED = "004_d6bdbc85729e3bbc.txt"
NEW_FACT = "La fondation Zorglub a versé 17 milliards de zlotys à la recherche sur l'alignement."


@contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """A real `chroma run` process on 127.0.0.1 and a free port; yields the port."""
    if not CHROMA.exists():
        pytest.skip(f"the chroma CLI is not installed at {CHROMA}: `make setup` installs it")
    port = free_port()
    log = (path.parent / f"chroma-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    try:
        wait_ready(proc, lambda: httpx.get(heartbeat, timeout=2).status_code == 200, 60, "chroma run")
        yield port
    finally:
        stop_process(proc, 15)
        log.close()


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with chroma_server(tmp_path_factory.mktemp("chroma") / "data") as port:
        yield port


def twin_engines(tmp_path: Path, port: int, embedder: Embedder) -> tuple[Engine, Engine, list[Any]]:
    """An embedded engine and a server engine, each on its own copy of the corpus, and their settings."""
    engines, all_settings = [], []
    for mode, host in (("embedded", ""), ("server", "127.0.0.1")):
        corpus = tmp_path / mode / "corpus"
        shutil.copytree(CORPUS, corpus)
        settings = make_settings(corpus, tmp_path / mode / "index", chroma_host=host, chroma_port=port)
        run_ingest(settings, embedder=embedder, progress=False)
        engines.append(build_engine(settings, embedder=embedder))
        all_settings.append(settings)
    return engines[0], engines[1], all_settings


def answers(engine: Engine) -> list[dict[str, Any]]:
    """Everything a client sees of an answer, but timings."""
    out = []
    for question in QUESTIONS:
        answer = engine.ask(question)
        out.append(
            {
                "answer": answer.answer,
                "refused": answer.refused,
                "citations": [(c.n, c.file, c.char_start, c.char_end, c.quote) for c in answer.citations],
                "passages": [(p.id, p.file, p.char_start, p.char_end, p.lexical) for p in answer.passages],
                "dense": [round(p.dense, 4) if p.dense is not None else None for p in answer.passages],
            }
        )
    return out


def test_server__ingest_retrieval_and_citations_match_embedded_mode(
    tmp_path: Path,
    chroma_port: int,
    embedder: Embedder,
) -> None:
    embedded, server, settings = twin_engines(tmp_path, chroma_port, embedder)
    # The server engine's chunks live in the Chroma server, not in a local index.
    remote = chromadb.HttpClient(host="127.0.0.1", port=chroma_port).get_collection(settings[1].collection)
    assert remote.count() == server.store.count() == embedded.store.count() > 0
    assert not (settings[1].index_dir / "chroma.sqlite3").exists()
    on_server = answers(server)
    assert on_server == answers(embedded)
    assert any(p[4] is not None for a in on_server for p in a["passages"]), "BM25 took part"
    assert "4 milliards" in on_server[1]["answer"] and on_server[1]["citations"]
    assert on_server[3]["refused"]


def test_server__sync_follows_edits_and_deletions_like_embedded_mode(
    tmp_path: Path,
    chroma_port: int,
    embedder: Embedder,
) -> None:
    embedded, server, settings = twin_engines(tmp_path, chroma_port, embedder)
    reports = []
    for each in settings:
        edited = each.corpus_dir / EDITED
        edited.write_text(edited.read_text(encoding="utf-8") + f"\n\n{NEW_FACT}\n", encoding="utf-8")
        (each.corpus_dir / DELETED).unlink()
        report = run_ingest(each, embedder=embedder, progress=False)
        reports.append(
            (report.added, report.updated, report.removed, report.chunks_written, report.chunks_deleted)
        )
    assert reports[0] == reports[1]
    assert reports[1][1] == [EDITED] and reports[1][2] == [DELETED] and reports[1][4] > 0

    question = "Combien la fondation Zorglub a-t-elle versé ?"
    for engine, each in zip((embedded, server), settings, strict=True):
        answer = engine.ask(question)
        assert "zlotys" in answer.answer and answer.citations[0].file == EDITED
        quote = answer.citations[0]
        text = (each.corpus_dir / EDITED).read_text(encoding="utf-8")
        assert text[quote.char_start : quote.char_end] == quote.quote
        assert all(p.file != DELETED for p in engine.ask(QUESTIONS[1]).passages)
    assert answers(server) == answers(embedded)
    assert run_ingest(settings[1], embedder=embedder, progress=False).chunks_written == 0


def test_retrieve__a_chunk_written_by_another_writer_is_in_bm25_at_once(
    chroma_port: int,
    corpus: Path,
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """The store's version is cached (a second in production, an hour here): when dense search
    returns a chunk that BM25 has never seen, another process changed the store, and BM25 catches up
    in the same query instead of answering half-stale."""
    settings = make_settings(corpus, tmp_path / "index", chroma_host="127.0.0.1", chroma_port=chroma_port)
    run_ingest(settings, embedder=embedder, progress=False)
    engine = build_engine(settings, embedder=embedder)
    store = engine.store.opened() if isinstance(engine.store, LazyStore) else engine.store
    assert isinstance(store, ChunkStore)
    store.refresh_s = 3600.0
    question = "Combien la fondation Zorglub a-t-elle versé à Varsovie ?"
    assert not any(p.file == "zorglub.txt" for p in engine.retrieve(question)[0])
    (settings.corpus_dir / "zorglub.txt").write_text(
        "La fondation Zorglub finance la recherche\n\nLa fondation Zorglub a versé 17 milliards de "
        "zlotys à Varsovie pour la recherche sur l'alignement des modèles.\n",
        encoding="utf-8",
    )
    env = rag_env(settings, RAG_CHROMA_HOST="127.0.0.1", RAG_CHROMA_PORT=chroma_port)
    subprocess.run(
        [sys.executable, "-m", "cli.main", "ingest"],
        cwd=settings.index_dir.parent,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )  # another process writes
    new = [p for p in engine.retrieve(question)[0] if p.file == "zorglub.txt"]
    assert new and new[0].dense is not None and new[0].lexical is not None
