"""Scale benchmark on real French text (Debian's manpages-fr and manpages-fr-dev, rendered offline
with `man`): ingest, retrieval and answers at about 1k, 10k (and 100k) chunks, server RSS.
Run: `.venv/bin/python -m bench.scale [--sizes 1000 10000]` (needs `apt-get install manpages-fr
manpages-fr-dev`). Sizes above --embed-limit (e.g. `--sizes 100000`, after a 10k run) are the pages
of the largest embedded size copied unchanged into copieNN/ folders, ingested through `run_ingest`
with the vectors cached by that run (see `ReusingEmbedder`): their ingest time is not an embedding
figure and their texts repeat, but the collection, the BM25 index, the server and every query-side
figure are real at that size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import (
    RESULTS,
    WORK,
    plot_bars,
    rag_server,
    ratio,
    rss_mib,
    save,
    settings_for,
    summary,
    table,
    timed,
)

MAN = Path("/usr/share/man/fr")
BASE = WORK / "scale"
PAGES = BASE / "pages"  # one .txt per man page: the rendered corpus, cached
VECTORS = BASE / "vectors"  # text -> vector of every chunk embedded so far (np.save)
_OVERSTRIKE = re.compile(".\x08")


def render(source: Path) -> tuple[str, str] | None:
    """A man page as plain UTF-8 text (None when `man` cannot render it)."""
    env = {**os.environ, "MANWIDTH": "100", "LANG": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
    try:
        out = subprocess.run(
            ["man", "--nh", "--nj", "-E", "UTF-8", "-l", str(source)],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    text = _OVERSTRIKE.sub("", out.decode("utf-8", "replace")).strip()
    if len(text) < 200:
        return None
    name = source.relative_to(MAN).as_posix().removesuffix(".gz")
    return name.replace("/", "__") + ".txt", text + "\n"


def prepare_pages() -> list[Path]:
    """Render every French man page once (cached under bench/out/scale/pages)."""
    if not (PAGES / ".done").exists():
        sources = sorted(p for p in MAN.rglob("*.gz") if p.is_file())
        if not sources:
            raise SystemExit("No French man pages: run `apt-get install -y manpages-fr manpages-fr-dev`.")
        PAGES.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for rendered in pool.map(render, sources):
                if rendered is not None:
                    (PAGES / rendered[0]).write_text(rendered[1], encoding="utf-8")
        (PAGES / ".done").touch()
    return sorted(PAGES.glob("*.txt"))


def chunk_counts(pages: list[Path], chunker: Any) -> dict[str, int]:
    """Chunks per page with our chunker (cached): what a corpus of N chunks needs."""
    from ingest.loader import load_article

    cache = BASE / "chunk_counts.json"
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    counts = {p.name: len(chunker.split(load_article(PAGES, p))) for p in pages}
    cache.write_text(json.dumps(counts))
    return counts


def corpus_of(size: int, counts: dict[str, int], pool: int | None = None) -> tuple[Path, int]:
    """A corpus of about `size` chunks: whole pages in name order. With `pool`, only the pages of the
    `pool`-chunk corpus, copied unchanged into copieNN/ folders until `size` (their chunks have the
    texts, so the vectors, of the pool's)."""
    target = BASE / f"corpus-{size}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    names, total = [], 0
    for name, n in counts.items():
        if total >= (pool or size):
            break
        names.append(name)
        total += n
    total, copy = 0, 0
    while total < size:
        folder = target / (f"copie{copy:02d}" if pool else "pages")
        folder.mkdir()
        for name in names:
            if total >= size:
                break
            shutil.copyfile(PAGES / name, folder / name)
            total += counts[name]
        copy += 1
    return target, total


class ReusingEmbedder:
    """Our Embedder, but a chunk text already embedded (by a smaller run, cached in VECTORS) gets
    its cached vector. Everything else is embedded for real, and counted."""

    def __init__(self, embedder: Any, known: dict[str, np.ndarray]) -> None:
        self._embedder = embedder
        self.known = known
        self.embedded = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def embed(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        rows: list[np.ndarray | None] = [self.known.get(t) for t in texts]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            fresh = self._embedder.embed([texts[i] for i in missing])
            self.embedded += len(missing)
            for i, vector in zip(missing, fresh, strict=True):
                rows[i] = vector
        return np.stack([r for r in rows if r is not None]).astype(np.float32)


def load_vectors() -> dict[str, np.ndarray]:
    if not (VECTORS / "texts.json").exists():
        return {}
    texts = json.loads((VECTORS / "texts.json").read_text())
    return dict(zip(texts, np.load(VECTORS / "vectors.npy"), strict=True))


def store_vectors(store: Any, known: dict[str, np.ndarray]) -> None:
    """Add every vector of `store` to the on-disk cache."""
    offset = 0
    while True:
        page = store.collection.get(include=["documents", "embeddings"], limit=5000, offset=offset)
        if not page["ids"]:
            break
        for doc, vector in zip(page["documents"], page["embeddings"], strict=True):
            known.setdefault(doc, np.asarray(vector, dtype=np.float32))
        offset += len(page["ids"])
    VECTORS.mkdir(parents=True, exist_ok=True)
    texts = list(known)
    np.save(VECTORS / "vectors.npy", np.stack([known[t] for t in texts]))
    (VECTORS / "texts.json").write_text(json.dumps(texts))


def man_questions(corpus: Path, n: int) -> list[str]:
    """French questions about the commands and functions of the corpus's pages, all distinct."""
    names = sorted({p.name.split("__")[-1].rsplit(".", 2)[0] for p in corpus.rglob("*.txt")})
    forms = (
        "Que fait {} ?",
        "Comment utiliser {} ?",
        "Quelles sont les options de {} ?",
        "Quelle est la valeur renvoyée par {} ?",
        "À quoi sert {} ?",
    )
    out = [f.format(name) for f in forms for name in names]
    return out[:: max(1, len(out) // n)][:n]


def measure(
    size: int,
    counts: dict[str, int],
    embedder: Any,
    known: dict[str, np.ndarray],
    embed_limit: int,
    n_questions: int,
    reuse: bool = False,
) -> dict[str, Any]:
    from ingest.loader import find_files, load_article
    from ingest.service import make_chunker, run_ingest
    from rag.compose import build_engine

    real = size <= embed_limit
    cached = json.loads((VECTORS / "sizes.json").read_text()) if (VECTORS / "sizes.json").exists() else []
    # Past the largest size whose vectors are cached, copy that size's pages.
    pool = None if real or size <= max(cached, default=0) else max(cached)
    corpus, index = BASE / f"corpus-{size}", BASE / f"index-{size}"
    reused = reuse and index.exists() and corpus.exists()
    if not reused:
        corpus, _ = corpus_of(size, counts, pool)
    if not reused:
        shutil.rmtree(index, ignore_errors=True)
    settings = settings_for(corpus, index, collection=f"scale-{size}")
    ingester = embedder if real else ReusingEmbedder(embedder, known)
    result: dict[str, Any] = {"size": size, "real_embedding": real, "copies_of": pool, "index_reused": reused}
    result["ingest_s"], report = timed(lambda: run_ingest(settings, embedder=ingester, progress=False))
    result["ingest_s"] /= 1000
    result["chunks"] = report.chunks_written
    if not real:
        result["embedded_for_real"] = ingester.embedded
    result["rerun_s"] = timed(lambda: run_ingest(settings, embedder=embedder, progress=False))[0] / 1000
    if real:  # the bare encoding of (a sample of) the same chunks, for the ratio
        chunker = make_chunker(settings, embedder)
        texts = [c.text for f in find_files(corpus)[0][:400] for c in chunker.split(load_article(corpus, f))]
        texts = texts[: min(1000, size)]
        bare_ms, _ = timed(lambda: embedder.model.encode(texts, batch_size=32, normalize_embeddings=True))
        result["bare_chunks_per_s"] = len(texts) / (bare_ms / 1000)
        result["ours_chunks_per_s"] = result["chunks"] / result["ingest_s"]
        result["ours_over_bare_throughput"] = ratio(result["bare_chunks_per_s"], result["ours_chunks_per_s"])

    engine = build_engine(settings, embedder=embedder)
    embedder.clear_cache()  # cold questions: a larger size repeats a smaller one's pages and questions
    result["chunks"] = engine.store.count()
    result["bm25_build_ms"] = timed(engine.retriever.bm25)[0]
    asked = man_questions(corpus, 2 * n_questions)
    dense, hybrid, retrieve = [], [], []
    for q in asked[:n_questions]:
        retrieve.append(timed(lambda q=q: engine.retrieve(q))[0])  # cold: embeds the question
        vector = embedder.embed_cached([q])[0]
        dense.append(timed(lambda v=vector: engine.store.query(v, settings.candidates))[0])
        hybrid.append(timed(lambda q=q, v=vector: engine.retriever.retrieve(q, v, settings.top_k))[0])
    result["retrieve_cold"] = summary(retrieve)
    result["dense_only"] = summary(dense)
    result["hybrid_from_vector"] = summary(hybrid)
    if real:
        store_vectors(engine.store, known)
        done = json.loads((VECTORS / "sizes.json").read_text()) if (VECTORS / "sizes.json").exists() else []
        (VECTORS / "sizes.json").write_text(json.dumps(sorted({*done, size})))

    print(json.dumps(result), flush=True)  # what is measured so far survives a failure below
    env = {
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(index),
        "RAG_COLLECTION": f"scale-{size}",
        "RAG_REQUEST_TIMEOUT_S": "600",
    }
    with rag_server(env, timeout_s=900) as (url, proc, ready_s), httpx.Client(base_url=url, timeout=900) as c:
        result["server_ready_s"] = ready_s
        result["server_rss_idle_mib"] = rss_mib(proc.pid)
        # The first question builds the server's BM25 index: timed apart from the others.
        result["first_ask_ms"] = timed(lambda: c.post("/v1/ask", json={"question": asked[0]}))[0]
        answers = []
        for q in asked[n_questions:]:
            answers.append(timed(lambda q=q: c.post("/v1/ask", json={"question": q}).raise_for_status())[0])
        result["ask_http_cold"] = summary(answers)
        result["server_rss_after_mib"] = rss_mib(proc.pid)
    print(json.dumps(result), flush=True)
    return result


def ingest_cell(r: dict[str, Any]) -> str:
    if r.get("index_reused"):
        return "not measured (index reused)"
    if not r["real_embedding"]:
        return f"{r['ingest_s']:.1f} (cached vectors)"
    return f"{r['ingest_s']:.1f}"


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args.add_argument("--embed-limit", type=int, default=20000, help="largest size embedded for real")
    args.add_argument("--questions", type=int, default=100, help="distinct questions per measure")
    args.add_argument(
        "--reuse-index",
        action="store_true",
        help="keep an index left by an interrupted run (its ingest time is then a re-run's)",
    )
    args.add_argument("--report-only", action="store_true", help="redo the table and plots from the JSON")
    opts = args.parse_args()

    from ingest.service import make_chunker
    from rag.compose import build_embedder
    from rag.settings import Settings

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = build_embedder(defaults)
    started = time.perf_counter()
    pages = prepare_pages()
    counts = chunk_counts(pages, make_chunker(defaults, embedder))
    prepared_s = time.perf_counter() - started
    known = load_vectors()
    previous = (
        json.loads((RESULTS / "scale.json").read_text()).get("sizes", {})
        if (RESULTS / "scale.json").exists()
        else {}
    )
    sizes = {**previous}
    for size in opts.sizes if not opts.report_only else []:
        sizes[str(size)] = measure(
            size, counts, embedder, known, opts.embed_limit, opts.questions, opts.reuse_index
        )
        shutil.rmtree(BASE / f"corpus-{size}", ignore_errors=True)
        shutil.rmtree(BASE / f"index-{size}", ignore_errors=True)

    order = sorted(sizes, key=int)
    rows = [
        [
            s,
            r["chunks"],
            ingest_cell(r),
            round(r["ours_chunks_per_s"], 1) if r["real_embedding"] else "-",
            r.get("ours_over_bare_throughput", "-"),
            round(r["rerun_s"], 2),
            round(r["bm25_build_ms"]),
            r["retrieve_cold"]["p50"],
            r["retrieve_cold"]["p95"],
            r["hybrid_from_vector"]["p95"],
            r["dense_only"]["p95"],
            r["ask_http_cold"]["p50"],
            r["ask_http_cold"]["p95"],
            round(r.get("server_ready_s", 0), 1),
            r["server_rss_after_mib"],
        ]
        for s, r in ((s, sizes[s]) for s in order)
    ]
    text = (
        f"Scale on French man pages ({len(pages)} pages rendered, {sum(counts.values())} chunks "
        f"available; prepared in {prepared_s:.0f} s)\n\n"
        + table(
            rows,
            [
                "size",
                "chunks",
                "ingest s",
                "chunks/s",
                "ours/bare time",
                "re-run s",
                "BM25 build ms",
                "retrieve p50",
                "retrieve p95",
                "hybrid p95",
                "dense p95",
                "/v1/ask p50",
                "/v1/ask p95",
                "ready s",
                "RSS MiB",
            ],
        )
        + "\n\nretrieve: engine.retrieve with a never-seen question (embeds it); hybrid/dense: from "
        "the question's vector; /v1/ask: extractive answers through `rag serve`, cold questions, "
        "after a first one (first ask, in s: "
        + ", ".join(
            f"{s}: {sizes[s]['first_ask_ms'] / 1000:.1f}" for s in order if "first_ask_ms" in sizes[s]
        )
        + "); ready: `rag serve` start to /readyz ready, which includes the warm-up's BM25 build; RSS: "
        "the server's, after the answers."
    )
    labels = [f"{int(s):,} chunks" for s in order]
    plot_bars(
        RESULTS / "scale_latency.png",
        "Latency by collection size (ms)",
        labels,
        {
            "retrieve p95": [sizes[s]["retrieve_cold"]["p95"] for s in order],
            "hybrid p95": [sizes[s]["hybrid_from_vector"]["p95"] for s in order],
            "dense p95": [sizes[s]["dense_only"]["p95"] for s in order],
            "/v1/ask p50": [sizes[s]["ask_http_cold"]["p50"] for s in order],
        },
        "ms",
    )
    plot_bars(
        RESULTS / "scale_memory.png",
        "Server RSS by collection size",
        labels,
        {
            "idle": [sizes[s]["server_rss_idle_mib"] for s in order],
            "after queries": [sizes[s]["server_rss_after_mib"] for s in order],
        },
        "MiB",
    )
    save("scale", {"pages": len(pages), "chunks_available": sum(counts.values()), "sizes": sizes}, text)


if __name__ == "__main__":
    main()
