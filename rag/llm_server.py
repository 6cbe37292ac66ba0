"""The local LLM reader as a supervised process: llama-cpp-python's OpenAI-compatible server for a
GGUF model on 127.0.0.1 at a free port, with as many threads as this process may use, restarted when
it dies, stopped with its owner (`local_llm` for RAG_ANSWERER=local)."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from rag.errors import ConfigError
from rag.settings import Settings

log = logging.getLogger(__name__)
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # waits before restarts in a row; the last one repeats


@dataclass(frozen=True)
class ServerSpec:
    """What to serve and how: the GGUF file, its name on the API, context size and threads."""

    model: Path
    alias: str
    n_ctx: int = 4096
    threads: int = 1
    log_file: Path | None = None
    verbose: bool = False


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not exit within `timeout_s`; nothing if it has exited."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


def machine_threads() -> int:
    """The CPUs this process may run on (its affinity, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_model(name: str) -> Path:
    """An installed model of the catalogue (`make models-llm`), or the path of a .gguf file."""
    from rag.models_install import CATALOGUE, model_path

    if name in CATALOGUE:
        return model_path(name)
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise ConfigError(
        f"RAG_LLM_LOCAL_MODEL={name!r} is neither an installed model ({', '.join(CATALOGUE)}) nor a "
        ".gguf file: run `make models-llm`, or give the path of a GGUF model."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: killed when the thread that started it ends (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LlamaServer:
    """One llama.cpp server process, watched by a thread that starts it, restarts it after a crash
    (same port, growing waits) and stops it. Use as a context manager."""

    def __init__(self, spec: ServerSpec, *, port: int | None = None, start_timeout_s: float = 300.0) -> None:
        self.spec = spec
        self.port = port or _free_port()
        self.start_timeout_s = start_timeout_s
        self.restarts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._failed: str | None = None
        self._thread: threading.Thread | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        s = self.spec
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(s.model),
            "--model_alias",
            s.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(s.n_ctx),
            "--n_threads",
            str(s.threads),
            "--n_threads_batch",
            str(s.threads),
            # Queue concurrent requests: by default a new request cuts off the answer being streamed.
            "--interrupt_requests",
            "False",
            "--verbose",
            str(s.verbose),
        ]

    def start(self) -> LlamaServer:
        """Start the process and wait until it answers; a clear error if it cannot."""
        if self.spec.log_file is not None:
            self.spec.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.spec.log_file.open("wb")
        # The watcher thread spawns the process: the child's parent-death signal follows that thread.
        self._thread = threading.Thread(target=self._supervise, name="llm-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout_s) or self._failed:
            self.stop()
            raise ConfigError(
                f"The local LLM server did not start: {self._failed or 'no answer in time'}"
                + (f" (see {self.spec.log_file})" if self.spec.log_file else "")
            )
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.process is not None:
            stop_process(self.process, timeout_s=10)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self) -> subprocess.Popen[bytes]:
        out = self._log if self._log is not None else subprocess.DEVNULL
        return subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no lock taken
        )

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline and not self._stopping.is_set():
            if process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return True
            time.sleep(0.25)
        return False

    def _supervise(self) -> None:
        failures = 0
        code: int | None
        while not self._stopping.is_set():
            self.process = process = self._spawn()
            if self._wait_ready(process):
                failures = 0
                self._ready.set()
                code = process.wait()
            else:
                code = process.poll()
                if not self._ready.is_set():  # the first start failed: say so, do not loop
                    self._failed = f"exit code {code}" if code is not None else "no answer in time"
                    self._ready.set()
                    return
            if self._stopping.is_set():
                return
            wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            failures += 1
            self.restarts += 1
            log.warning("The local LLM server exited (code %s); restarting in %.0f s.", code, wait)
            if process.poll() is None:
                process.kill()
            self._stopping.wait(wait)


def server_spec(settings: Settings) -> ServerSpec:
    return ServerSpec(
        model=resolve_model(settings.llm_local_model),
        alias=Path(settings.llm_local_model).name,
        n_ctx=settings.llm_context_window,
        threads=settings.llm_threads or machine_threads(),
        log_file=settings.index_dir / "llm-server.log",
    )


@contextlib.contextmanager
def local_llm(settings: Settings) -> Iterator[Settings]:
    """For RAG_ANSWERER=local: the local server started and supervised while the block runs, and
    the settings that point the LLM client at it. Other answerers: the settings as they are."""
    if settings.answerer != "local":
        yield settings
        return
    spec = server_spec(settings)
    print(f"Starting the local LLM server ({spec.alias}, {spec.threads} threads)…", file=sys.stderr)
    with LlamaServer(spec) as server:
        yield settings.model_copy(update={"llm_base_url": server.base_url, "llm_model": spec.alias})


__all__ = ["LlamaServer", "ServerSpec", "local_llm", "machine_threads", "resolve_model", "server_spec"]
