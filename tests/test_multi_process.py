"""Two `rag serve` processes on one Chroma server: an article ingested through one is answered by the
other, BM25 included, within a bounded time (the store's refresh interval, plus slack)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.llm_server import stop_process
from tests.conftest import CORPUS
from tests.live_server import free_port, sse_events, wait_ready
from tests.test_chroma_server import chroma_server
from vectorstore.chroma import REFRESH_S

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "admin-key-for-tests"
NEW_FILE = "005_zorglub.txt"
NEW_ARTICLE = (
    "La fondation Zorglub finance la recherche\n\n"
    "La fondation Zorglub a versé 17 milliards de zlotys à la recherche sur l'alignement des modèles. "
    "Son président, Ernest Plomb, a annoncé ce don record mardi à Varsovie.\n"
)
QUESTION = "Combien la fondation Zorglub a-t-elle versé ?"
BOUND_S = REFRESH_S + 10  # the refresh interval, plus slack for a loaded machine


@contextmanager
def rag_serve(env: dict[str, str], log: Path) -> Iterator[httpx.Client]:
    """A real `rag serve` process on 127.0.0.1; yields a client with the admin key, once /readyz is ready."""
    port = free_port()
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=str(log.parent),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=60,
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    try:
        wait_ready(proc, lambda: client.get("/readyz").status_code == 200, 300, f"rag serve (log: {log})")
        yield client
    finally:
        client.close()
        stop_process(proc)
        out.close()


def retrieved(client: httpx.Client, question: str) -> list[dict[str, Any]]:
    """The passages of the streamed answer's retrieval event (with their dense and BM25 scores)."""
    body = {"messages": [{"role": "user", "content": question}], "stream": True}
    with client.stream("POST", "/v1/chat", json=body) as response:
        for event, data in sse_events(response):
            if event == "retrieval":
                return list(data["passages"])
    raise AssertionError("the stream had no retrieval event")


def test_two_servers__an_ingest_through_one_is_answered_by_the_other(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    with ExitStack() as stack:
        port = stack.enter_context(chroma_server(tmp_path / "chroma"))
        env = {
            "RAG_CORPUS_DIR": str(corpus),
            "RAG_INDEX_DIR": str(tmp_path / "index"),
            "RAG_COLLECTION": "multi-process",
            "RAG_CHROMA_HOST": "127.0.0.1",
            "RAG_CHROMA_PORT": str(port),
            "RAG_ADMIN_KEY": ADMIN,
            "RAG_ANSWERER": "extractive",
            "RAG_RATE_LIMIT_PER_MIN": "0",
        }
        writer = stack.enter_context(rag_serve(env, tmp_path / "writer.log"))
        reader = stack.enter_context(rag_serve(env, tmp_path / "reader.log"))
        before = reader.post("/v1/ask", json={"question": QUESTION}).json()
        assert "zlotys" not in before["answer"]

        response = writer.post("/v1/ingest", files={"files": (NEW_FILE, NEW_ARTICLE.encode(), "text/plain")})
        assert response.status_code == 200, response.text
        ingested = time.monotonic()
        while True:
            answer = reader.post("/v1/ask", json={"question": QUESTION}).json()
            if "zlotys" in answer["answer"]:
                break
            assert time.monotonic() - ingested < BOUND_S, "the other server never saw the new article"
            time.sleep(0.2)
        assert answer["citations"][0]["file"] == NEW_FILE
        new = [p for p in retrieved(reader, QUESTION) if p["file"] == NEW_FILE]
        assert new and new[0]["lexical"] is not None, "the other server's BM25 index missed the article"
        assert reader.get("/readyz").json()["chunks"] == writer.get("/readyz").json()["chunks"]
