"""The chat's documents panel and citation metadata without a browser: escaping, links only to web
addresses, the filter fields, and the upload checks (key, size, content)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from rag.corpus import SkippedFile
from rag.documents import StoredDocument
from rag.errors import InvalidQuestionError, RagError
from tests.formats import PDFS
from ui.documents import UploadPolicy, render_documents, restriction
from ui.meta import render_meta


def test_meta__is_escaped_and_links_only_to_web_addresses() -> None:
    shown = render_meta(
        source="<b>Le Monde</b>",
        date="2024-05-28",
        author="A & B",
        page=3,
        url="https://exemple.fr/a?b=1&c=2",
    )
    assert (
        "&lt;b&gt;Le Monde" in shown
        and "28/05/2024" in shown
        and "A &amp; B" in shown
        and "p.&nbsp;3" in shown
    )
    assert 'href="https://exemple.fr/a?b=1&amp;c=2"' in shown and 'rel="noopener noreferrer"' in shown
    assert "href" not in render_meta(source="X", url="javascript:alert(1)")
    assert render_meta() == ""


def test_documents__table_escapes_and_links_the_originals() -> None:
    doc = StoredDocument(
        id="a<b>.html",
        path="a<b>.html",
        kind="html",
        title="<script>x</script>",
        text="t",
        sha="",
        meta={"url": "javascript:alert(1)", "source": "S"},
        chunks=2,
    )
    shown = render_documents([doc])
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "javascript:" not in shown
    assert "1 document(s)" in shown and "HTML" in shown


def test_filters__dates_and_sources_become_a_filter_or_a_french_error() -> None:
    assert restriction("", " ", []) is None
    found = restriction("2024-05-01", "", ["Tech Hebdo", "Tech Hebdo"])
    assert found is not None and found.date_from == date(2024, 5, 1) and found.sources == ("Tech Hebdo",)
    with pytest.raises(InvalidQuestionError, match="n’est pas une date"):
        restriction("28/05/2024", "", None)
    with pytest.raises(InvalidQuestionError, match="période est vide"):
        restriction("2025-01-01", "2024-01-01", None)


def test_upload__needs_the_key_and_refuses_big_or_disguised_files(tmp_path: Path) -> None:
    policy = UploadPolicy(admin_key="secret", max_bytes=40_000)
    with pytest.raises(RagError, match="incorrecte"):
        policy.check_key("nope")
    with pytest.raises(RagError, match="désactivé"):
        UploadPolicy(admin_key="", max_bytes=1).check_key("")
    policy.check_key("secret")
    disguised = tmp_path / "article.docx"
    disguised.write_bytes((PDFS / "004_d6bdbc85729e3bbc.pdf").read_bytes())
    with pytest.raises(SkippedFile, match="the content is PDF, not DOCX"):
        policy.read(str(disguised))
    big = tmp_path / "gros.txt"
    big.write_text("mot " * 20_000, encoding="utf-8")
    with pytest.raises(SkippedFile, match="au-delà de la limite"):
        policy.read(str(big))
    script = tmp_path / "x.exe"
    script.write_bytes(b"MZ")
    with pytest.raises(SkippedFile, match="type non pris en charge"):
        policy.read(str(script))
    good = tmp_path / "ok.pdf"
    good.write_bytes((PDFS / "004_d6bdbc85729e3bbc.pdf").read_bytes())
    assert policy.read(str(good))[0] == "ok.pdf"
