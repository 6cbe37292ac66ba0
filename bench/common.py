"""What every benchmark shares: corpora, timers, percentiles, a Chroma server and a `rag serve`
process on loopback, the results as JSON plus a text table, and the machine they came from."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from rag.llm_server import stop_process  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
QUESTIONS = ROOT / "eval" / "datasets" / "fr_news.jsonl"
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "out"  # caches and scratch indexes (ignored by git)
VENV_BIN = Path(sys.executable).parent

# Ways of asking the same question, so each measured system sees texts its caches never saw.
VARIANTS = (
    "",
    "Selon les articles, ",
    "D'après la presse, ",
    "Question : ",
    "Dites-moi : ",
    "Je voudrais savoir : ",
    "Pouvez-vous répondre : ",
    "Une question : ",
)


def machine() -> dict[str, Any]:
    """Where the figures came from: they only compare within one run on one machine."""
    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_avg_at_start": os.getloadavg(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def questions(variant: int = 0) -> list[str]:
    """The eval questions, in one of the VARIANTS wordings (0: as written)."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    prefix = VARIANTS[variant % len(VARIANTS)]
    return [
        prefix + (r["question"][0].lower() + r["question"][1:] if prefix else r["question"]) for r in rows
    ]


def replicated_corpus(target: Path, copies: int) -> Path:
    """The 5 articles copied `copies` times, each copy's first line prefixed so the texts differ."""
    if target.exists():
        shutil.rmtree(target)
    for i in range(copies):
        folder = target / f"copie{i:03d}"
        folder.mkdir(parents=True)
        for source in sorted(CORPUS.glob("*.txt")):
            text = source.read_text(encoding="utf-8")
            (folder / source.name).write_text(f"[Copie {i}] {text}", encoding="utf-8")
    return target


def settings_for(corpus: Path, index: Path, **overrides: Any) -> Any:
    from rag.settings import Settings

    values: dict[str, Any] = {
        "corpus_dir": corpus,
        "index_dir": index,
        "collection": f"bench-{uuid.uuid4().hex[:10]}",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(milliseconds, result) of one call."""
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def summary(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and count of a list of milliseconds."""
    data = np.asarray(samples, dtype=float)
    return {
        "p50": round(float(np.percentile(data, 50)), 3),
        "p95": round(float(np.percentile(data, 95)), 3),
        "mean": round(float(data.mean()), 3),
        "n": len(data),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(
    url: str,
    timeout_s: float,
    *,
    ok: Callable[[httpx.Response], bool] | None = None,
    proc: subprocess.Popen[bytes] | None = None,
) -> float:
    """Poll `url` until it answers (and `ok` holds); seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        try:
            response = httpx.get(url, timeout=2)
            if ok is None or ok(response):
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@contextmanager
def chroma_server(path: Path, timeout_s: float = 60) -> Iterator[int]:
    """A `chroma run` process on 127.0.0.1 and a free port; yields the port."""
    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    log = (path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout_s, proc=proc)
        yield port
    finally:
        stop(proc)
        log.close()


def scratch_env(name: str) -> dict[str, str]:
    """A fresh copy of the corpus in bench/out/`name`, and the RAG_* settings of a server on it (its
    own index and collection)."""
    base = WORK / name
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(CORPUS, base / "corpus")
    return {
        "RAG_CORPUS_DIR": str(base / "corpus"),
        "RAG_INDEX_DIR": str(base / "index"),
        "RAG_COLLECTION": f"bench-{name}",
    }


@contextmanager
def rag_server(
    env: Mapping[str, str],
    timeout_s: float = 600,
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """`rag serve` on 127.0.0.1 with `env` (RAG_* settings); yields (base URL, process, seconds from
    the start of the process to the first ready /readyz)."""
    port = free_port()
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    log = (WORK / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "RAG_RATE_LIMIT_PER_MIN": "0", **env},
        cwd=str(WORK),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/readyz", timeout_s, ok=lambda r: r.status_code == 200, proc=proc)
        yield url, proc, time.monotonic() - started
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc, timeout_s=15)


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children, in MiB (Linux /proc: no extra dependency)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(total / 1024, 1)


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table (GitHub markdown), for the terminal and the README."""
    cells = [[str(c) for c in header]] + [
        [f"{c:.3g}" if isinstance(c, float) else str(c) for c in r] for r in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def save(name: str, result: dict[str, Any], text: str) -> Path:
    """bench/results/<name>.json and <name>.md; returns the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "finished": time.strftime("%Y-%m-%d %H:%M:%S"), **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / f"{name}.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nresults: {path}")
    return path


def plot_bars(
    path: Path,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    unit: str,
    *,
    log: bool = False,
) -> None:
    """A horizontal grouped bar chart: one group per label, one bar per series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * len(labels) * max(1, len(series))))
    height = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ys = [y + i * height for y in range(len(labels))]
        ax.barh(ys, values, height, label=name)
    ax.set_yticks([y + height * (len(series) - 1) / 2 for y in range(len(labels))])
    ax.set_yticklabels([label.replace("\n", " ") for label in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    if log:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
