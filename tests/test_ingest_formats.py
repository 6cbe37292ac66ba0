"""Real documents of the corpus articles (LibreOffice PDFs, python-docx Word files, saved news pages,
Markdown, a JSON Lines dump) ingested with the real readers, model and Chroma: exact spans over the
stored text, the documents' metadata on every chunk, and no page boilerplate anywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from ingest.remove import remove_documents
from ingest.service import run_ingest
from rag.compose import build_engine
from rag.documents import DocumentTexts, documents_dir
from rag.embedding import Embedder
from rag.errors import CorpusError
from rag.filters import DocumentFilter
from rag.settings import Settings
from tests.conftest import make_settings
from tests.formats import BOILERPLATE, articles, write_format
from vectorstore import open_store

FORMATS = ("pdf", "docx", "html", "md", "jsonl")


def texts_of(settings: Settings) -> DocumentTexts:
    return DocumentTexts(documents_dir(settings.index_dir, settings.collection))


def rows_of(settings: Settings) -> list[tuple[str, str, dict]]:
    store = open_store(
        index_dir=settings.index_dir, collection=settings.collection, embed_model=settings.embed_model
    )
    return [(i, text, dict(meta)) for i, text, meta in store.iter_all()]


Ingested = tuple[str, Settings, dict[str, str]]
"""(format, settings, {txt name: document id}) of the corpus written in one format and ingested."""


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Callable[[str], Ingested]:
    """The corpus written in a format and ingested, once per format for the whole module."""
    done: dict[str, Ingested] = {}

    def ingest(kind: str) -> Ingested:
        if kind not in done:
            base = tmp_path_factory.mktemp(kind)
            ids = write_format(kind, base / "corpus")
            settings = make_settings(base / "corpus", base / "index")
            report = run_ingest(settings, embedder=embedder, progress=False)
            assert not report.skipped and not report.warnings, report.skipped + report.warnings
            done[kind] = (kind, settings, ids)
        return done[kind]

    return ingest


@pytest.fixture(params=FORMATS)
def ingested(request: pytest.FixtureRequest, corpora: Callable[[str], Ingested]) -> Ingested:
    return corpora(request.param)


def test_formats__every_chunk_is_an_exact_span_of_its_stored_text(
    ingested: Ingested,
) -> None:
    kind, settings, ids = ingested
    texts = texts_of(settings)
    rows = rows_of(settings)
    assert {meta["file"] for _, _, meta in rows} == set(ids.values())
    for chunk_id, text, meta in rows:
        document = texts.get(meta["file"])
        assert document is not None and document.sha == meta["file_sha"]
        assert document.text[meta["char_start"] : meta["char_end"]] == text
        assert chunk_id.startswith(f"{meta['file']}:{meta['chunk_index']}:")


def test_formats__documents_keep_their_title_date_author_source_and_url(
    ingested: Ingested,
) -> None:
    kind, settings, ids = ingested
    texts = texts_of(settings)
    chunks = {meta["file"]: meta for _, _, meta in rows_of(settings)}
    for article in articles():
        doc_id = ids[f"{article.stem}.txt"]
        document = texts.get(doc_id)
        assert document is not None and document.title == article.title
        meta = chunks[doc_id]
        assert meta["title"] == article.title and meta["author"] == article.author
        if kind == "pdf":  # a PDF's own metadata: title, author, pages; the page of every chunk
            assert meta["page"] >= 1 and document.meta["pages"] == max(p for p, _, _ in document.pages)
            continue
        assert (meta["date"], meta["source"], meta["url"]) == (article.date, article.source, article.url)
        assert meta["day"] == int(article.date.replace("-", ""))


def test_pdf__each_chunk_carries_the_page_it_starts_on(corpora: Callable[[str], Ingested]) -> None:
    kind, settings, _ = corpora("pdf")
    texts = texts_of(settings)
    pages_seen = set()
    for _, _, meta in rows_of(settings):
        document = texts.get(meta["file"])
        assert document is not None
        assert meta["page"] == document.page_at(meta["char_start"])
        pages_seen.add(meta["page"])
    assert pages_seen == {1, 2}  # the articles run over two pages (one fits on one)


def test_formats__the_text_is_the_articles_text_and_nothing_of_the_page_around_it(
    ingested: Ingested,
) -> None:
    kind, settings, ids = ingested
    texts = texts_of(settings)
    for article in articles():
        document = texts.get(ids[f"{article.stem}.txt"])
        assert document is not None
        lines = [line.lstrip("#").strip() if kind == "md" else line for line in document.text.splitlines()]
        body = [line for line in lines if line and line != article.title]
        emoji_lost = kind == "pdf" and article.stem.startswith("002")  # the PDF font maps 🔍 👉 to 🤖
        assert (
            (sum(a != b for a, b in zip(body, article.body, strict=True)) <= 2)
            if emoji_lost
            else (body == list(article.body))
        )
        assert not any(sentence in document.text for sentence in BOILERPLATE)


def test_formats__a_second_run_reads_and_embeds_nothing(ingested: Ingested, embedder: Embedder) -> None:
    kind, settings, _ = ingested
    before = rows_of(settings)
    report = run_ingest(settings, embedder=embedder, progress=False)
    assert report.chunks_written == report.chunks_deleted == 0 and not report.added and not report.updated
    assert len(report.unchanged) == (1 if kind == "jsonl" else 5)
    assert rows_of(settings) == before


def test_jsonl__unknown_keys_are_kept_as_metadata(corpora: Callable[[str], Ingested]) -> None:
    kind, settings, ids = corpora("jsonl")
    document = texts_of(settings).get(ids["003_45baa9305485c6a1.txt"])
    assert document is not None and document.path == "articles.jsonl"
    assert document.extra == {
        "id": "003_45baa9305485c6a1",
        "lang": "fr",
        "tags": json.dumps(["IA", "OpenAI"]),
        "rank": 3,
    }
    metas = [m for _, _, m in rows_of(settings) if m["file"] == document.id]
    assert metas and all(m["extra_lang"] == "fr" and m["path"] == "articles.jsonl" for m in metas)


def test_markdown__chunks_know_their_section(corpora: Callable[[str], Ingested]) -> None:
    kind, settings, ids = corpora("md")
    doc_id = ids["002_32947e2b12942824.txt"]
    sections = {m["section"] for _, _, m in rows_of(settings) if m["file"] == doc_id}
    title = "John Schulman quitte déjà Anthropic"
    assert {f"{title} > Point de vue neutre", f"{title} > Point de vue pessimiste"} <= sections
    document = texts_of(settings).get(doc_id)
    assert document is not None and not document.text.startswith("---")  # the front matter is metadata


def test_formats__a_removed_file_takes_its_chunks_and_text_with_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    ids = write_format("html", tmp_path / "corpus")
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    run_ingest(settings, embedder=embedder, progress=False)
    gone = ids["004_d6bdbc85729e3bbc.txt"]
    (tmp_path / "corpus" / gone).unlink()
    report = run_ingest(settings, embedder=embedder, progress=False)
    assert report.removed == [gone]
    assert gone not in {m["file"] for _, _, m in rows_of(settings)}
    assert texts_of(settings).get(gone) is None and len(list(texts_of(settings))) == 4


def test_remove__a_document_leaves_the_corpus_the_index_and_the_stored_texts(
    tmp_path: Path, embedder: Embedder
) -> None:
    ids = write_format("html", tmp_path / "corpus")
    write_format("jsonl", tmp_path / "corpus")
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    run_ingest(settings, embedder=embedder, progress=False)
    leike = ids["003_45baa9305485c6a1.txt"]
    with pytest.raises(CorpusError, match="one article of the dump 'articles.jsonl'"):
        remove_documents(settings, [leike, "articles.jsonl#2"])
    with pytest.raises(CorpusError, match="No document 'absent.pdf'"):
        remove_documents(settings, ["absent.pdf"])
    assert len(list(texts_of(settings))) == 10  # nothing removed by a refused request

    report = remove_documents(settings, [leike, "articles.jsonl"])
    assert report.files == [leike, "articles.jsonl"] and report.chunks_deleted > 0
    assert sorted(report.documents) == sorted([leike] + [f"articles.jsonl#{i}" for i in range(1, 6)])
    assert not (tmp_path / "corpus" / leike).exists()
    assert {m["file"] for _, _, m in rows_of(settings)} == set(ids.values()) - {leike}
    assert [d.id for d in texts_of(settings)] == sorted(set(ids.values()) - {leike})
    again = run_ingest(settings, embedder=embedder, progress=False)
    assert not again.added and not again.removed and again.chunks_written == 0


def test_filters__dates_and_sources_restrict_the_dense_and_the_keyword_side(
    corpora: Callable[[str], Ingested], embedder: Embedder
) -> None:
    _, settings, ids = corpora("html")
    engine = build_engine(settings, embedder=embedder)
    question = "Pourquoi Leike est-il parti d'OpenAI ?"
    may = DocumentFilter.of(date_from=date(2024, 5, 1), date_to=date(2024, 5, 31))
    assert may is not None
    vector = engine.embedder.embed_query([question])[0]
    dense = engine.store.query(vector, 20, where=may.where())
    bm25 = engine.retriever.bm25()
    keyword = bm25.search(question, 20, allowed=may.matches)
    leike = {ids["003_45baa9305485c6a1.txt"], ids["004_d6bdbc85729e3bbc.txt"]}  # the two May articles
    assert dense and {hit.metadata["file"] for hit in dense} == leike
    assert keyword and {bm25.metas[row]["file"] for row, _ in keyword} == leike
    assert {bm25.metas[row]["file"] for row, _ in bm25.search(question, 20)} - leike  # unfiltered: more
    journal = DocumentFilter.of(sources=["Le Journal de l’IA"])
    answer = engine.ask(question, restrict=journal)
    assert {p.file for p in answer.passages} <= {
        ids["000_f26d2272fd34496e.txt"],
        ids["002_32947e2b12942824.txt"],
    }
