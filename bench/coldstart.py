"""Cold start: seconds from `rag serve` to a ready /readyz, on an index already in step with the corpus
(a restart) and on an empty one (first start: it ingests); the server's RSS at idle and after answers;
against the bare cost of starting Python and loading the embedding model (the limit).
Run: `.venv/bin/python -m bench.coldstart [--starts 3]`."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

import httpx

from bench.common import (
    CORPUS,
    RESULTS,
    ROOT,
    WORK,
    plot_bars,
    questions,
    rag_server,
    ratio,
    rss_mib,
    save,
    table,
)

LOAD_MODEL = (
    "from rag.embedding import Embedder; from rag.settings import DEFAULT_EMBED_MODEL; "
    "Embedder(DEFAULT_EMBED_MODEL)"
)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--starts", type=int, default=3, help="restarts measured (the best is kept)")
    opts = args.parse_args()
    base = WORK / "coldstart"
    shutil.rmtree(base, ignore_errors=True)
    env = {
        "RAG_CORPUS_DIR": str(CORPUS),
        "RAG_INDEX_DIR": str(base / "index"),
        "RAG_COLLECTION": "bench-coldstart",
        "RAG_ANSWERER": "extractive",
    }

    first: dict[str, float] = {}
    with rag_server(env) as (url, proc, ready_s):
        first = {"ready_s": ready_s, "rss_idle_mib": rss_mib(proc.pid)}
    restarts, bare = [], []
    for _ in range(opts.starts):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", LOAD_MODEL],
            check=True,
            cwd=str(WORK),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        bare.append(time.perf_counter() - started)
        with rag_server(env) as (url, proc, ready_s), httpx.Client(base_url=url, timeout=60) as client:
            idle = rss_mib(proc.pid)
            for q in questions(0):
                client.post("/v1/ask", json={"question": q}).raise_for_status()
            restarts.append(
                {"ready_s": ready_s, "rss_idle_mib": idle, "rss_after_79_asks_mib": rss_mib(proc.pid)}
            )

    best = min(r["ready_s"] for r in restarts)
    ratios = {
        "restart ready over bare model load": ratio(best, min(bare)),
        "first start ready over restart ready": ratio(first["ready_s"], best),
    }
    rows = [["first start (ingests the 5 articles)", round(first["ready_s"], 2), first["rss_idle_mib"], "-"]]
    rows += [
        [f"restart {i + 1}", round(r["ready_s"], 2), r["rss_idle_mib"], r["rss_after_79_asks_mib"]]
        for i, r in enumerate(restarts)
    ]
    rows.append(["bare: python + load the model", round(min(bare), 2), "-", "-"])
    text = (
        "Cold start of `rag serve` to a ready /readyz (5 articles, extractive answerer)\n\n"
        + table(rows, ["start", "seconds", "RSS idle MiB", "RSS after 79 asks MiB"])
        + "\n\n"
        + table([[k, v] for k, v in ratios.items()], ["ratio", "measured"])
    )
    plot_bars(
        RESULTS / "coldstart.png",
        "rag serve: seconds to ready",
        ["first start", "restart", "bare model load"],
        {"seconds": [first["ready_s"], best, min(bare)]},
        "seconds",
    )
    save(
        "coldstart", {"first": first, "restarts": restarts, "bare_model_load_s": bare, "ratios": ratios}, text
    )
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
