"""Admission of engine calls, shared by every front end (the API and the chat): at most N at once in
a pool of threads, a bounded queue (`OverloadedError`, with the seconds to wait, beyond it), a
deadline per call (`DeadlineError`), and a rate limit per key or address (`RateLimitedError`)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream as Receiver
from anyio.streams.memory import MemoryObjectSendStream as Sender
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from rag.errors import DeadlineError, OverloadedError, RateLimitedError
from rag.limits import ServerConfig

log = logging.getLogger("rag.admission")
T = TypeVar("T")
TIMEOUT = "The answer took longer than {:g} s. Try again, or ask a shorter question."


class Gate:
    """Runs engine calls in a pool of `concurrent` threads, with `queue` more requests waiting for a
    slot (an anyio CapacityLimiter). A slot comes back when its call ends, not when the request gives
    up: a call past its deadline still holds a core (anyio's `to_thread` would free it at once)."""

    def __init__(self, *, concurrent: int, queue: int, timeout_s: float) -> None:
        self.concurrent = concurrent
        self.queue = queue
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="engine")
        self._slots = anyio.CapacityLimiter(concurrent)
        self._mean_s = 0.5  # moving average of a call's duration, for Retry-After (no library has it)

    async def run(self, call: Callable[[], T]) -> T:
        """`call()` in a slot's thread; OverloadedError when the queue is full, DeadlineError past
        the deadline."""
        with self._until(anyio.current_time() + self.timeout_s):
            return await asyncio.wrap_future(await self._start(call))

    async def stream(self, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Run the stream `make()` in a slot's thread and hand its items over as they come.

        The first item is awaited here, so errors before it (an invalid question, an index not
        ready, the deadline) are raised here, before anything is sent. The slot is freed when the engine's
        stream ends, however slowly the client reads; a client that leaves stops it.
        """
        deadline = anyio.current_time() + self.timeout_s
        send, receive = anyio.create_memory_object_stream[T | Exception](math.inf)
        try:
            with self._until(deadline):
                await self._start(_producer(make, send))
            first = await self._next(receive, deadline)
        except BaseException:
            receive.close()  # the engine's stream stops at its next item
            raise
        return self._relay(first, receive, deadline)

    async def _start(self, work: Callable[[], T]) -> Future[T]:
        """`work()` in the pool once a slot is free (OverloadedError, with the seconds to wait, when
        the queue is full). Its slot comes back when it is done, or cancelled before it started."""
        waiting = self._slots.statistics().tasks_waiting
        if self._slots.available_tokens == 0 and waiting >= self.queue:
            retry_after = max(1, math.ceil(self._mean_s * (waiting + self.concurrent) / self.concurrent))
            message = "Too many questions at once: try again in a moment."
            raise OverloadedError(message, retry_after=retry_after)
        borrower, loop = object(), asyncio.get_running_loop()
        await self._slots.acquire_on_behalf_of(borrower)
        started = time.monotonic()

        def done(_: Future[T]) -> None:
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - started)
            with contextlib.suppress(RuntimeError):  # the event loop is gone: the server is stopping
                loop.call_soon_threadsafe(self._slots.release_on_behalf_of, borrower)

        future = self._pool.submit(work)
        future.add_done_callback(done)
        return future

    @contextlib.contextmanager
    def _until(self, deadline: float) -> Iterator[None]:
        try:
            with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                yield
        except TimeoutError:
            log.warning("a request passed its %g s deadline; its thread goes on", self.timeout_s)
            raise DeadlineError(TIMEOUT.format(self.timeout_s)) from None

    async def _next(self, receive: Receiver[T | Exception], deadline: float) -> T:
        """The next item (EndOfStream after the last), the engine's error raised, DeadlineError past
        the deadline."""
        with self._until(deadline):
            item = await receive.receive()
        if isinstance(item, Exception):
            raise item
        return item

    async def _relay(self, first: T, items: Receiver[T | Exception], deadline: float) -> AsyncIterator[T]:
        with items:  # closed when the client leaves: the engine's stream stops at its next item
            item = first
            while True:
                yield item
                try:
                    item = await self._next(items, deadline)
                except anyio.EndOfStream:
                    return


def _producer(make: Callable[[], Iterator[T]], send: Sender[T | Exception]) -> Callable[[], None]:
    """What a slot's thread runs for a stream: each item of `make()` into `send` (or the exception
    that ended it), until the stream ends or the request stops reading (a client gone, a deadline)."""
    loop = asyncio.get_running_loop()

    def put(item: T | Exception) -> None:  # in the event loop
        with contextlib.suppress(anyio.BrokenResourceError):  # the request stopped reading meanwhile
            send.send_nowait(item)

    def produce() -> None:
        iterator = None
        try:
            iterator = make()
            for item in iterator:
                if send.statistics().open_receive_streams == 0:
                    break
                loop.call_soon_threadsafe(put, item)
        except Exception as exc:  # noqa: BLE001 - handed over to the request, which reports it
            with contextlib.suppress(RuntimeError):  # the event loop is gone: the server is stopping
                loop.call_soon_threadsafe(put, exc)
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(send.close)

    return produce


class RateLimiter:
    """At most `burst` requests a second and `per_minute` a minute for each identity (an API key, or
    a client address), counted in moving windows by the `limits` library; 0 a minute: no limit."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.per_minute = per_minute
        self._windows: list[RateLimitItem] = (
            [RateLimitItemPerSecond(burst), RateLimitItemPerMinute(per_minute)] if per_minute > 0 else []
        )
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, identity: str) -> None:
        """Count a request of `identity`; RateLimitedError, with the seconds to wait, when one of its
        windows is full."""
        full = [window for window in self._windows if not self._limiter.test(window, identity)]
        if not full:
            for window in self._windows:
                self._limiter.hit(window, identity)
            return
        reset = max(self._limiter.get_window_stats(window, identity).reset_time for window in full)
        retry_after = max(1, math.ceil(reset - time.time()))
        message = f"Too many requests for this key: at most {self.per_minute} a minute. Try again later."
        raise RateLimitedError(message, retry_after=retry_after)


def is_loopback(host: str) -> bool:
    """Whether an address (or `localhost`) is this machine's own."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def rate_identity(owner: str | None, host: str) -> str | None:
    """Whom a rate limit counts, the same for every front end: a key's owner (its API requests and
    its chat questions together), else the client's address; this machine's own clients are exempt
    (None): a server without keys listens on loopback only, where the client is its operator."""
    if owner is not None:
        return owner
    return None if is_loopback(host) else "ip:" + host


@dataclass(frozen=True)
class Admission:
    """The one gate and the one rate limiter of a server, handed to each of its front ends."""

    gate: Gate
    limiter: RateLimiter

    @classmethod
    def of(cls, config: ServerConfig) -> Admission:
        gate = Gate(
            concurrent=config.max_concurrent, queue=config.max_queue, timeout_s=config.request_timeout_s
        )
        return cls(gate, RateLimiter(config.rate_limit_per_min, config.rate_limit_burst))
