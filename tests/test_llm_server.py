"""The supervised local LLM server (RAG_ANSWERER=local), on the real llama.cpp server with SmolLM2:
it answers, is restarted on the same URL after a crash, stops with its owner, dies with it even when
the owner is killed, and `rag serve` starts it and stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rag.answering.arbiter import PATHS
from rag.compose import build_engine
from rag.engine import Engine
from rag.errors import ConfigError
from rag.llm_server import LlamaServer, ServerSpec, local_llm, resolve_model, stop_process
from rag.settings import Settings
from tests.conftest import ROOT, rag_env
from tests.live_server import free_port, wait_ready
from tests.llm_server import require_llm_tier

pytestmark = [pytest.mark.llm, pytest.mark.slow]
QUESTION = "Combien Amazon a-t-il investi dans Anthropic ?"


def spec(tmp_path: Path) -> ServerSpec:
    return ServerSpec(require_llm_tier(), "smollm2", n_ctx=2048, threads=1, log_file=tmp_path / "llm.log")


def answers(base_url: str) -> bool:
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 4}
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=120)
    return response.status_code == 200 and bool(response.json()["choices"][0]["message"]["content"])


def gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_llm_server__restarted_on_the_same_url_after_a_crash_and_stopped_with_its_owner(
    tmp_path: Path,
) -> None:
    with LlamaServer(spec(tmp_path)) as server:
        assert answers(server.base_url)
        assert server.process is not None
        crashed = server.process.pid
        os.kill(crashed, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while server.process.pid == crashed or not _up(server.base_url):
            assert time.monotonic() < deadline, "not restarted within 120 s"
            time.sleep(0.3)
        assert server.restarts == 1 and answers(server.base_url)
        last = server.process.pid
    assert gone(last, 5) and not _up(server.base_url)


def _up(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/models", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_llm_server__dies_when_its_owner_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed owner runs no clean-up: the parent-death signal must take the server down."""
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom rag.llm_server import LlamaServer, ServerSpec\n"
        f"server = LlamaServer(ServerSpec(Path({str(require_llm_tier())!r}), 'smollm2', 2048, 1)).start()\n"
        "print(server.process.pid, flush=True)\ntime.sleep(600)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        owner.kill()
        assert gone(child, 10), "the llama.cpp server outlived its killed owner"
    finally:
        stop_process(owner)


def test_local_llm__answers_through_the_server_it_supervises(
    engine: Engine, engine_settings: Settings
) -> None:
    settings = engine_settings.model_copy(
        update={
            "answerer": "local",
            "llm_local_model": str(require_llm_tier()),
            "llm_threads": 1,
            "llm_timeout_s": 120.0,
        }
    )
    with local_llm(settings) as local:
        assert local.llm_base_url.startswith("http://127.0.0.1:") and _up(local.llm_base_url)
        answer = build_engine(local, embedder=engine.embedder, store=engine.store).ask(QUESTION)
        assert answer.answerer == "local" and not answer.degraded and answer.path in PATHS
    assert not _up(local.llm_base_url)


def test_local_llm__other_answerers_start_nothing_and_unknown_models_say_what_to_do(
    engine_settings: Settings,
) -> None:
    with local_llm(engine_settings) as same:
        assert same is engine_settings
    with pytest.raises(ConfigError, match="make models-llm"):
        resolve_model("no-such-model.gguf")


@pytest.mark.server
def test_rag_serve__starts_the_local_llm_and_stops_it_on_exit(
    tmp_path: Path, engine_settings: Settings
) -> None:
    port = free_port()
    env = rag_env(
        engine_settings,
        RAG_ANSWERER="local",
        RAG_LLM_LOCAL_MODEL=str(require_llm_tier()),
        RAG_LLM_THREADS=1,
        RAG_LLM_TIMEOUT_S=120,
        RAG_INDEX_DIR=str(tmp_path / "index"),
    )
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(tmp_path),
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    try:
        wait_ready(serve, lambda: client.get("/readyz").status_code == 200, 300, "rag serve")
        assert client.get("/readyz").json()["llm"]["state"] == "up"
        data = client.post("/v1/ask", json={"question": QUESTION}).json()
        assert data["answerer"] == "local" and not data["degraded"] and data["path"] in PATHS
        children = [
            int(pid) for pid in Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()
        ]
        children += [
            int(pid)
            for task in Path(f"/proc/{serve.pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
        assert children, "rag serve started no process"
    finally:
        client.close()
        stop_process(serve)
        log.close()
    assert all(gone(pid, 15) for pid in set(children))
