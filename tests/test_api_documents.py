"""Documents over real HTTP: the list with metadata, uploads checked by content, removal, questions
restricted to a date range or sources (dense and keyword side), and metadata in every citation
(JSON, Server-Sent Events, OpenAI-compatible) with quotes exact in `/v1/sources`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cli.serve import ingest_callable, remove_callable
from ingest.service import run_ingest
from rag.compose import build_engine
from rag.embedding import Embedder
from tests.conftest import api_app, make_settings
from tests.formats import PDFS, articles, write_docx, write_format
from tests.live_server import live_server

pytestmark = pytest.mark.server

KEY, ADMIN = "user-key-doc", "admin-key-doc"
AUTH, ADMIN_AUTH = {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {ADMIN}"}
LEIKE = "Pourquoi Leike est-il parti ?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[httpx.Client, Path]]:
    """The articles as saved pages and as a dump (so each is there twice, from two formats), and
    the Leike PDF; ingest and removal wired as `rag serve` wires them."""
    base = tmp_path_factory.mktemp("documents")
    corpus = base / "corpus"
    write_format("html", corpus)
    write_format("jsonl", corpus)
    shutil.copy(PDFS / "003_45baa9305485c6a1.pdf", corpus / "leike.pdf")
    settings = make_settings(
        corpus, base / "index", api_keys=[KEY], admin_key=ADMIN, max_upload_bytes=300_000
    )
    run_ingest(settings, embedder=embedder, progress=False)
    engine = build_engine(settings, embedder=embedder)
    app = api_app(
        engine, settings, ingest=ingest_callable(settings, engine), remove=remove_callable(settings, engine)
    )
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        yield client, corpus


def exact(client: httpx.Client, citation: dict) -> bool:
    source = client.get(f"/v1/sources/{quote(citation['file'])}", headers=AUTH).json()
    return bool(source["text"][citation["char_start"] : citation["char_end"]] == citation["quote"])


def test_documents__list_every_document_with_its_metadata(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    documents = {d["id"]: d for d in client.get("/v1/documents", headers=AUTH).json()["documents"]}
    assert len(documents) == 11  # 5 pages, 5 articles of the dump, 1 PDF
    page = documents["004_d6bdbc85729e3bbc.html"]
    assert (page["kind"], page["source"], page["date"], page["author"]) == (
        "html",
        "Tech Hebdo",
        "2024-05-28",
        "Thomas Bernard",
    )
    assert page["url"] == articles()[4].url and page["chunks"] > 0 and page["ingested_at"]
    dumped = documents["articles.jsonl#2"]
    assert dumped["path"] == "articles.jsonl" and dumped["extra"]["lang"] == "fr"
    assert documents["leike.pdf"]["pages"] == 2
    assert client.get("/v1/documents").status_code == 401


def test_ask__citations_carry_the_documents_metadata_and_exact_quotes(
    site: tuple[httpx.Client, Path],
) -> None:
    client, _ = site
    answer = client.post("/v1/ask", json={"question": LEIKE}, headers=AUTH).json()
    assert answer["citations"]
    for citation in answer["citations"]:
        assert exact(client, citation)
        if citation["file"] == "leike.pdf":
            assert citation["page"] in (1, 2) and citation["author"] == "Sophie Leroy"
        else:
            assert citation["source"] == "Tech Hebdo" and citation["date"].startswith("2024-05")
            assert citation["url"].startswith("https://www.techhebdo.example/")


def test_ask__a_date_range_or_sources_restrict_both_searches(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    only_2025 = {"question": LEIKE, "date_from": "2025-01-01"}
    answer = client.post("/v1/ask", json=only_2025, headers=AUTH).json()
    cited = {c["file"] for c in answer["citations"]}
    assert cited <= {"002_32947e2b12942824.html", "articles.jsonl#3"}  # the only 2025 article
    body = {"question": "Combien Amazon a-t-il investi dans Anthropic ?", "sources": ["Le Journal de l’IA"]}
    answer = client.post("/v1/ask", json=body, headers=AUTH).json()
    assert all(c["source"] == "Le Journal de l’IA" for c in answer["citations"])
    assert "4 milliards" not in answer["answer"]  # Amazon's investment is in a Tech Hebdo article
    wrong = client.post(
        "/v1/ask", json={"question": LEIKE, "date_from": "2025-01-01", "date_to": "2024-01-01"}, headers=AUTH
    )
    assert wrong.status_code == 422 and "date range" in wrong.json()["error"]["message"]


def test_chat__streamed_and_openai_citations_carry_the_metadata(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    body = {"messages": [{"role": "user", "content": LEIKE}], "stream": True, "sources": ["Tech Hebdo"]}
    with client.stream("POST", "/v1/chat", json=body, headers=AUTH) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data:")]
    events = [json.loads(line[5:]) for line in lines]
    cited = [e for e in events if "quote" in e]
    assert cited and all(c["source"] == "Tech Hebdo" and c["url"] for c in cited)
    completion = client.post(
        "/v1/chat/completions",
        json={"model": "rag", "messages": [{"role": "user", "content": LEIKE}]},
        headers=AUTH,
    ).json()
    assert completion["citations"] and all("date" in c and "page" in c for c in completion["citations"])


def test_sources__a_pdf_comes_with_its_pages(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    source = client.get("/v1/sources/leike.pdf", headers=AUTH).json()
    assert source["kind"] == "pdf" and [p["page"] for p in source["pages"]] == [1, 2]
    assert source["pages"][-1]["char_end"] == len(source["text"])
    assert (
        client.get(f"/v1/sources/{quote('articles.jsonl#4')}", headers=AUTH).json()["source"] == "Tech Hebdo"
    )


def test_documents__upload_checks_content_and_needs_the_admin_key(
    site: tuple[httpx.Client, Path], tmp_path: Path
) -> None:
    client, corpus = site
    write_docx(articles()[0], tmp_path / "schulman.docx")
    docx = ("files", ("schulman.docx", (tmp_path / "schulman.docx").read_bytes()))
    assert client.post("/v1/documents", files=[docx], headers=AUTH).status_code == 403
    disguised = ("files", ("faux.docx", (PDFS / "000_f26d2272fd34496e.pdf").read_bytes()))
    refused = client.post("/v1/documents", files=[disguised], headers=ADMIN_AUTH)
    assert refused.status_code == 422 and "the content is PDF, not DOCX" in refused.json()["error"]["message"]
    assert not (corpus / "faux.docx").exists()
    added = client.post("/v1/documents", files=[docx], headers=ADMIN_AUTH).json()
    assert added["added"] == ["schulman.docx"] and added["chunks_written"] > 0
    listed = {d["id"]: d for d in client.get("/v1/documents", headers=AUTH).json()["documents"]}
    assert (
        listed["schulman.docx"]["kind"] == "docx"
        and listed["schulman.docx"]["source"] == "Le Journal de l’IA"
    )


def test_documents__delete_removes_a_document_but_not_one_article_of_a_dump(
    site: tuple[httpx.Client, Path],
) -> None:
    client, corpus = site
    assert client.delete("/v1/documents/000_f26d2272fd34496e.html", headers=AUTH).status_code == 403
    gone = client.delete("/v1/documents/000_f26d2272fd34496e.html", headers=ADMIN_AUTH).json()
    assert gone["files"] == ["000_f26d2272fd34496e.html"] and gone["chunks_deleted"] > 0
    assert not (corpus / "000_f26d2272fd34496e.html").exists()
    assert client.get("/v1/sources/000_f26d2272fd34496e.html", headers=AUTH).status_code == 404
    ids = {d["id"] for d in client.get("/v1/documents", headers=AUTH).json()["documents"]}
    assert "000_f26d2272fd34496e.html" not in ids and "articles.jsonl#1" in ids
    part = client.delete(f"/v1/documents/{quote('articles.jsonl#1')}", headers=ADMIN_AUTH)
    assert part.status_code == 409 and part.json()["error"]["code"] == "part_of_dump"
    assert client.delete("/v1/documents/absent.pdf", headers=ADMIN_AUTH).status_code == 404
