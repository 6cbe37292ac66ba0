"""BM25 build benchmark, in process: a full build of the lexical index over N French chunks, and a
rebuild after a change of C chunks (which only analyses the new ones), with memory. The chunks are
windows of six sentences of the real corpus plus a unique word, so texts are real French and all
distinct. Run: `.venv/bin/python -m bench.bm25 [--chunks 10000 100000] [--changed 100]`."""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from typing import Any

from bench.common import CORPUS, rss_mib, save, table


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000])
    args.add_argument("--changed", type=int, default=100, help="chunks replaced before the rebuild")
    opts = args.parse_args()

    from rag.bm25 import Bm25Index, ChunkAnalyses
    from rag.text import sentence_spans

    sentences = [s.text for p in sorted(CORPUS.glob("*.txt")) for s in sentence_spans(p.read_text("utf-8"))]
    rows_out: list[list[Any]] = []
    results: list[dict[str, Any]] = []
    for n in opts.chunks:
        rng = random.Random(n)
        rows = [
            (f"c{i}", " ".join(sentences[j : j + 6]) + f" mot{i}", {"file": f"f{i % 2000}.txt"})
            for i, j in ((i, rng.randrange(len(sentences) - 6)) for i in range(n))
        ]
        gc.collect()
        before = rss_mib(os.getpid())
        analyses = ChunkAnalyses()
        started = time.perf_counter()
        index = Bm25Index(rows, analyses)
        full = time.perf_counter() - started
        gc.collect()
        held = rss_mib(os.getpid()) - before
        changed = rows[opts.changed :] + [
            (f"new{i}", f"{sentences[i % len(sentences)]} nouveau{i}", {"file": "new.txt"})
            for i in range(opts.changed)
        ]
        started = time.perf_counter()
        index = Bm25Index(changed, analyses)
        rebuild = time.perf_counter() - started
        started = time.perf_counter()
        index.search("Pourquoi Leike a-t-il quitté OpenAI ?", 20)
        search_ms = (time.perf_counter() - started) * 1000
        results.append(
            {
                "chunks": n,
                "full_s": full,
                "rebuild_s": rebuild,
                "changed": opts.changed,
                "search_ms": search_ms,
                "index_and_cache_mib": held,
            }
        )
        rows_out.append([n, round(full, 1), round(rebuild, 2), round(search_ms, 1), round(held)])
        print(f"{n} chunks: full {full:.1f} s, rebuild {rebuild:.2f} s, {held:.0f} MiB", flush=True)
        del rows, changed, index, analyses
    text = (
        f"BM25 build in process (real French sentences; rebuild after {opts.changed} chunks changed)\n\n"
        + table(rows_out, ["chunks", "full build s", "rebuild s", "search ms", "index + cache MiB"])
    )
    save("bm25", {"runs": results}, text)


if __name__ == "__main__":
    main()
