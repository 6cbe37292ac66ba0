"""Faults with real processes and real signals: two ingests at once, an ingest beside `rag serve`,
ingests killed with SIGKILL while a server answers, a damaged index at start, a Chroma server that
stops and comes back, and a disk that fills up or turns read-only under an ingest."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.loader import find_files, load_article
from ingest.lock import WRITER_LOCK_NAME, writer_lock
from ingest.service import make_chunker, run_ingest
from rag.compose import build_engine
from rag.embedding import Embedder
from rag.errors import StoreUnavailableError
from rag.settings import Settings
from tests.conftest import CORPUS, api_app, make_settings, rag_env, run_rag, start_rag
from tests.live_server import free_port, live_server

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).parent / "chroma"
AMAZON = "Combien Amazon a-t-il investi dans Anthropic ?"
ZORGLUB = (
    "La fondation Zorglub finance la recherche\n\nLa fondation Zorglub a versé 17 milliards de "
    "zlotys à la recherche sur l'alignement des modèles, a annoncé son président mardi.\n"
)


# -- processes ------------------------------------------------------------------------------------
def rag(args: list[str], env: dict[str, str], cwd: Path, **popen: Any) -> subprocess.Popen[str]:
    """`rag ARGS` as a separate process (its working directory has no .env)."""
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    return start_rag(*args, env=env, cwd=cwd, text=True, **popen)


def wait_http(url: str, proc: subprocess.Popen[str] | None = None, timeout: float = 180) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert proc is None or proc.poll() is None, f"exited with {proc.returncode}: {proc.communicate()}"
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer in {timeout} s"
            time.sleep(0.3)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[int, str]:
    """Signal the process, and return its exit code and its stderr."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    return proc.returncode, err


@contextmanager
def rag_serve(env: dict[str, str], cwd: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`rag serve` on a free loopback port, once it answers /healthz (ready or not)."""
    port = free_port()
    proc = rag(["serve", "--port", str(port)], env, cwd, stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop(proc)


def replicate(corpus: Path, copies: int) -> None:
    for i in range(copies):
        for source in sorted(CORPUS.iterdir()):
            text = source.read_text(encoding="utf-8")
            (corpus / f"copie{i}_{source.name}").write_text(f"Copie {i}.\n{text}", encoding="utf-8")


def check_complete(settings: Settings, embedder: Embedder) -> None:
    """The store holds exactly the chunks of the corpus files: no duplicate, no orphan, no gap."""
    engine = build_engine(settings, embedder=embedder)
    metas = [m for _, _, m in engine.store.iter_all(documents=False)]
    files, _ = find_files(settings.corpus_dir)
    articles = {a.file: a for a in (load_article(settings.corpus_dir, f) for f in files)}
    chunker = make_chunker(settings, embedder)
    assert len(metas) == sum(len(chunker.split(a)) for a in articles.values())
    assert max(Counter((m["file"], m["chunk_index"]) for m in metas).values()) == 1, "duplicates"
    assert all(m["file"] in articles and m["file_sha"] == articles[m["file"]].sha for m in metas), "orphans"
    assert run_ingest(settings, embedder=embedder, progress=False).chunks_written == 0


# -- locks ----------------------------------------------------------------------------------------
def test_ingest__a_second_one_at_once_refuses_and_the_first_completes(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    replicate(tmp_path / "corpus", 1)
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    env = rag_env(settings)
    first = rag(["ingest"], env, tmp_path)
    lock = settings.index_dir / WRITER_LOCK_NAME
    deadline = time.monotonic() + 60
    while not (lock.exists() and '"ingest"' in lock.read_text()):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = run_rag("ingest", env=env, cwd=tmp_path, timeout=120)
    assert first.poll() is None, "the first ingest ended before the second one started"
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert f"Another ingest is running on this index (pid {first.pid})" in second.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "10 added" in out
    check_complete(settings, embedder)


@pytest.mark.server
def test_ingest__beside_rag_serve_is_refused_with_the_way_to_do_it(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    env = rag_env(settings, RAG_ADMIN_KEY="adm")
    with rag_serve(env, tmp_path) as (url, server):
        assert wait_http(f"{url}/readyz").status_code == 200
        ingest = rag(["ingest"], env, tmp_path)
        other = rag(["serve", "--port", str(free_port())], env, tmp_path)
        (ingest_code, ingest_err), (other_code, other_err) = stop(ingest, 0), stop(other, 0)
        port = url.rsplit(":", 1)[1]
        assert ingest_code == 2 and "Traceback" not in ingest_err
        assert f"A `rag serve` (pid {server.pid}, port {port}) has this index open" in ingest_err
        assert f"http://127.0.0.1:{port}/v1/ingest" in ingest_err and "stop the server" in ingest_err
        assert other_code == 2 and "already serves this index" in other_err
        upload = httpx.post(
            f"{url}/v1/ingest",
            headers={"Authorization": "Bearer adm"},
            timeout=120,
            files=[("files", ("zorglub.txt", ZORGLUB.encode(), "text/plain"))],
        )
        assert upload.status_code == 200 and upload.json()["added"] == ["zorglub.txt"]
        code, err = stop(server)
    assert code in (0, 130) and "Traceback" not in err  # 130: stopped by SIGINT, as a user does
    with writer_lock(settings.index_dir, "ingest"):  # released with the server
        pass


# -- a Chroma server, killed ingests, and the server's own outage ---------------------------------
@contextmanager
def chroma_run(path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    if not CHROMA.exists():
        pytest.skip(f"the chroma CLI is not installed at {CHROMA}: `make setup` installs it")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "chroma run did not start"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Asker(threading.Thread):
    """Asks the server one question again and again; records what came back."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.results, self.done = url, list[tuple[int, str]](), threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.done.is_set():
                response = client.post("/v1/ask", json={"question": AMAZON})
                self.results.append((response.status_code, response.json().get("answer", "")))
                time.sleep(0.2)


def kill_ingest(env: dict[str, str], cwd: Path, rng: random.Random, by_progress: bool) -> str:
    """Start `rag ingest` and SIGKILL it at a random moment: some seconds in (maybe still starting),
    or after a random share of its chunks were written. Returns where it was killed."""
    proc = rag(["ingest", "--progress"], env, cwd, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    where = "at start"
    if not by_progress:
        time.sleep(rng.uniform(1.0, 5.0))  # starting takes ~3 s: killed at start or early on
    else:
        target, line, deadline = rng.uniform(0.1, 0.7), "", time.monotonic() + 120
        while time.monotonic() < deadline and (char := proc.stderr.read(1)):
            line += char
            if char in "\r\n":
                with contextlib.suppress(ValueError, IndexError):  # tqdm: "embedding: 20%|██ | 16/80 [..."
                    done, total = map(int, line.split("|")[-1].split()[0].split("/"))
                    if done >= max(1, target * total):
                        where = f"after {done}/{total} chunks"
                        break
                line = ""
    assert proc.poll() is None, f"the ingest ended before it was killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return where


@pytest.fixture(scope="module")
def chroma_site(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[dict[str, Any]]:
    """A Chroma server with the corpus ingested, and our server on it (in this process)."""
    base = tmp_path_factory.mktemp("chroma-site")
    shutil.copytree(CORPUS, base / "corpus")
    port = free_port()
    settings = make_settings(base / "corpus", base / "index", chroma_host="127.0.0.1", chroma_port=port)
    with chroma_run(base / "chroma", port) as chroma:
        run_ingest(settings, embedder=embedder, progress=False)
        engine = build_engine(settings, embedder=embedder, lazy=True)
        with live_server(api_app(engine, settings)) as url:
            yield {"base": base, "settings": settings, "url": url, "chroma": chroma, "port": port}


@pytest.mark.server
def test_ingest__killed_three_times_while_serving_then_complete(
    chroma_site: dict[str, Any],
    embedder: Embedder,
) -> None:
    settings: Settings = chroma_site["settings"]
    # ~190 chunks in pages of 8: after two kills, the third run still has pages left to kill it in.
    replicate(settings.corpus_dir, 6)
    (settings.corpus_dir / "005_zorglub.txt").write_text(ZORGLUB, encoding="utf-8")
    env = rag_env(settings, RAG_CHROMA_HOST="127.0.0.1", RAG_CHROMA_PORT=chroma_site["port"])
    asker = Asker(chroma_site["url"])
    asker.start()
    seed = os.environ.get("FAULTS_SEED", str(time.time_ns()))  # FAULTS_SEED=... replays a failure
    rng = random.Random(seed)
    kills = [f"seed {seed}"] + [
        kill_ingest(env, chroma_site["base"], rng, by_progress=run > 0) for run in range(3)
    ]
    asker.done.set()
    asker.join(timeout=60)
    assert len(asker.results) >= 10, kills
    assert {status for status, _ in asker.results} == {200}, (kills, asker.results)
    assert all("4 milliards" in answer for _, answer in asker.results), kills
    report = run_ingest(settings, embedder=embedder, progress=False)
    assert "005_zorglub.txt" in report.added + report.unchanged
    check_complete(settings, embedder)
    deadline = time.monotonic() + 15
    while (
        "17 milliards"
        not in httpx.post(
            f"{chroma_site['url']}/v1/ask",
            timeout=60,
            json={"question": "Combien la fondation Zorglub a-t-elle versé ?"},
        ).json()["answer"]
    ):
        assert time.monotonic() < deadline, "the server does not see the completed ingest"
        time.sleep(0.5)


@pytest.mark.server
def test_chroma_server__down_is_a_fast_503_then_recovers_by_itself(chroma_site: dict[str, Any]) -> None:
    url, chroma = chroma_site["url"], chroma_site["chroma"]
    chroma.terminate()
    chroma.wait(timeout=30)
    time.sleep(1.5)  # past the store's one-second cache of its size
    for _ in range(3):
        started = time.monotonic()
        response = httpx.post(f"{url}/v1/ask", json={"question": AMAZON}, timeout=60)
        assert time.monotonic() - started < 5
        assert response.status_code == 503 and response.json()["error"]["code"] == "store_unavailable"
        assert "start it again" in response.json()["error"]["message"]
    ready = httpx.get(f"{url}/readyz", timeout=30)
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
    assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
    with chroma_run(chroma_site["base"] / "chroma", chroma_site["port"]) as again:
        chroma_site["chroma"] = again
        deadline = time.monotonic() + 20
        ask = {"question": AMAZON}
        while (answer := httpx.post(f"{url}/v1/ask", json=ask, timeout=60)).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.5)
        assert "4 milliards" in answer.json()["answer"]
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200


# -- a damaged index ------------------------------------------------------------------------------
@pytest.mark.server
def test_serve__damaged_index_starts_not_ready_and_says_to_rebuild(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    run_ingest(settings, embedder=embedder, progress=False)
    database = settings.index_dir / "chroma.sqlite3"
    database.write_bytes(random.Random(1).randbytes(database.stat().st_size))
    with rag_serve(rag_env(settings), tmp_path) as (url, server):
        for _ in range(2):
            ready = httpx.get(f"{url}/readyz", timeout=30)
            assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
            assert "rag ingest --rebuild" in ready.text and str(tmp_path) not in ready.text
            ask = httpx.post(f"{url}/v1/ask", json={"question": AMAZON}, timeout=30)
            assert ask.status_code == 503 and "rag ingest --rebuild" in ask.text
            time.sleep(2.5)  # past the retry interval: the store is tried again, and still fails
        assert server.poll() is None
        code, err = stop(server)
    assert code in (0, 130) and "error: Cannot open the index in" in err and "Traceback" not in err
    with pytest.raises(StoreUnavailableError, match="rag ingest --rebuild"):
        run_ingest(settings, embedder=embedder, progress=False)
    assert len(run_ingest(settings, embedder=embedder, progress=False, rebuild=True).added) == 5
    assert [p.name for p in settings.index_dir.glob("damaged-*/chroma.sqlite3")]
    assert "4 milliards" in build_engine(settings, embedder=embedder).ask(AMAZON).answer


# -- a disk that fills up or turns read-only ------------------------------------------------------
@contextmanager
def mounted(args: list[str], target: Path) -> Iterator[None]:
    """`mount ARGS target` for the block (root only: skipped with the reason elsewhere)."""
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or done.returncode}): needs root")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_ingest__disk_full_is_a_clear_error_and_the_index_survives(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    """A small disk of its own for the index, filled up between two ingests."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    index = tmp_path / "index"
    index.mkdir()
    settings = make_settings(tmp_path / "corpus", index)
    with mounted(["-t", "tmpfs", "-o", "size=48m", "tmpfs"], index):
        run_ingest(settings, embedder=embedder, progress=False)
        stored = build_engine(settings, embedder=embedder).store.count()
        ballast = index / "ballast.bin"
        with ballast.open("wb") as out:  # leaves 16 MiB free, under the reserve an ingest keeps
            out.write(b"\0" * (shutil.disk_usage(index).free - 16 * 2**20))
        replicate(settings.corpus_dir, 3)
        with pytest.raises(StoreUnavailableError) as failure:  # `rag ingest` prints it, exit code 2
            run_ingest(settings, embedder=embedder, progress=False)
        assert "MiB free" in str(failure.value) and "run `rag ingest` again" in str(failure.value)
        engine = build_engine(settings, embedder=embedder)
        assert stored > 0 and engine.store.count() == stored and "4 milliards" in engine.ask(AMAZON).answer
        ballast.unlink()
        assert len(run_ingest(settings, embedder=embedder, progress=False).added) == 15
        check_complete(settings, embedder)


def test_ingest__read_only_index_is_a_clear_error_and_the_index_survives(
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = make_settings(tmp_path / "corpus", tmp_path / "index")
    run_ingest(settings, embedder=embedder, progress=False)
    before = sorted((p.name, p.stat().st_size) for p in settings.index_dir.rglob("*") if p.is_file())
    (settings.corpus_dir / "005_zorglub.txt").write_text(ZORGLUB, encoding="utf-8")
    with mounted(["--bind", "-o", "ro", str(settings.index_dir)], settings.index_dir):
        subprocess.run(["mount", "-o", "remount,bind,ro", str(settings.index_dir)], check=True)
        env = rag_env(settings)
        done = run_rag("ingest", env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "Read-only file system" in done.stderr and "writable" in done.stderr
        after = sorted((p.name, p.stat().st_size) for p in settings.index_dir.rglob("*") if p.is_file())
        assert after == before
    report = run_ingest(settings, embedder=embedder, progress=False)
    assert report.added == ["005_zorglub.txt"] and len(report.unchanged) == 5
    check_complete(settings, embedder)
