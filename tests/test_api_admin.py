"""The HTTP API's file-facing side over real HTTP: corpus sources (and traversal attempts), ingest
uploads into a private corpus copy, and what `rag serve` assembles and refuses."""

from __future__ import annotations

import http.client
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cli.serve import build_app, check_exposure, ingest_callable
from ingest.service import run_ingest
from rag.compose import build_engine
from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.settings import Settings
from tests.conftest import CORPUS, api_app, make_settings
from tests.live_server import live_server
from tests.test_api import LEIKE, assert_error

pytestmark = pytest.mark.server

KEY, ADMIN = "user-key-123", "admin-key-456"
AUTH, ADMIN_AUTH = {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {ADMIN}"}
SECRET = "TOP-SECRET-OUTSIDE-THE-CORPUS"
ARTICLE = (
    "Mistral AI lève 600 millions d'euros auprès de ses investisseurs\n\n"
    "La start-up parisienne Mistral AI a annoncé mardi avoir levé 600 millions d'euros. "
    "Arthur Mensch, directeur général de Mistral AI, affirme que cet argent financera de nouveaux "
    "modèles de langage. L'entreprise emploie désormais 150 personnes à Paris et à Londres.\n"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[httpx.Client, Path]]:
    """A private corpus copy and index, a secret file beside the corpus, and ingest wired as `rag serve`
    wires it. Uploads are limited to 200 kB."""
    base = tmp_path_factory.mktemp("admin")
    shutil.copytree(CORPUS, base / "corpus")
    (base / "secret.txt").write_text(SECRET, encoding="utf-8")
    settings = make_settings(
        base / "corpus",
        base / "index",
        api_keys=[KEY],
        admin_key=ADMIN,
        max_upload_bytes=200_000,
    )
    run_ingest(settings, embedder=embedder, progress=False)
    engine = build_engine(settings, embedder=embedder)
    app = api_app(engine, settings, ingest=ingest_callable(settings, engine))
    with live_server(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        yield client, base / "corpus"


def raw_get(base_url: str, path: str) -> tuple[int, str]:
    """GET a path exactly as written: no client-side normalisation of `..` or of %-escapes."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {KEY}"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


# -- sources --------------------------------------------------------------------------------------
def test_sources__return_the_text_citations_point_into(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    answer = client.post("/v1/ask", json={"question": "Pourquoi Leike est-il parti ?"}, headers=AUTH).json()
    for citation in answer["citations"]:
        source = client.get(f"/v1/sources/{citation['file']}", headers=AUTH).json()
        assert source["file"] == citation["file"] and source["title"] == citation["title"]
        assert source["text"][citation["char_start"] : citation["char_end"]] == citation["quote"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sources/../secret.txt",
        "/v1/sources/../../../../etc/passwd",
        "/v1/sources/%2e%2e/secret.txt",
        "/v1/sources/%2e%2e%2fsecret.txt",
        "/v1/sources/..%2Fsecret.txt",
        "/v1/sources/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/v1/sources/%252e%252e%252fsecret.txt",
        "/v1/sources//etc/passwd",
        "/v1/sources/%2Fetc%2Fpasswd",
        "/v1/sources/..%5Csecret.txt",
        "/v1/sources/000_f26d2272fd34496e.txt%00.txt",
        "/v1/sources/.upload-x.part",
        "/v1/sources/missing.txt",
        "/v1/sources/",
    ],
)
def test_sources__anything_outside_the_corpus_is_a_json_404(
    site: tuple[httpx.Client, Path],
    path: str,
) -> None:
    client, _ = site
    status, body = raw_get(str(client.base_url), path)
    assert status == 404, body
    assert SECRET not in body and "root:" not in body and '"error"' in body and "/tmp" not in body


# -- ingest ---------------------------------------------------------------------------------------
def test_ingest__without_files_resyncs_the_corpus(site: tuple[httpx.Client, Path]) -> None:
    client, _ = site
    body = client.post("/v1/ingest", headers=ADMIN_AUTH).json()
    assert body["saved"] == [] and body["chunks_written"] == 0 and len(body["unchanged"]) >= 5


def test_ingest__upload_is_saved_indexed_and_answerable(site: tuple[httpx.Client, Path]) -> None:
    client, corpus = site
    files = [("files", ("mistral.md", ARTICLE.encode(), "text/markdown"))]
    body = client.post("/v1/ingest", files=files, headers=ADMIN_AUTH).json()
    assert body["saved"] == ["mistral.md"] and body["added"] == ["mistral.md"] and body["chunks_written"] >= 1
    assert (corpus / "mistral.md").read_text(encoding="utf-8") == ARTICLE
    ask = {"question": "Combien de personnes emploie Mistral AI ?"}
    answer = client.post("/v1/ask", json=ask, headers=AUTH).json()
    assert {c["file"] for c in answer["citations"]} == {"mistral.md"} and "150 personnes" in answer["answer"]
    changed = [("files", ("mistral.md", ARTICLE.replace("150 personnes", "180 personnes").encode()))]
    again = client.post("/v1/ingest", files=changed, headers=ADMIN_AUTH).json()
    assert again["updated"] == ["mistral.md"]
    assert "180 personnes" in client.post("/v1/ask", json=ask, headers=AUTH).json()["answer"]
    assert not [p for p in corpus.iterdir() if p.name.startswith(".upload-")]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../evil.txt", "invalid_filename"),
        ("../../evil.txt", "invalid_filename"),
        ("/tmp/evil.txt", "invalid_filename"),
        ("sub/evil.txt", "invalid_filename"),
        ("..\\evil.txt", "invalid_filename"),
        (".hidden.txt", "invalid_filename"),
        ("..", "invalid_filename"),
        ("evil.py", "unsupported_file_type"),
        ("evil.txt.exe", "unsupported_file_type"),
        ("README", "unsupported_file_type"),
    ],
)
def test_ingest__unsafe_or_foreign_names_are_refused(
    site: tuple[httpx.Client, Path],
    name: str,
    code: str,
) -> None:
    client, corpus = site
    before = sorted(p.name for p in corpus.parent.rglob("*"))
    response = client.post("/v1/ingest", files=[("files", (name, ARTICLE.encode()))], headers=ADMIN_AUTH)
    assert_error(response, 422, code)
    assert sorted(p.name for p in corpus.parent.rglob("*")) == before


def test_ingest__binary_content_is_refused(site: tuple[httpx.Client, Path]) -> None:
    client, corpus = site
    response = client.post(
        "/v1/ingest", files=[("files", ("blob.txt", b"\x00\x01\x02" * 100))], headers=ADMIN_AUTH
    )
    assert_error(response, 422, "invalid_file")
    assert not (corpus / "blob.txt").exists()


def test_ingest__upload_over_its_limit_is_413(site: tuple[httpx.Client, Path]) -> None:
    client, corpus = site
    response = client.post("/v1/ingest", files=[("files", ("big.txt", b"mot " * 60_000))], headers=ADMIN_AUTH)
    assert_error(response, 413, "payload_too_large")
    assert not (corpus / "big.txt").exists()


def test_ingest__while_another_ingest_runs_is_409(site: tuple[httpx.Client, Path]) -> None:
    from ingest.lock import index_lock

    client, corpus = site
    with index_lock(corpus.parent / "index"):  # what a `rag ingest` in another terminal holds
        assert_error(client.post("/v1/ingest", headers=ADMIN_AUTH), 409, "ingest_locked")
    assert client.post("/v1/ingest", headers=ADMIN_AUTH).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), (AUTH, 403)],
)
def test_ingest__needs_the_admin_key(
    site: tuple[httpx.Client, Path],
    headers: dict[str, str],
    status: int,
) -> None:
    client, corpus = site
    response = client.post("/v1/ingest", files=[("files", ("x.txt", ARTICLE.encode()))], headers=headers)
    assert_error(response, status)
    assert not (corpus / "x.txt").exists()


def test_errors__engine_failure_is_a_generic_json_error(tmp_path: Path, embedder: Embedder) -> None:
    """A store that vanished under a running server (another process ran `rag ingest --rebuild`)."""
    from vectorstore import drop_collection

    (tmp_path / "corpus").mkdir()
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    engine = build_engine(settings, embedder=embedder, create=True)
    drop_collection(index_dir=settings.index_dir, collection=settings.collection)
    with live_server(api_app(engine, settings)) as url:
        response = httpx.post(f"{url}/v1/ask", json={"question": LEIKE}, timeout=60)
        assert response.status_code in (500, 503)
        assert_error(response, response.status_code)
        assert str(tmp_path) not in response.text and "chromadb" not in response.text
        assert_error(httpx.get(f"{url}/readyz", timeout=60), 503, "not_ready")


# -- rag serve ------------------------------------------------------------------------------------
def test_serve__refuses_a_public_address_without_keys(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli.main import main

    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    for name in ("RAG_API_KEYS", "RAG_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "8765"]) == 2
    message = capsys.readouterr().err
    assert "0.0.0.0" in message and "RAG_API_KEYS" in message and "127.0.0.1" in message


def test_serve__loopback_is_fine_without_keys_and_public_with_them() -> None:
    open_settings = Settings(_env_file=None)  # type: ignore[call-arg]
    check_exposure(open_settings, "127.0.0.1")
    check_exposure(open_settings, "localhost")
    check_exposure(open_settings, "::1")
    with pytest.raises(ConfigError):
        check_exposure(open_settings, "192.168.1.10")
    check_exposure(open_settings.model_copy(update={"api_keys": ["k"]}), "0.0.0.0")


def test_serve__app_leads_to_the_chat_and_keeps_the_docs(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(CORPUS, tmp_path / "index")
    run_ingest(settings, embedder=embedder, progress=False)
    app = build_app(build_engine(settings, embedder=embedder), settings)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/v1/ask").status_code == 405  # the API is there
        home = client.get("/", follow_redirects=False)
        assert home.status_code in (302, 307)
        assert home.headers["location"] == "/ui/"
        page = client.get("/ui/")
        assert page.status_code == 200 and "gradio" in page.text.lower()


@pytest.mark.slow
def test_serve__command_ingests_then_serves_until_stopped(tmp_path: Path) -> None:
    """`rag serve` as a user runs it: a fresh index is built first, then the API answers."""
    import os
    import signal
    import socket
    import subprocess
    import time

    from tests.conftest import start_rag

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(tmp_path / "index"),
        "RAG_COLLECTION": "serve-test",
        "HF_HUB_OFFLINE": "1",
        "RAG_API_KEYS": KEY,
    }
    process = start_rag(
        "serve", "--port", str(port), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline, ready = time.monotonic() + 180, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, process.returncode
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/ask",
            headers=AUTH,
            timeout=60,
            json={"question": "Combien Amazon a-t-il investi dans Anthropic ?"},
        )
        assert "4 milliards" in answer.json()["answer"]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "index: 5 added" in output, output
