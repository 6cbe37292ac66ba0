"""Locks on the index directory: the ingest lock, so two ingests never write one store at once, and
the writer-process lock, so only one process (a `rag serve`, or else a `rag ingest`) ever opens an
embedded Chroma store to write it."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

from rag.errors import IngestLockedError, StoreUnavailableError

LOCK_NAME = "ingest.lock"
WRITER_LOCK_NAME = "serve.lock"


def _open(index_dir: Path, name: str) -> IO[str]:
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        return open(index_dir / name, "a+")  # noqa: SIM115 - closed by the caller's `with`
    except OSError as exc:
        raise StoreUnavailableError(
            f"Cannot write in the index directory {index_dir}: {exc.strerror or exc}. "
            "Make it writable (or set RAG_INDEX_DIR to a writable directory) and try again."
        ) from None


@contextmanager
def _held(index_dir: Path, name: str, record: str, refusal: Callable[[str], str]) -> Iterator[None]:
    """Hold the lock file `name` while the block runs, with `record` written in it for whoever is
    refused; or fail at once with `refusal(what the holder recorded)`. The lock dies with its
    process, even on SIGKILL."""
    with _open(index_dir, name) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise IngestLockedError(refusal(handle.read().strip())) from None
        handle.seek(0)
        handle.truncate()
        handle.write(record)
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def index_lock(index_dir: Path) -> AbstractContextManager[None]:
    """Hold the ingest lock for the duration of the block, or fail at once if another holds it."""
    return _held(
        index_dir,
        LOCK_NAME,
        str(os.getpid()),
        lambda holder: (
            f"Another ingest is running on this index (pid {holder or 'another process'}). "
            "Wait for it to finish, then run `rag ingest` again."
        ),
    )


def _refusal(holder: dict[str, Any], role: str) -> str:
    pid = holder.get("pid", "?")
    if holder.get("role") == "serve":
        port = holder.get("port", "PORT")
        if role == "serve":
            return (
                f"Another `rag serve` (pid {pid}, port {port}) already serves this index: use it, "
                "or stop it first."
            )
        return (
            f"A `rag serve` (pid {pid}, port {port}) has this index open, and an embedded index has one "
            "writer at a time. Add articles through the server: `curl -X POST "
            f'http://127.0.0.1:{port}/v1/ingest -H "Authorization: Bearer $RAG_ADMIN_KEY"` (the server '
            "needs RAG_ADMIN_KEY), or stop the server and run `rag ingest` again. With a Chroma server "
            "(RAG_CHROMA_HOST), ingest and serve may run together."
        )
    if role == "serve":
        return (
            f"A `rag ingest` (pid {pid}) is writing this index: wait for it to finish, then start "
            "`rag serve` again."
        )
    return (
        f"Another ingest is running on this index (pid {pid}). Wait for it to finish, then run "
        "`rag ingest` again."
    )


def writer_lock(index_dir: Path, role: str, **details: Any) -> AbstractContextManager[None]:
    """Hold the writer-process lock of an embedded index while the block runs (`role`: "serve" for
    the server's lifetime, "ingest" for a command-line ingest), or fail at once with a message that
    says who holds it and what to do. The lock dies with its process, even on SIGKILL."""

    def refusal(recorded: str) -> str:
        try:
            holder = json.loads(recorded or "{}")
        except json.JSONDecodeError:
            holder = {}
        return _refusal(holder, role)

    record = json.dumps({"role": role, "pid": os.getpid(), **details})
    return _held(index_dir, WRITER_LOCK_NAME, record, refusal)
