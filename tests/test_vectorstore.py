"""The vector store on real Chroma in temporary directories: a damaged index refused with advice, then
opened again once repaired or set aside, in the same process (this leans on Chroma's private cache
of systems: these tests fail the day Chroma changes it); a lazy store tried again after failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from vectorstore import ChunkStore, LazyStore, StoreUnavailable, drop_collection, open_store

DAMAGED = b"this is not a Chroma database " * 4096


def damaged_index(tmp_path: Path) -> Path:
    index = tmp_path / "index"
    index.mkdir()
    (index / "chroma.sqlite3").write_bytes(DAMAGED)
    return index


def opened(index: Path) -> ChunkStore:
    return open_store(index_dir=index, collection="articles", embed_model="model-a", create=True)


def test_open__a_damaged_index_opens_once_repaired_without_a_restart(tmp_path: Path) -> None:
    index = damaged_index(tmp_path)
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="rag ingest --rebuild"):
            opened(index)
    (index / "chroma.sqlite3").unlink()  # repaired (here: removed, so a new index is created)
    store = opened(index)
    store.upsert(["a.txt:0"], [[1.0, 0.0]], ["Bonjour."], [{"file": "a.txt"}])
    assert store.count() == 1 and store.query([1.0, 0.0], 1)[0].document == "Bonjour."


def test_drop__a_damaged_index_is_set_aside_and_a_new_one_opens(tmp_path: Path) -> None:
    index = damaged_index(tmp_path)
    with pytest.raises(StoreUnavailable):
        opened(index)
    drop_collection(index_dir=index, collection="articles")
    assert [p.read_bytes() for p in index.glob("damaged-*/chroma.sqlite3")] == [DAMAGED]
    assert opened(index).count() == 0


def test_lazy__opens_on_first_use_and_again_after_a_failure(tmp_path: Path) -> None:
    index = damaged_index(tmp_path)
    store = LazyStore(lambda: opened(index), retry_s=0.0)
    with pytest.raises(StoreUnavailable):
        store.count()
    (index / "chroma.sqlite3").unlink()
    assert store.count() == 0 and isinstance(store.opened(), ChunkStore)
