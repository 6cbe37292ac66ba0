"""Query benchmark at the 5-article corpus: p50/p95 of retrieval and full (extractive) answers, ours
(in process and through `rag serve`'s /v1/ask) against the plain llama-index retriever and query
engine on the same Chroma collection, and against the bare embedding of the same question.
Run: `.venv/bin/python -m bench.query [--variants 8]`.

Cold: a question text the system never saw (its embedding is not cached; the passages' sentence
embeddings are, after the warm-up pass, as they are in a server that has answered a few questions).
Warm: the same texts asked again (the question's embedding comes from the cache).
"""

from __future__ import annotations

import argparse
import shutil
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import (
    CORPUS,
    RESULTS,
    WORK,
    plot_bars,
    questions,
    rag_server,
    ratio,
    rss_mib,
    save,
    settings_for,
    summary,
    table,
    timed,
)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--variants", type=int, default=8, help="wordings of the 79 questions (max 8)")
    opts = args.parse_args()

    from llama_index.core.llms import MockLLM

    from bench.plain import SentenceTransformerEmbedding, plain_index_on
    from ingest.service import run_ingest
    from rag.compose import build_embedder, build_engine
    from rag.embedding import one_thread

    base = WORK / "query"
    shutil.rmtree(base, ignore_errors=True)
    settings = settings_for(CORPUS, base / "index")
    embedder = build_embedder(settings)
    # The bare floor and plain llama-index run the model's fp32 torch weights, whatever RAG_EMBED_BACKEND
    # ours runs (the bound: /v1/ask within 1x the fp32 bare embedding).
    torch_settings = settings.model_copy(update={"embed_backend": "torch"})
    floor = embedder if settings.embed_backend == "torch" else build_embedder(torch_settings)
    run_ingest(settings, embedder=embedder, progress=False)
    engine = build_engine(settings, embedder=embedder)
    k = settings.top_k
    plain_index = plain_index_on(engine.store.collection, SentenceTransformerEmbedding(floor.model))
    plain_retriever = plain_index.as_retriever(similarity_top_k=k)
    plain_engine = plain_index.as_query_engine(llm=MockLLM(), similarity_top_k=k)

    # Distinct texts: even ones for in-process retrieval, odd ones for answers (in process and HTTP).
    distinct = [q for v in range(1, opts.variants + 1) for q in questions(v % 8 if v < 8 else 0)]
    distinct = list(dict.fromkeys(distinct))
    for_retrieval, for_answers = distinct[0::2], distinct[1::2]
    warmup = questions(0)[:20] if opts.variants >= 8 else questions(0)

    env = {
        "RAG_CORPUS_DIR": str(CORPUS),
        "RAG_INDEX_DIR": str(base / "server-index"),
        "RAG_COLLECTION": "bench-query",
        "RAG_ANSWERER": "extractive",
    }
    samples: dict[str, list[float]] = defaultdict(list)
    with rag_server(env) as (url, proc, ready_s), httpx.Client(base_url=url, timeout=60) as http:

        def ask_http(q: str) -> Any:
            response = http.post("/v1/ask", json={"question": q})
            response.raise_for_status()
            return response.json()

        for q in warmup + questions(0):  # warm-up: torch, BM25, the passages' sentence embeddings
            engine.ask(q)
            ask_http(q)
            plain_engine.query(q)

        def bare_embed(a: str) -> Any:
            with one_thread():  # the fastest bare way here: see one_thread in rag/embedding.py
                return floor.model.encode([a], normalize_embeddings=True)

        def single(fn: Callable[[], Any]) -> Any:
            with one_thread():  # the baselines get the same thread setting as our query path
                return fn()

        measures: dict[str, Callable[[str, str], Any]] = {
            "bare embedding": lambda r, a: bare_embed(a),
            "ours retrieve (hybrid)": lambda r, a: engine.retrieve(r),
            "ours answer, engine.ask": lambda r, a: engine.ask(a),
            "ours answer, /v1/ask": lambda r, a: ask_http(a),
            "plain retriever": lambda r, a: single(lambda: plain_retriever.retrieve(r)),
            "plain query engine (MockLLM)": lambda r, a: single(lambda: plain_engine.query(a)),
        }
        for phase in ("cold", "warm"):
            for r, a in zip(for_retrieval, for_answers, strict=False):
                for name, fn in measures.items():
                    if phase == "warm" and name.startswith(("bare", "plain")):
                        continue  # nothing of theirs is cached: their warm is their cold
                    samples[f"{name} [{phase}]"].append(timed(lambda fn=fn, r=r, a=a: fn(r, a))[0])
                if phase == "warm":  # retrieval alone, from the same vector: hybrid over dense-only
                    vector = embedder.embed_cached([r])[0]
                    samples["dense only, store.query"].append(
                        timed(lambda v=vector: engine.store.query(v, settings.candidates))[0]
                    )
                    samples["hybrid, HybridRetriever.retrieve"].append(
                        timed(lambda r=r, v=vector: engine.retriever.retrieve(r, v, k))[0]
                    )
        # Last and alone: torch's default threads leave busy-waiting workers that slow what follows.
        for a in for_answers:
            samples["bare embedding, torch default threads [cold]"].append(
                timed(lambda a=a: floor.model.encode([a], normalize_embeddings=True))[0]
            )
        server_rss = rss_mib(proc.pid)

    stats = {name: summary(values) for name, values in samples.items()}
    p50 = {name: s["p50"] for name, s in stats.items()}
    bare = p50["bare embedding [cold]"]
    ratios = {
        "/v1/ask warm p50 over bare embedding p50": ratio(p50["ours answer, /v1/ask [warm]"], bare),
        "/v1/ask cold p50 over bare embedding p50": ratio(p50["ours answer, /v1/ask [cold]"], bare),
        "engine.ask warm p50 over bare embedding p50": ratio(p50["ours answer, engine.ask [warm]"], bare),
        "ours retrieve cold p50 over plain retriever p50": ratio(
            p50["ours retrieve (hybrid) [cold]"], p50["plain retriever [cold]"]
        ),
        "hybrid over dense-only p50 (same vector)": ratio(
            p50["hybrid, HybridRetriever.retrieve"], p50["dense only, store.query"]
        ),
    }
    rows = [[name, s["p50"], s["p95"], s["mean"], s["n"]] for name, s in stats.items()]
    text = (
        f"Queries at the 5-article corpus ({engine.store.count()} chunks); {len(for_answers)} distinct "
        f"questions per measure; server ready in {ready_s:.1f} s, RSS {server_rss} MiB after the run\n\n"
        + table(rows, ["measure (ms)", "p50", "p95", "mean", "n"])
        + "\n\n"
        + table([[k2, v] for k2, v in ratios.items()], ["ratio", "measured"])
        + "\n\nTarget: /v1/ask warm p50 <= 2x the bare embedding p50. Bare embedding and the plain "
        "baselines run with one torch thread, like our query path (the default threads are shown "
        "too). The plain query engine synthesises with llama-index's MockLLM (no generation "
        "cost): it measures retrieval and prompt assembly only."
    )
    plot_bars(
        RESULTS / "query.png",
        "Query latency, 5 articles",
        list(stats),
        {"p50": [s["p50"] for s in stats.values()], "p95": [s["p95"] for s in stats.values()]},
        "ms (log scale)",
        log=True,
    )
    save(
        "query",
        {
            "chunks": engine.store.count(),
            "questions_per_measure": len(for_answers),
            "server_ready_seconds": ready_s,
            "server_rss_mib": server_rss,
            "stats": stats,
            "ratios": ratios,
            "warmup_questions": len(warmup) + 79,
            "plain_synthesis": "MockLLM",
        },
        text,
    )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
