"""A real PostgreSQL server for the conversation store's tests: Debian's binaries (apt-get install
postgresql) run as a throwaway cluster in a temporary folder on 127.0.0.1, one database per test."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.live_server import free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def require_postgres() -> Path:
    """Where initdb and pg_ctl are, or a skip that says what is missing and how to install it."""
    binaries = _binaries()
    missing = [
        name
        for name, ok in (
            ("postgresql (apt-get install postgresql)", binaries is not None),
            ("psycopg (pip install 'psycopg[binary]')", importlib.util.find_spec("psycopg") is not None),
        )
        if not ok
    ]
    if missing:
        pytest.skip(f"PostgreSQL tests need {', '.join(missing)}")
    assert binaries is not None
    return binaries


def _as_postgres(command: list[str]) -> list[str]:
    # The server refuses to run as root: as root, run it as Debian's `postgres` user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(base: Path) -> Iterator[str]:
    """A PostgreSQL cluster in `base` until the block ends; yields its admin URL for SQLAlchemy."""
    binaries = require_postgres()
    base.mkdir(parents=True, exist_ok=True)
    data, port = base / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        base.chmod(0o755)
        for parent in base.parents:  # the postgres user must reach its folder
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True, "timeout": 120}
    subprocess.run(
        _as_postgres([str(binaries / "initdb"), "-D", str(data), "-U", "rag", "--auth=trust", "-E", "UTF8"]),
        **quiet,  # type: ignore[call-overload]
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w"]
    subprocess.run(_as_postgres([*pg_ctl, "-o", options, "start"]), **quiet)  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://rag@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "immediate", "stop"]), **quiet)  # type: ignore[call-overload]


def new_database(admin_url: str) -> str:
    """A fresh empty database on the server of `admin_url`; its URL."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
