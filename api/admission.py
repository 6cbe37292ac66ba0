"""Admission of engine calls: at most N at once in their own threads, a bounded queue (503 with
Retry-After beyond it), a deadline per request (504), and a token bucket per key or address (429)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from api.errors import ApiError

log = logging.getLogger("api")
T = TypeVar("T")
_END = object()


class Gate:
    """Runs engine calls in a pool of `concurrent` threads, with `queue` more requests waiting.

    A slot is given back when its thread finishes, not when the request gives up waiting: a call
    that timed out still holds a core, so counting it keeps the bound on work in progress honest.
    """

    def __init__(self, *, concurrent: int, queue: int, timeout_s: float) -> None:
        self.concurrent = concurrent
        self.queue = queue
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="engine")
        self._slots = asyncio.Semaphore(concurrent)
        self._waiting = 0
        self._mean_s = 0.5  # moving average of a call's duration, for Retry-After

    def _retry_after(self) -> str:
        return str(max(1, math.ceil(self._mean_s * (self._waiting + self.concurrent) / self.concurrent)))

    def _timeout(self) -> ApiError:
        return ApiError(
            504, "timeout",
            f"The answer took longer than {self.timeout_s:g} s. Try again, or ask a shorter question.",
        )

    async def _admit(self, deadline: float) -> None:
        if self._slots.locked() and self._waiting >= self.queue:
            raise ApiError(
                503, "overloaded", "Too many questions at once: try again in a moment.",
                headers={"Retry-After": self._retry_after()},
            )
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise self._timeout() from None
        finally:
            self._waiting -= 1

    def _start(self, work: Callable[[], Any]) -> asyncio.Future[Any]:
        started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(self._pool, work)

        def finished(done: asyncio.Future[Any]) -> None:
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - started)
            self._slots.release()
            if not done.cancelled():
                done.exception()  # retrieved: a timed-out call's error is not "never retrieved"

        future.add_done_callback(finished)
        return future

    async def run(self, call: Callable[[], T]) -> T:
        """The result of `call()`, run in a slot's thread; 503 when the queue is full, 504 past the
        deadline."""
        deadline = time.monotonic() + self.timeout_s
        await self._admit(deadline)
        future = self._start(call)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.warning("request over its %.0f s deadline; its thread finishes in the background",
                        self.timeout_s)
            raise self._timeout() from None

    async def stream(self, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Run the stream `make()` in a slot's thread and hand its items over as they come.

        The first item is awaited here, so errors before it (an invalid question, an index not
        ready, the deadline) still become a plain JSON error. The slot is freed when the engine's
        stream ends, however slowly the client reads; a client that leaves stops it.
        """
        deadline = time.monotonic() + self.timeout_s
        await self._admit(deadline)
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: Any, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is gone: the server is shutting down
                stop.set()

        def produce() -> None:
            iterator = make()
            try:
                for item in iterator:
                    put(None, item)
                    if stop.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - handed over to the request, which reports it
                put(exc, None)
            finally:
                close = getattr(iterator, "close", None)
                if callable(close):
                    close()
                put(_END, None)

        self._start(produce)

        async def next_item() -> tuple[Any, Any]:
            try:
                return await asyncio.wait_for(items.get(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                stop.set()
                raise self._timeout() from None

        try:
            first = await next_item()
        except BaseException:
            stop.set()
            raise
        if isinstance(first[0], Exception):
            raise first[0]
        return _relay(first, next_item, stop)


async def _relay(
    first: tuple[Any, Any], next_item: Callable[[], Any], stop: threading.Event,
) -> AsyncIterator[Any]:
    try:
        kind, item = first
        while kind is not _END:
            if isinstance(kind, Exception):
                raise kind
            yield item
            kind, item = await next_item()
    finally:
        stop.set()


class RateLimiter:
    """A token bucket per identity (an API key, or a client address): `burst` requests at once,
    refilled at `per_minute`. The least recently seen identities are forgotten past `max_keys`,
    so random identities cannot grow memory without bound."""

    def __init__(self, per_minute: int, burst: int, *, max_keys: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, identity: str) -> float:
        """0 if the request may go now (and takes a token), else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(identity, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[identity] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait

    def check(self, identity: str) -> None:
        wait = self.wait_s(identity)
        if wait > 0:
            raise ApiError(
                429, "rate_limited",
                f"Too many requests for this key: at most {self.rate * 60:g} a minute. Try again later.",
                headers={"Retry-After": str(math.ceil(wait))},
            )
