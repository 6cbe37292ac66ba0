"""`rag serve`: one engine behind the HTTP API and the Gradio chat, served by uvicorn.

The composition root of the server: it alone wires `api/`, `ui/` and `ingest/` together.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from api import create_app
from api.auth import any_key_configured
from api.ingest import Ingest
from ingest.service import run_ingest
from ingest.sync import SyncReport
from rag.embedding import Embedder
from rag.engine import Engine, build_engine
from rag.errors import ConfigError, IngestLockedError
from rag.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger("rag.serve")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
            settings, paths=paths, embedder=engine.embedder, store=engine.store, progress=False,
        )

    return ingest


def _chat_builder() -> Callable[[Engine], gr.Blocks] | None:
    try:
        from ui.chat import build_chat
    except ImportError as exc:
        log.warning("The chat UI is not available (%s): serving the API only.", exc)
        return None
    return build_chat


def build_app(engine: Engine, settings: Settings) -> FastAPI:
    """The API, with the Gradio chat mounted at /ui (behind the API keys, if any) and / leading to it."""
    app = create_app(engine, settings, ingest=ingest_callable(settings, engine))
    build_chat = _chat_builder()
    home = "/docs"
    if build_chat is not None:
        import gradio as gr

        keys = [k for k in (*settings.api_keys, settings.admin_key) if k]
        # A browser sends no Bearer header: any user name with an API key as password logs in.
        auth = (lambda _user, password: password in keys) if keys else None
        app = gr.mount_gradio_app(app, build_chat(engine), path="/ui", auth=auth)
        home = "/ui/"

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(home)

    return app


def prepare_index(settings: Settings, embedder: Embedder) -> None:
    """Bring the index in step with the corpus (a no-op when it already is: sync embeds only changes)."""
    try:
        report = run_ingest(settings, embedder=embedder)
    except IngestLockedError as exc:
        log.warning("Serving the index as it is: %s", exc)
        return
    print(f"index: {report.summary()}", file=sys.stderr)


def serve(settings: Settings, host: str, port: int) -> None:
    """Check exposure, sync the index, build the engine once, and serve until interrupted."""
    import uvicorn

    check_exposure(settings, host)
    embedder = Embedder(settings.embed_model, batch_size=settings.embed_batch_size)
    prepare_index(settings, embedder)
    engine = build_engine(settings, embedder=embedder)
    app = build_app(engine, settings)
    print(f"Serving on http://{host}:{port} (chat: /ui, API docs: /docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="info")
