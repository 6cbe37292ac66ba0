"""Load: N concurrent clients for T seconds against a real `rag serve` on 127.0.0.1 (default limits),
each cycling through /v1/ask, /v1/chat (streamed) and /v1/chat/completions. Reports throughput,
latency percentiles, errors by status, dropped connections and the server's RSS over time.
Run: `.venv/bin/python -m bench.load [--clients 32] [--seconds 60]` (bounded: 256 clients, 600 s)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from bench.common import VARIANTS, questions, rag_server, rss_mib, save, scratch_env, table

ROUTES = ("ask", "chat-stream", "completions")


@dataclass
class Tally:
    """Every request's outcome, by route."""

    latency_ms: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in ROUTES})
    first_byte_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)  # transport errors, streams cut short


async def one_request(client: httpx.AsyncClient, route: str, question: str, tally: Tally) -> None:
    messages = [{"role": "user", "content": question}]
    started = time.perf_counter()
    try:
        if route == "ask":
            response = await client.post("/v1/ask", json={"question": question})
            ok = response.status_code != 200 or "answer" in response.json()
        elif route == "completions":
            response = await client.post("/v1/chat/completions", json={"messages": messages})
            ok = response.status_code != 200 or bool(response.json()["choices"])
        else:
            body = {"messages": messages, "stream": True}
            async with client.stream("POST", "/v1/chat", json=body) as response:
                received, first = b"", None
                async for chunk in response.aiter_bytes():
                    first = first or time.perf_counter()
                    received += chunk
            ok = response.status_code != 200 or b"event: done" in received
            if first is not None and response.status_code == 200:
                tally.first_byte_ms.append((first - started) * 1000)
    except httpx.TransportError as exc:
        tally.dropped[type(exc).__name__] += 1
        return
    if not ok:
        tally.dropped["incomplete response"] += 1
    tally.statuses[str(response.status_code)] += 1
    if response.status_code == 200:
        tally.latency_ms[route].append((time.perf_counter() - started) * 1000)


async def client_loop(
    url: str,
    number: int,
    deadline: float,
    pool: list[str],
    tally: Tally,
    unique: bool,
) -> None:
    """One client: its own connection, one request at a time, until the deadline. With `unique`,
    every question is new to the server (no cached embedding): the worst case."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        i = number
        while time.monotonic() < deadline:
            question = pool[(i * 7) % len(pool)]
            if unique:
                question = f"{question} (demande {number}-{i})"
            await one_request(client, ROUTES[i % len(ROUTES)], question, tally)
            i += 1


async def sample_rss(pid: int, deadline: float, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        samples.append((round(time.monotonic() - started, 1), rss_mib(pid)))
        await asyncio.sleep(1.0)


async def warm_up(url: str) -> None:
    """One request of each kind first, so the load does not measure a start."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for route in ROUTES:
            await one_request(client, route, questions(0)[0], Tally())


async def run_load(
    url: str,
    pid: int,
    clients: int,
    seconds: float,
    unique: bool,
) -> tuple[Tally, list[tuple[float, float]]]:
    pool = [q for variant in range(len(VARIANTS)) for q in questions(variant)]
    tally, rss = Tally(), list[tuple[float, float]]()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        sample_rss(pid, deadline, rss),
        *(client_loop(url, n, deadline, pool, tally, unique) for n in range(clients)),
    )
    return tally, rss


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    data = np.asarray(samples)
    return {"n": len(samples), **{f"p{p}": round(float(np.percentile(data, p)), 1) for p in (50, 95, 99)}}


def report(tally: Tally, rss: list[tuple[float, float]], clients: int, seconds: float) -> dict[str, Any]:
    everything = [ms for route in ROUTES for ms in tally.latency_ms[route]]
    warm = [mib for t, mib in rss if t >= min(10.0, seconds / 3)]
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": sum(tally.statuses.values()) + sum(tally.dropped.values()),
        "throughput_rps": round(len(everything) / seconds, 2),
        "latency_ms": {
            "all": percentiles(everything),
            **{route: percentiles(tally.latency_ms[route]) for route in ROUTES},
            "chat-stream first byte": percentiles(tally.first_byte_ms),
        },
        "statuses": dict(sorted(tally.statuses.items())),
        "errors_5xx": sum(n for status, n in tally.statuses.items() if status.startswith("5")),
        "dropped": dict(tally.dropped),
        "rss_mib": {
            "start": rss[0][1] if rss else None,
            "peak": max((m for _, m in rss), default=None),
            "after_warm_up": warm[0] if warm else None,
            "end": rss[-1][1] if rss else None,
            "samples": rss,
        },
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        [name, s.get("n", 0), *(round(s[p]) if p in s else "-" for p in ("p50", "p95", "p99"))]
        for name, s in result["latency_ms"].items()
    ]
    memory = result["rss_mib"]
    return "\n".join(
        [
            f"{result['clients']} clients for {result['seconds']:g} s: {result['requests']} requests, "
            f"{result['throughput_rps']} answered/s; statuses {result['statuses']}; "
            f"5xx: {result['errors_5xx']}; "
            f"dropped: {sum(result['dropped'].values())} {result['dropped'] or ''}",
            "",
            table(rows, ["route", "answered", "p50 ms", "p95 ms", "p99 ms"]),
            "",
            f"Server RSS (MiB): start {memory['start']}, after warm-up {memory['after_warm_up']}, "
            f"peak {memory['peak']}, end {memory['end']}.",
        ]
    )


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--clients", type=int, default=32, help="concurrent clients (at most 256)")
    args.add_argument("--seconds", type=float, default=60, help="duration of the load (at most 600)")
    args.add_argument("--unique", action="store_true", help="every question new: no cached embedding")
    opts = args.parse_args()
    clients, seconds = max(1, min(opts.clients, 256)), max(1.0, min(opts.seconds, 600.0))
    env = {
        **scratch_env("load"),
        "RAG_ANSWERER": "extractive",
    }
    with rag_server(env) as (url, proc, _):
        asyncio.run(warm_up(url))
        tally, rss = asyncio.run(run_load(url, proc.pid, clients, seconds, opts.unique))
        ready = httpx.get(f"{url}/readyz", timeout=30).json()
    result = {
        "questions": "unique" if opts.unique else "79 questions x 8 wordings, repeated",
        **report(tally, rss, clients, seconds),
    }
    result["server"] = {"readyz": ready, "limits": "the defaults of rag/settings.py"}
    save("load-unique" if opts.unique else "load", result, markdown(result))


if __name__ == "__main__":
    main()
