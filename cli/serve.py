"""`rag serve`: one engine behind the HTTP API and the Gradio chat, served by uvicorn.

The composition root of the server: it alone wires `api/`, `ui/` and `ingest/` together.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.middleware import Middleware

from api import create_app
from api.access import FrontEnd
from api.auth import any_key_configured
from api.documents import Remove
from api.errors import ApiError
from api.ingest import Ingest, check_name, save
from ingest.lock import writer_lock
from ingest.remove import RemoveReport, remove_documents
from ingest.service import run_ingest
from ingest.sync import SyncReport
from rag.admission import Admission, is_loopback
from rag.compose import build_corpus, build_embedder, build_engine, build_history, build_server_config
from rag.embedding import Embedder
from rag.engine import Engine
from rag.errors import ConfigError, CorpusError, IngestLockedError, RagError
from rag.limits import ServerConfig
from rag.llm_server import local_llm
from rag.progress import IngestProgress
from rag.readiness import Readiness
from rag.settings import Settings
from rag.telemetry.logs import setup_logging
from rag.telemetry.tracing import setup_tracing
from ui.access import ChatLogin, LoginRequired
from ui.chat import mount_chat
from ui.documents import Add, UploadPolicy
from ui.history import ChatHistory, Logins

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("rag.serve")


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to listen beyond this machine when no key protects the API."""
    if not is_loopback(host) and not any_key_configured(settings.api_keys, settings.admin_key):
        raise ConfigError(
            f"Refusing to listen on {host}: no API key is configured, so anyone who can reach this "
            "address could use the service. Set RAG_API_KEYS (and RAG_ADMIN_KEY to allow ingest over "
            "HTTP), or listen on 127.0.0.1."
        )


def _sync(
    settings: Settings,
    engine: Engine,
    paths: Sequence[Path],
    on_progress: Callable[[IngestProgress], None] | None = None,
) -> SyncReport:
    """Sync `paths` into the engine's own store, so answers see them at once."""
    return run_ingest(
        settings,
        paths=paths,
        embedder=engine.embedder,
        store=engine.store,
        progress=False,
        on_progress=on_progress,
    )


def ingest_callable(settings: Settings, engine: Engine) -> Ingest:
    """The sync that `POST /v1/ingest` runs: into the engine's own store, so answers see it at once."""

    def ingest(paths: Sequence[Path]) -> SyncReport:
        return _sync(settings, engine, paths)

    return ingest


def remove_callable(settings: Settings, engine: Engine) -> Remove:
    """The removal `DELETE /v1/documents/{id}` runs, on the engine's own store."""

    def remove(ids: Sequence[str]) -> RemoveReport:
        return remove_documents(settings, ids, store=engine.store)

    return remove


def chat_add_callable(settings: Settings, engine: Engine) -> Add:
    """What the chat's admin upload runs: save the files into the corpus (as `POST /v1/documents`
    does), then sync them, reporting progress."""

    def add(files: list[tuple[str, bytes]], on_progress: Callable[[IngestProgress], None]) -> SyncReport:
        paths = []
        for name, data in files:
            try:
                paths.append(save(settings.corpus_dir, check_name(name), data))
            except ApiError as exc:
                raise CorpusError(exc.message) from None
        return _sync(settings, engine, paths, on_progress)

    return add


def build_app(engine: Engine, settings: Settings, *, readiness: Readiness | None = None) -> FastAPI:
    """The API, with the Gradio chat mounted at /ui (behind the API keys, if any) and / leading to it."""
    config, corpus = build_server_config(settings), build_corpus(settings)
    history = build_history(settings)
    keys = config.login_keys
    login = ChatLogin("/ui")  # with keys, every route of the chat but its login page needs the login
    guards = [Middleware(LoginRequired, login=login)] if keys else []
    admission = Admission.of(config)  # one gate and one rate limit for the API and the chat
    app = create_app(
        engine,
        config,
        corpus,
        readiness=readiness,
        ingest=ingest_callable(settings, engine),
        remove=remove_callable(settings, engine),
        history=history,
        front=FrontEnd(login_paths=login.login_paths, upload_paths=login.upload_paths, guards=guards),
        admission=admission,
    )
    # A browser sends no Bearer header: any user name with an API key as password logs in (and sees
    # the conversations of that key).
    auth = Logins(keys) if keys else None
    chat_history = ChatHistory(history, auth.owner if auth else None)
    uploads = UploadPolicy(admin_key=settings.admin_key, max_bytes=settings.max_upload_bytes)
    app = mount_chat(
        app,
        engine,
        corpus,
        path="/ui",
        auth=auth,
        add=chat_add_callable(settings, engine),
        uploads=uploads,
        history=chat_history,
        admission=admission,
    )
    login.bind(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app


def prepare_index(settings: Settings, embedder: Embedder) -> None:
    """Bring the index in step with the corpus (a no-op when it already is: sync embeds only changes).
    An index that cannot be opened is reported, not fatal: the server starts, /readyz says why."""
    try:
        report = run_ingest(settings, embedder=embedder)
    except IngestLockedError as exc:
        log.warning("Serving the index as it is: %s", exc)
        return
    except RagError as exc:
        print(
            f"error: {exc}\nServing anyway: /readyz answers 503 with this reason until the index "
            "can be opened.",
            file=sys.stderr,
        )
        return
    print(f"index: {report.summary()}", file=sys.stderr)


def uvicorn_config(
    app: FastAPI,
    config: ServerConfig,
    host: str,
    port: int,
    *,
    log_level: str = "info",
) -> uvicorn.Config:
    """How the server listens: no `server` header (it names the software and its version to anyone
    who asks), and a bound on open connections (a flood gets 503, not the process's last file)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        log_config=None,  # uvicorn's records go through the service's logging (JSON lines)
        access_log=False,  # the request log (`api.observe`) has one line per request instead
        limit_concurrency=config.max_connections,
        timeout_keep_alive=5,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    """Check exposure, hold the index, sync it, build the engine once, and serve until interrupted."""
    import uvicorn

    check_exposure(settings, host)
    setup_logging(settings.log_level, settings.log_format)
    setup_tracing(settings.otlp_endpoint, settings.otlp_protocol)
    with ExitStack() as held:
        if not settings.chroma_host:  # an embedded store has one writer process: this one
            held.enter_context(writer_lock(settings.index_dir, "serve", port=port))
        # RAG_ANSWERER=local: the llama.cpp server starts now, is restarted if it dies, stops with us.
        settings = held.enter_context(local_llm(settings))
        embedder = build_embedder(settings)
        prepare_index(settings, embedder)
        engine = build_engine(settings, embedder=embedder, lazy=True)
        readiness = Readiness(engine)
        readiness.start_warm_up()  # /readyz says "warming up" until BM25 is built
        app = build_app(engine, settings, readiness=readiness)
        print(f"Serving on http://{host}:{port} (chat: /ui, API docs: /docs)", file=sys.stderr)
        config = uvicorn_config(app, build_server_config(settings), host, port)
        uvicorn.Server(config).run()
