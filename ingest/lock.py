"""An exclusive lock on the index directory, so two ingests never write one store at once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import IngestLockedError

LOCK_NAME = "ingest.lock"


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Hold the ingest lock for the duration of the block, or fail at once if another holds it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_NAME
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IngestLockedError(
                f"Another ingest is running on this index (pid {holder}). "
                "Wait for it to finish, then run `rag ingest` again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
