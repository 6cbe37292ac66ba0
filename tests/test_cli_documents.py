"""`rag documents list|rm` and `rag ask` with filters, in process, on saved news pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from tests.conftest import make_settings, point_rag_at
from tests.formats import articles, write_format

AMAZON = "Combien Amazon a-t-il investi dans Anthropic ?"


@pytest.fixture
def pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The articles as saved pages, the environment pointing `rag` at them."""
    corpus = tmp_path / "corpus"
    write_format("html", corpus)
    settings = make_settings(corpus, tmp_path / "index")
    monkeypatch.chdir(tmp_path)
    point_rag_at(settings, monkeypatch)
    assert main(["ingest", "--no-progress"]) == 0
    return corpus


def test_cli__documents_list_ask_with_metadata_and_rm(
    pages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["documents", "list", "--json"]) == 0
    listed = {d["id"]: d for d in json.loads(capsys.readouterr().out)}
    leike = articles()[4]
    assert listed["004_d6bdbc85729e3bbc.html"]["title"] == leike.title
    assert listed["004_d6bdbc85729e3bbc.html"]["source"] == "Tech Hebdo" and len(listed) == 5

    assert main(["ask", AMAZON]) == 0
    shown = capsys.readouterr().out
    assert (
        "4 milliards" in shown and "Tech Hebdo · 2024-05-28 · Thomas Bernard" in shown and leike.url in shown
    )

    assert main(["ask", AMAZON, "--since", "2025-01-01", "--json"]) == 0
    cited = {c["file"] for c in json.loads(capsys.readouterr().out)["citations"]}
    assert cited <= {"002_32947e2b12942824.html"}
    assert main(["ask", AMAZON, "--since", "2025-01-01", "--until", "2024-01-01"]) == 2
    assert "date range is empty" in capsys.readouterr().err

    assert main(["documents", "rm", "004_d6bdbc85729e3bbc.html"]) == 0
    assert "removed 1 document(s)" in capsys.readouterr().out
    assert not (pages / "004_d6bdbc85729e3bbc.html").exists()
    assert main(["documents", "list"]) == 0
    assert "4 document(s)" in capsys.readouterr().out
    assert main(["documents", "rm", "absent.pdf"]) == 2
    assert "No document 'absent.pdf'" in capsys.readouterr().err
