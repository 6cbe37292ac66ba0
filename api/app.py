"""`create_app`: the FastAPI application around one engine (health, questions, sources, OpenAI
compatibility, ingest), with its limits, keys, CORS and error handlers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.access import FailedLogins, FrontEnd, StreamCap
from api.admission import Admission, RateLimiter
from api.auth import (
    Bearer,
    KeyFirst,
    admin_checker,
    any_key_configured,
    key_checker,
    warn_short_keys,
)
from api.conversations import Recorder, history_router
from api.documents import Remove, documents_admin_router, documents_router
from api.errors import error_response, install_error_handlers
from api.ingest import Ingest, ingest_router
from api.limits import BodyLimit, SecurityHeaders
from api.observe import RequestLog, metrics_router
from api.openai_compat import openai_router
from api.routes import engine_router
from api.schemas import error_responses
from rag.admission import rate_identity
from rag.corpus import Corpus
from rag.engine import Engine
from rag.history import HistoryStore, owner_of
from rag.limits import ServerConfig
from rag.readiness import Readiness
from rag.telemetry.metrics import service_registry

log = logging.getLogger("api")
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
"""Behind the key when keys are set, unless RAG_PUBLIC_DOCS says they are public."""

DESCRIPTION = (
    "Questions-réponses sourcées sur des articles de presse en français. Every answer carries [n] "
    "markers and its citations as data (exact quotes with character spans). Send "
    "`Authorization: Bearer <key>` to `/v1/*` when the server has API keys."
)


def rate_limiter(config: ServerConfig, limiter: RateLimiter) -> Any:
    """Dependency for `/v1/*` (after the key check): a rate limit per API key (counted with the
    chat's questions of the same key); without keys, per client address (the one a local proxy
    forwards), this machine's own clients exempt: a server without keys listens on loopback only,
    where the client is its operator."""
    by_key = any_key_configured(config.api_keys, config.admin_key)

    async def rate_limit(request: Request, credentials: Bearer) -> None:
        owner = owner_of(credentials.credentials) if by_key and credentials is not None else None
        who = rate_identity(owner, request.client.host if request.client else "")
        if who is not None:
            limiter.check(who)

    return rate_limit


def health_router(readiness: Readiness) -> APIRouter:
    """`/healthz` (the process is alive) and `/readyz` (it can answer), open to probes without a key."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz", responses=error_responses(503))
    async def readyz() -> JSONResponse:
        """Ready to answer: the index open and non-empty, the embedder loaded."""
        try:
            status = await run_in_threadpool(readiness.status)
        except Exception:  # noqa: BLE001 - a probe answers 503, whatever broke; the log says what
            log.exception("readiness check failed")
            return error_response(503, "not_ready", "The index cannot be read: see the server log.")
        if not status.ready:
            return error_response(503, "not_ready", status.reason or "The index is not ready.")
        return JSONResponse(
            {"status": "ready", "chunks": status.chunks, "embed_model": status.embed_model, "llm": status.llm}
        )

    return router


def create_app(
    engine: Engine,
    config: ServerConfig,
    corpus: Corpus,
    *,
    readiness: Readiness | None = None,
    ingest: Ingest | None = None,
    history: HistoryStore | None = None,
    remove: Remove | None = None,
    front: FrontEnd | None = None,
    admission: Admission | None = None,
) -> FastAPI:
    """The HTTP app for `engine`, serving the articles of `corpus`, within `config`. `readiness`
    answers /readyz (the one the server warms up; by default, a new one). `ingest` syncs corpus
    files into the index; without it (or without an admin key) `POST /v1/ingest` is disabled.
    `history` saves answers as their caller's conversations; without it nothing is saved. `remove`
    deletes documents; without it `DELETE /v1/documents/{id}` is disabled. `front` describes a front
    end that will be mounted on the app (the chat): its login and upload routes, its login check.
    `admission` is the gate and rate limiter, shared with that front end (by default, new ones)."""
    readiness, front = readiness or Readiness(engine), front or FrontEnd()
    admission = admission or Admission.of(config)
    warn_short_keys(config.api_keys, config.admin_key)
    app = FastAPI(title="rag-fr-news", version="0.1.0", description=DESCRIPTION)
    install_error_handlers(app)
    require_key = key_checker(config.api_keys, config.admin_key)
    require_admin = admin_checker(config.api_keys, config.admin_key)
    protected: dict[str, Any] = {
        "prefix": "/v1",
        "dependencies": [Depends(require_key), Depends(rate_limiter(config, admission.limiter))],
        "responses": error_responses(401, 413, 429),
    }
    gate = admission.gate
    app.include_router(engine_router(engine, corpus, gate, Recorder(history)), **protected)
    app.include_router(openai_router(engine, gate), **protected)
    app.include_router(history_router(history, corpus), **protected)
    app.include_router(ingest_router(corpus.root, ingest, require_admin), prefix="/v1")
    app.include_router(documents_router(corpus), **protected)
    app.include_router(documents_admin_router(corpus, ingest, remove, require_admin), prefix="/v1")

    app.include_router(health_router(readiness))
    registry = service_registry(engine.store.count, engine.answerer.status)
    app.include_router(metrics_router(registry, require_key))

    install_middleware(app, config, front)
    return app


def install_middleware(app: FastAPI, config: ServerConfig, front: FrontEnd) -> None:
    """The middleware around the app's routes, innermost first: body limits, the key check, CORS, the
    front end's guards, streams per client, failed logins, security headers and the request log."""
    app.add_middleware(
        BodyLimit,
        max_body=config.max_body_bytes,
        max_upload=config.max_upload_bytes,
        upload_paths=("/v1/ingest", "/v1/documents", *front.upload_paths),
        timeout_s=config.request_timeout_s,
    )
    keyed = ("/v1/",) if config.public_docs else ("/v1/", *DOCS_PATHS)
    app.add_middleware(KeyFirst, keys=config.login_keys, prefixes=keyed, routes=app.router.routes)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    for guard in reversed(front.guards):
        app.add_middleware(guard.cls, *guard.args, **guard.kwargs)
    app.add_middleware(
        StreamCap,
        per_client=config.max_streams_per_client,
        exempt_loopback=not any_key_configured(config.api_keys, config.admin_key),
    )
    app.add_middleware(
        FailedLogins,
        attempts=config.login_failures,
        window_s=config.login_failure_window_s,
        login_paths=front.login_paths,
    )
    app.add_middleware(SecurityHeaders)  # on every response, the 413s, 408s, 401s and 429s included
    app.add_middleware(RequestLog, log_questions=config.log_questions)  # outermost: logs them all
