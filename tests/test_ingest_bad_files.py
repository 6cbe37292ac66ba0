"""Bad documents (a locked, a broken and a scanned PDF, a zip bomb posing as a Word file, a 200 MB page,
a paywall, a dump with broken lines, content that is not what its extension says) are each skipped
with the file and the reason; the run goes on, and the index keeps what it had."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from ingest.service import run_ingest
from rag.compose import build_engine
from rag.documents import DocumentTexts, documents_dir
from rag.embedding import Embedder
from tests.conftest import make_settings
from tests.formats import PDFS, articles, paywall_page, write_docx, write_format

SCHULMAN_PDF = "000_f26d2272fd34496e.pdf"


def encrypted(pdf: bytes, password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=password, owner_password="propriétaire", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb(docx: Path) -> bytes:
    """A real Word file with one more part: 300 MiB of zeros, deflated to a few hundred KiB."""
    out = io.BytesIO()
    with zipfile.ZipFile(docx) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            bomb.writestr(info, source.read(info))
        with bomb.open("word/media/image1.png", "w", force_zip64=True) as part:
            for _ in range(300):
                part.write(bytes(2**20))
    return out.getvalue()


def test_bad_files__are_skipped_with_their_reason_and_the_index_keeps_what_it_had(
    tmp_path: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PDFS / SCHULMAN_PDF, corpus)
    dump = corpus / "depeches.jsonl"
    write_format("jsonl", tmp_path / "dump")
    good_lines = (tmp_path / "dump" / "articles.jsonl").read_text("utf-8").splitlines()[3:5]
    dump.write_text("\n".join(good_lines) + "\n", encoding="utf-8")
    settings = make_settings(corpus, tmp_path / "index")
    first = run_ingest(settings, embedder=embedder, progress=False)
    assert sorted(first.added) == ["000_f26d2272fd34496e.pdf", "depeches.jsonl"] and not first.skipped
    engine = build_engine(settings, embedder=embedder)
    before = sorted(engine.store.iter_all(), key=lambda row: row[0])

    pdf = (PDFS / "003_45baa9305485c6a1.pdf").read_bytes()
    (corpus / "verrouille.pdf").write_bytes(encrypted(pdf, "secret"))
    (corpus / "tronque.pdf").write_bytes(pdf[: len(pdf) // 2])
    shutil.copy(PDFS / "scanned.pdf", corpus / "scanne.pdf")
    write_docx(articles()[1], tmp_path / "vrai.docx")
    (corpus / "bombe.docx").write_bytes(zip_bomb(tmp_path / "vrai.docx"))
    with (corpus / "enorme.html").open("wb") as page:
        page.write(b"<!DOCTYPE html><html><body><p>")
        page.truncate(200 * 2**20)  # 200 MB on paper (a sparse file): refused before it is read
    (corpus / "abonnes.html").write_text(paywall_page(articles()[2]), encoding="utf-8")
    (corpus / "deguise.docx").write_bytes(pdf)
    (corpus / "page.pdf").write_text(paywall_page(articles()[0]), encoding="utf-8")
    (corpus / SCHULMAN_PDF).write_bytes((PDFS / SCHULMAN_PDF).read_bytes()[:5000])  # damaged since
    with dump.open("a", encoding="utf-8") as out:
        out.write('{"title": "Coupé", "text": "Une ligne interrompue\n')
        out.write(json.dumps({"title": "Sans texte", "date": "2024-05-01"}) + "\n")
        out.write(json.dumps(["une", "liste"]) + "\n")

    told: list[tuple[str, str]] = []
    report = run_ingest(settings, embedder=embedder, progress=False, on_skip=lambda *s: told.append(s))
    reasons = dict(report.skipped)
    assert set(reasons) == {
        "verrouille.pdf",
        "tronque.pdf",
        "scanne.pdf",
        "bombe.docx",
        "enorme.html",
        "abonnes.html",
        "deguise.docx",
        "page.pdf",
        SCHULMAN_PDF,
    }
    assert "encrypted" in reasons["verrouille.pdf"] and "password" in reasons["verrouille.pdf"]
    assert reasons["tronque.pdf"].startswith("broken PDF") and reasons[SCHULMAN_PDF].startswith("broken PDF")
    assert "no text layer" in reasons["scanne.pdf"] and "OCR" in reasons["scanne.pdf"]
    assert "zip bomb" in reasons["bombe.docx"] and "301 MiB" in reasons["bombe.docx"]
    assert "200.0 MiB" in reasons["enorme.html"] and "RAG_MAX_FILE_BYTES" in reasons["enorme.html"]
    assert "paywall" in reasons["abonnes.html"]
    assert reasons["deguise.docx"] == "the content is PDF, not DOCX (Word) as its extension says"
    assert reasons["page.pdf"] == "the content is HTML, not PDF as its extension says"
    lines = [reason for name, reason in report.warnings if name == "depeches.jsonl"]
    assert [r.split(":")[0] for r in lines] == ["line 3", "line 4", "line 5"]
    assert "not JSON" in lines[0] and "no `text` or `content`" in lines[1] and "not a JSON object" in lines[2]
    assert set(told) == set(report.skipped) | set(report.warnings)

    # The damaged PDF keeps what the index had of it, text included; the dump's articles are kept.
    after = sorted(engine.store.iter_all(), key=lambda row: row[0])
    assert [row[:2] for row in after] == [row[:2] for row in before]  # the dump's file_sha is new
    assert [row for row in after if row[2]["file"] == SCHULMAN_PDF] == [
        row for row in before if row[2]["file"] == SCHULMAN_PDF
    ]
    assert report.chunks_written == report.chunks_deleted == 0
    texts = DocumentTexts(documents_dir(settings.index_dir, settings.collection))
    assert [d.id for d in texts] == [SCHULMAN_PDF, "depeches.jsonl#1", "depeches.jsonl#2"]
    answer = engine.ask("Combien de temps John Schulman a-t-il passé chez OpenAI ?")
    assert not answer.refused and answer.citations[0].file == SCHULMAN_PDF


def test_bad_files__a_dump_with_no_article_at_all_is_skipped(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "vide.jsonl").write_text('{"title": "a"}\n{oops\n', encoding="utf-8")
    (corpus / "ok.md").write_text(
        "# Titre\n\nLa mairie de Lyon a planté 300 arbres en 2024.\n", encoding="utf-8"
    )
    report = run_ingest(make_settings(corpus, tmp_path / "index"), embedder=embedder, progress=False)
    assert report.added == ["ok.md"]
    assert dict(report.skipped) == {"vide.jsonl": "no article in the dump (2 line(s) left out)"}
