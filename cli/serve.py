"""`rag serve`: one engine behind the HTTP API and the Gradio chat, served by uvicorn.

The composition root of the server: it alone wires `api/`, `ui/` and `ingest/` together.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from api import create_app
from api.auth import any_key_configured, is_loopback
from api.ingest import Ingest
from ingest.lock import writer_lock
from ingest.service import run_ingest
from ingest.sync import SyncReport
from rag.compose import build_corpus, build_embedder, build_engine, build_server_config
from rag.embedding import Embedder
from rag.engine import Engine
from rag.errors import ConfigError, IngestLockedError, RagError
from rag.limits import ServerConfig
from rag.readiness import Readiness
from rag.settings import Settings
from ui.chat import mount_chat

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


def ingest_callable(settings: Settings, engine: Engine) -> Ingest:
    """The sync that `POST /v1/ingest` runs: into the engine's own store, so answers see it at once."""

    def ingest(paths: Sequence[Path]) -> SyncReport:
        return run_ingest(
            settings,
            paths=paths,
            embedder=engine.embedder,
            store=engine.store,
            progress=False,
        )

    return ingest


def build_app(engine: Engine, settings: Settings, *, readiness: Readiness | None = None) -> FastAPI:
    """The API, with the Gradio chat mounted at /ui (behind the API keys, if any) and / leading to it."""
    config, corpus = build_server_config(settings), build_corpus(settings)
    app = create_app(engine, config, corpus, readiness=readiness, ingest=ingest_callable(settings, engine))
    keys = config.login_keys
    # A browser sends no Bearer header: any user name with an API key as password logs in.
    auth = (lambda _user, password: password in keys) if keys else None
    app = mount_chat(app, engine, corpus, path="/ui", auth=auth)

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
        limit_concurrency=config.max_connections,
        timeout_keep_alive=5,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    """Check exposure, hold the index, sync it, build the engine once, and serve until interrupted."""
    import uvicorn

    check_exposure(settings, host)
    with ExitStack() as held:
        if not settings.chroma_host:  # an embedded store has one writer process: this one
            held.enter_context(writer_lock(settings.index_dir, "serve", port=port))
        embedder = build_embedder(settings)
        prepare_index(settings, embedder)
        engine = build_engine(settings, embedder=embedder, lazy=True)
        readiness = Readiness(engine)
        readiness.start_warm_up()  # /readyz says "warming up" until BM25 is built
        app = build_app(engine, settings, readiness=readiness)
        print(f"Serving on http://{host}:{port} (chat: /ui, API docs: /docs)", file=sys.stderr)
        config = uvicorn_config(app, build_server_config(settings), host, port)
        uvicorn.Server(config).run()
