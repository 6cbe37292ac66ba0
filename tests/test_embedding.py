"""The embedding models by name: the packaged MiniLM, EmbeddingGemma-300M and multilingual-e5-small
(4-bit) from `make models-embed`, loaded offline, with their query and document prompts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.service import run_ingest
from rag.compose import build_engine
from rag.embedding import E5, GEMMA, Embedder
from rag.errors import ConfigError, EmbeddingModelMismatchError
from rag.models_install import installed, model_path
from rag.settings import DEFAULT_EMBED_MODEL, MINILM
from tests.conftest import CORPUS, make_settings

QUESTION = "Pourquoi Leike est-il parti ?"
PASSAGE = "Jan Leike a quitté OpenAI : selon lui, la sécurité passait après les produits brillants."

needs_gemma = pytest.mark.skipif(not installed(GEMMA), reason=f"{GEMMA} is not installed: make models-embed")
needs_e5 = pytest.mark.skipif(not installed(E5), reason=f"{E5} is not installed: make models-embed")


@pytest.fixture(scope="module")
def gemma() -> Iterator[Embedder]:
    yield Embedder(GEMMA)


def test_minilm__has_no_prompts_so_questions_and_passages_embed_alike() -> None:
    embedder = Embedder(MINILM)
    assert np.allclose(embedder.embed_query([QUESTION]), embedder.embed_cached([QUESTION]))
    assert np.allclose(embedder.embed([QUESTION]), embedder.embed_cached([QUESTION]), atol=1e-6)


def test_embedder__an_uninstalled_packaged_model_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make models-embed"):
        model_path(GEMMA, models_dir=tmp_path)


@needs_gemma
@pytest.mark.slow
def test_gemma__loads_offline_and_gives_normalised_768_d_vectors(gemma: Embedder) -> None:
    vectors = gemma.embed([PASSAGE, "Un autre texte, sans rapport."])
    assert vectors.shape == (2, 768) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert gemma.max_tokens >= 512  # chunks of 200 of its tokens are never cut


@needs_gemma
@pytest.mark.slow
def test_gemma__questions_and_passages_get_their_own_prompts(gemma: Embedder) -> None:
    raw = gemma.model.encode
    query = gemma.embed_query([QUESTION])[0]
    document = gemma.embed_cached([QUESTION])[0]
    assert np.allclose(
        query, raw("task: search result | query: " + QUESTION, normalize_embeddings=True), atol=1e-5
    )
    assert np.allclose(document, raw("title: none | text: " + QUESTION, normalize_embeddings=True), atol=1e-5)
    assert np.allclose(gemma.embed([QUESTION])[0], document, atol=1e-5)  # ingest = documents
    assert float(query @ document) < 0.95  # the prompt changes the vector: it is applied


@needs_gemma
@pytest.mark.slow
def test_gemma__an_index_built_with_it_answers_from_the_right_article_and_records_it(
    gemma: Embedder, embedder: Embedder, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = make_settings(corpus, tmp_path / "index", embed_model=GEMMA)
    run_ingest(settings, embedder=gemma, progress=False)
    answer = build_engine(settings, embedder=gemma).ask(QUESTION)
    assert answer.passages[0].file in {"003_45baa9305485c6a1.txt", "004_d6bdbc85729e3bbc.txt"}
    # The collection records its model: the default one cannot read it until `rag ingest --rebuild`.
    with pytest.raises(EmbeddingModelMismatchError, match="rag ingest --rebuild"):
        build_engine(settings.model_copy(update={"embed_model": DEFAULT_EMBED_MODEL}), embedder=embedder)


@needs_e5
@pytest.mark.slow
def test_e5__gives_normalised_384_d_vectors_with_query_and_passage_prefixes() -> None:
    e5 = Embedder(E5)
    query, passage = e5.embed_query([QUESTION])[0], e5.embed([QUESTION])[0]
    assert query.shape == (384,) and np.isclose(np.linalg.norm(query), 1.0, atol=1e-4)
    assert float(query @ passage) < 0.99  # "query: " and "passage: " differ
    assert float(query @ e5.embed([PASSAGE])[0]) > float(query @ e5.embed(["Le cours du blé."])[0])
    assert 5 < len(e5.count_tokens(PASSAGE)) < 60
