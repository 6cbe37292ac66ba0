"""The BM25 index over the real corpus's chunks: a rebuild after a change analyses only the new
chunks and gives exactly the index a fresh build gives."""

from __future__ import annotations

import json

import pytest

import rag.bm25
from rag.bm25 import Bm25Index, ChunkAnalyses
from rag.engine import Engine
from rag.text import tokens as text_tokens
from tests.conftest import ROOT

QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "datasets" / "fr_news.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_rebuild__analyses_only_new_chunks_and_equals_a_fresh_build(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = list(engine.store.iter_all())
    analyses = ChunkAnalyses()
    Bm25Index(rows, analyses)
    calls: list[str] = []
    tokens = rag.bm25.tokens
    monkeypatch.setattr(rag.bm25, "tokens", lambda text: calls.append(text) or tokens(text))
    # A change: one file's chunks gone, one new chunk.
    gone = rows[0][2]["file"]
    new = ("new-chunk", "Ernest Plomb dirige la fondation Zorglub depuis trois ans.", {"file": "new.txt"})
    changed = [r for r in rows if r[2]["file"] != gone] + [new]
    rebuilt = Bm25Index(changed, analyses)
    assert calls == [new[1]]
    assert len(analyses) == len(changed)
    fresh = Bm25Index(changed)
    assert rebuilt.names == fresh.names and "zorglub" in rebuilt.names
    for question in [*QUESTIONS, "Qui dirige la fondation Zorglub ?"]:
        assert rebuilt.search(question, 10) == fresh.search(question, 10)
        for term in text_tokens(question):
            assert rebuilt.idf(term) == fresh.idf(term)
    assert rebuilt.search("fondation Zorglub", 1)[0][0] == len(changed) - 1
    assert all(rebuilt.files[row] != gone for row, _ in rebuilt.search("OpenAI Leike Schulman", 50))


def test_bm25__rows_follow_files_and_chunks_not_insertion_order(engine: Engine) -> None:
    """Ingest writes the longest chunks first; BM25 breaks score ties by row, so its rows are put
    back in file and chunk order: the same corpus ranks the same however it was ingested."""
    rows = list(engine.store.iter_all(documents=False))
    inserted = [chunk_id for chunk_id, _, _ in rows]
    ordered = [i for i, _, m in sorted(rows, key=lambda r: (r[2]["file"], r[2]["chunk_index"]))]
    assert inserted != ordered  # the store really holds them in another order
    assert engine.retriever.bm25().ids == ordered
