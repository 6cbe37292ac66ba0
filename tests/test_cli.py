"""The `rag` command as a user runs it: real subprocesses, real index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_rag

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    index = tmp_path_factory.mktemp("cli-index")
    values = {"RAG_INDEX_DIR": str(index), "RAG_COLLECTION": "cli-test", "HF_HUB_OFFLINE": "1"}
    first = run_rag("ingest", env=values)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().startswith("5 added, 0 updated, 0 unchanged, 0 removed")
    return values


def test_cli__second_ingest_reports_everything_unchanged(env: dict[str, str]) -> None:
    second = run_rag("ingest", env=env)
    assert second.returncode == 0
    assert "0 added, 0 updated, 5 unchanged, 0 removed" in second.stdout
    assert "0 chunks written" in second.stdout


def test_cli__ask_json_prints_one_object_with_citations(env: dict[str, str]) -> None:
    result = run_rag("ask", "--json", "Combien Amazon a-t-il investi dans Anthropic ?", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"answer", "refused", "citations", "timings_ms"} <= set(data)
    assert "4 milliards" in data["answer"] and data["refused"] is False
    citation = data["citations"][0]
    assert set(citation) >= {"n", "file", "title", "quote", "char_start", "char_end", "score"}
    text = (ROOT / "data" / "corpus" / citation["file"]).read_text(encoding="utf-8")
    assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]


def test_cli__ask_prints_answer_and_numbered_sources(env: dict[str, str]) -> None:
    result = run_rag("ask", "Pourquoi Leike est-il parti ?", env=env)
    assert result.returncode == 0
    assert "Sources :" in result.stdout and "[1] 00" in result.stdout


def test_cli__missing_corpus_directory_exits_2(tmp_path: Path) -> None:
    result = run_rag(
        "ingest", env={"RAG_CORPUS_DIR": str(tmp_path / "absent"), "RAG_INDEX_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_cli__ask_before_ingest_says_to_ingest(tmp_path: Path) -> None:
    result = run_rag("ask", "Pourquoi Leike est-il parti ?", env={"RAG_INDEX_DIR": str(tmp_path / "i")})
    assert result.returncode == 2 and "rag ingest" in result.stderr


def test_cli__invalid_setting_is_named(tmp_path: Path) -> None:
    result = run_rag("ask", "x", env={"RAG_TOP_K": "0", "RAG_INDEX_DIR": str(tmp_path)})
    assert result.returncode == 2 and "RAG_TOP_K" in result.stderr
