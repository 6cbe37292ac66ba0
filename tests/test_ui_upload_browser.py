"""The chat's documents panel in a real headless Chromium: everyone sees the documents, an admin
uploads a Word file and a disguised PDF (refused by its content), follows the ingest's progress, and
an answer from the new document cites it with its source, date and link. Leaves
artifacts/ui-chat-upload.png."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from cli.serve import chat_add_callable
from ingest.service import run_ingest
from rag.compose import build_corpus, build_engine
from rag.embedding import Embedder
from tests.browser import headless, open_page, screenshot
from tests.conftest import CORPUS, make_settings
from tests.formats import PDFS, articles, write_docx
from tests.live_server import live_server
from ui.chat import mount_chat
from ui.documents import UploadPolicy

pytestmark = pytest.mark.browser

ADMIN = "cle-admin-du-chat"
RECORD_STATUS = """
window.seenStatus = new Set();
setInterval(() => window.seenStatus.add(document.querySelector('#upload-status textarea').value), 20);
"""
AMAZON = articles()[4]


@pytest.fixture(scope="module")
def chat(  # chromium first: no server without it
    chromium: str,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
) -> Iterator[tuple[str, Path]]:
    """The chat on four of the five .txt articles, uploads enabled for the admin key; and a Word
    file of the fifth article (with its metadata) and a PDF renamed .docx to upload."""
    base = tmp_path_factory.mktemp("upload")
    corpus = base / "corpus"
    corpus.mkdir()
    for path in sorted(CORPUS.glob("*.txt"))[:4]:
        shutil.copy(path, corpus)
    settings = make_settings(corpus, base / "index", admin_key=ADMIN, max_upload_bytes=500_000)
    run_ingest(settings, embedder=embedder, progress=False)
    engine = build_engine(settings, embedder=embedder)
    uploads = base / "uploads"
    uploads.mkdir()
    write_docx(AMAZON, uploads / "leike-anthropic.docx")
    shutil.copy(PDFS / "000_f26d2272fd34496e.pdf", uploads / "deguise.docx")
    app = mount_chat(
        FastAPI(),
        engine,
        build_corpus(settings),
        path="/ui",
        add=chat_add_callable(settings, engine),
        uploads=UploadPolicy(admin_key=ADMIN, max_bytes=settings.max_upload_bytes),
    )
    with live_server(app) as url:
        yield f"{url}/ui/", uploads


def test_chat__admin_uploads_documents_and_answers_cite_them(chromium: str, chat: tuple[str, Path]) -> None:
    url, uploads = chat
    with headless(chromium) as browser:
        page = open_page(browser, url, height=1100)
        page.get_by_text("Documents indexés").click()
        expect(page.locator("#documents .documents-count")).to_have_text("4 document(s)")

        files = [str(uploads / "leike-anthropic.docx"), str(uploads / "deguise.docx")]
        page.locator("#upload-files input[type=file]").set_input_files(files)
        page.locator("#upload-key input").fill("mauvaise clé")
        page.locator("#upload-send").click()
        status = page.locator("#upload-status textarea")
        expect(status).to_have_value("Clé d’administration incorrecte.")

        page.evaluate(RECORD_STATUS)
        page.locator("#upload-key input").fill(ADMIN)
        page.locator("#upload-send").click()
        expect(status).to_have_value(re.compile("ajouté — leike-anthropic.docx"), timeout=120_000)
        expect(status).to_have_value(re.compile("refusé — deguise.docx : the content is PDF, not DOCX"))
        seen = page.evaluate("[...window.seenStatus]")
        assert any("Indexation" in s for s in seen), seen  # the ingest's progress, as it ran
        expect(page.locator("#documents .documents-count")).to_have_text("5 document(s)")
        row = page.locator("#documents tr[data-id='leike-anthropic.docx']")
        expect(row).to_contain_text("Tech Hebdo")
        expect(row.locator("a")).to_have_attribute("href", AMAZON.url)

        page.locator("#question textarea").fill("Combien Amazon a-t-il investi dans Anthropic ?")
        page.locator("#send").click()
        answer = page.locator("#conversation .turn").nth(0)
        expect(answer.locator(".answer")).to_contain_text("4 milliards")
        source = answer.locator(".sources li", has_text="leike-anthropic.docx").first
        expect(source.locator(".meta")).to_contain_text("Tech Hebdo · 28/05/2024 · Thomas Bernard")
        expect(source.locator(".meta a")).to_have_attribute("href", AMAZON.url)
        source.locator("button.source").click()
        expect(page.locator("#article mark")).to_have_count(1)
        expect(page.locator("#article .meta")).to_contain_text("Tech Hebdo")
        page.mouse.move(0, 0)
        screenshot(page, "ui-chat-upload.png")

        # The sources filter: only Tech Hebdo (the uploaded document) may answer.
        page.get_by_text("Filtrer par date ou par source").click()
        page.locator("#date-from textarea").fill("2024-05-20")
        page.locator("#question textarea").fill("Pourquoi Leike est-il parti ?")
        page.locator("#send").click()
        filtered = page.locator("#conversation .turn").nth(1)
        expect(filtered.locator(".sources .file").first).to_have_text("leike-anthropic.docx")
        assert set(filtered.locator(".sources .file").all_inner_texts()) == {"leike-anthropic.docx"}
