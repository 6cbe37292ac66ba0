"""Ingest benchmark: our `run_ingest` against the plain llama-index way and against the bare cost of
encoding the same chunks (the limit), all in one run on one corpus; plus a re-run on the unchanged
corpus. Run: `.venv/bin/python -m bench.ingest [--copies 40] [--rounds 2]`."""

from __future__ import annotations

import argparse
import shutil
import time
import uuid
from typing import Any

from bench.common import RESULTS, WORK, plot_bars, ratio, replicated_corpus, save, settings_for, table


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--copies", type=int, default=40, help="copies of the 5 articles (default 40)")
    args.add_argument("--rounds", type=int, default=2, help="rounds; the best of each is kept")
    args.add_argument(
        "--backend",
        choices=["torch", "onnx", "onnx-int8"],
        default="torch",
        help="RAG_EMBED_BACKEND of ours (plain llama-index and the bare floor stay on fp32 torch)",
    )
    opts = args.parse_args()

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from bench.plain import SentenceTransformerEmbedding, plain_ingest
    from ingest.loader import find_files, load_article
    from ingest.service import make_chunker, run_ingest
    from rag.compose import build_embedder
    from rag.settings import Settings

    base = WORK / "ingest"
    corpus = replicated_corpus(base / "corpus", opts.copies)
    defaults = Settings(_env_file=None, embed_backend="torch")  # type: ignore[call-arg]
    embedder = build_embedder(defaults)  # fp32 torch: plain llama-index's and the bare floor's
    ours_settings = {"embed_model": defaults.embed_model, "embed_backend": opts.backend}
    ours_embedder = (
        embedder if opts.backend == "torch" else build_embedder(settings_for(corpus, base, **ours_settings))
    )
    chunker = make_chunker(defaults, embedder)
    started = time.perf_counter()
    texts = [c.text for f in find_files(corpus)[0] for c in chunker.split(load_article(corpus, f))]
    chunking_s = time.perf_counter() - started
    plain_embedding = SentenceTransformerEmbedding(embedder.model, batch_size=defaults.embed_batch_size)

    def ours() -> dict[str, Any]:
        index = base / f"ours-{uuid.uuid4().hex[:6]}"
        settings = settings_for(corpus, index, **ours_settings)
        t0 = time.perf_counter()
        report = run_ingest(settings, embedder=ours_embedder, progress=False)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_ingest(settings, embedder=ours_embedder, progress=False)
        rerun = time.perf_counter() - t0
        assert again.chunks_written == 0, "the re-run embedded chunks again"
        shutil.rmtree(index, ignore_errors=True)
        return {"seconds": first, "rerun_seconds": rerun, "chunks": report.chunks_written}

    def plain() -> dict[str, Any]:
        index = base / f"plain-{uuid.uuid4().hex[:6]}"
        client = chromadb.PersistentClient(
            path=str(index), settings=ChromaSettings(anonymized_telemetry=False)
        )
        t0 = time.perf_counter()
        built = plain_ingest(
            corpus,
            client,
            "plain",
            plain_embedding,
            chunk_size=defaults.chunk_size,
            chunk_overlap=defaults.chunk_overlap,
            tokenize=embedder.count_tokens,
        )
        seconds = time.perf_counter() - t0
        chunks = len(built.index_struct.nodes_dict) or client.get_collection("plain").count()
        shutil.rmtree(index, ignore_errors=True)
        return {"seconds": seconds, "chunks": chunks}

    def bare() -> dict[str, Any]:
        t0 = time.perf_counter()
        embedder.model.encode(
            texts,
            batch_size=defaults.embed_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return {"seconds": time.perf_counter() - t0, "chunks": len(texts)}

    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "plain": [], "bare": []}
    systems = {"ours": ours, "plain": plain, "bare": bare}
    order = list(systems)
    for round_no in range(opts.rounds):
        for name in order[round_no % 3 :] + order[: round_no % 3]:  # rotate: no system always first
            runs[name].append(systems[name]())
            print(f"round {round_no + 1} {name}: {runs[name][-1]['seconds']:.1f} s", flush=True)

    best = {name: min(r["seconds"] for r in rs) for name, rs in runs.items()}
    rerun = min(r["rerun_seconds"] for r in runs["ours"])
    ratios = {
        "ours_over_plain": ratio(best["ours"], best["plain"]),
        "ours_over_bare_encoding": ratio(best["ours"], best["bare"]),
        "rerun_over_first_run": ratio(rerun, best["ours"]),
    }
    # The second target: with a faster backend, ingest at least 2x faster than plain llama-index.
    targets = {
        "ours_over_plain": 1.0 if opts.backend == "torch" else 0.5,
        "ours_over_bare_encoding": 1.05,
        "rerun_over_first_run": 0.02,
    }
    rows = [
        [
            f"ours (run_ingest, {opts.backend})",
            runs["ours"][0]["chunks"],
            round(best["ours"], 2),
            round(runs["ours"][0]["chunks"] / best["ours"], 1),
        ],
        [
            "plain llama-index",
            runs["plain"][0]["chunks"],
            round(best["plain"], 2),
            round(runs["plain"][0]["chunks"] / best["plain"], 1),
        ],
        ["bare encoding", len(texts), round(best["bare"], 2), round(len(texts) / best["bare"], 1)],
        ["ours, re-run unchanged", 0, round(rerun, 3), "-"],
    ]
    checks = [[k, v, f"<= {targets[k]}", "ok" if v <= targets[k] else "MISSED"] for k, v in ratios.items()]
    text = (
        f"Ingest of {opts.copies} copies of the 5 articles ({len(texts)} chunks), best of {opts.rounds} "
        f"round(s); chunking alone: {chunking_s:.2f} s; model {defaults.embed_model}, ours on "
        f"{opts.backend}, plain llama-index and the bare encoding on fp32 torch\n\n"
        + table(rows, ["system", "chunks", "seconds", "chunks/s"])
        + "\n\n"
        + table(checks, ["ratio", "measured", "target", ""])
    )
    name = "ingest" if opts.backend == "torch" else f"ingest-{opts.backend}"
    plot_bars(
        RESULTS / f"{name}.png",
        f"Ingest, {len(texts)} chunks (best of {opts.rounds})",
        ["ours", "plain llama-index", "bare encoding", "re-run"],
        {"seconds": [best["ours"], best["plain"], best["bare"], rerun]},
        "seconds",
    )
    save(
        name,
        {
            "backend": opts.backend,
            "model": defaults.embed_model,
            "copies": opts.copies,
            "chunks": len(texts),
            "chunking_seconds": chunking_s,
            "runs": runs,
            "best_seconds": best,
            "rerun_seconds": rerun,
            "ratios": ratios,
            "targets": targets,
        },
        text,
    )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
