"""The gateway app factory: wires settings, clients, error handling and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.gateway import channels
from connectors.gateway.errors import error_response, install_error_handlers
from connectors.gateway.health import name_outage
from connectors.gateway.logs import configure_logging
from connectors.gateway.routes import (
    agents,
    auth,
    chat,
    declarations,
    editors,
    guides,
    health,
    kb,
    kb_review,
    kb_rules,
    staff,
    stats,
    wechat,
    widget,
)
from connectors.gateway.settings import Settings, get_settings
from connectors.gateway.state import AppState


class BodyLimit:
    """413 for a body over the limit, before any route reads it (a plain ASGI middleware:
    Starlette's BaseHTTPMiddleware costs a few ms per request).

    A declared Content-Length is checked at once; a body without one (chunked transfer encoding)
    is read here up to the limit and handed on only if it fits, so a client cannot stream past it.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        editing = scope["path"].startswith("/api/kb/")  # guides and imports are bigger than chat
        limit = self.settings.kb_max_body_bytes if editing else self.settings.max_body_bytes
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        too_large = error_response(413, "body_too_large",
                                   f"请求体过大（上限 {limit} 字节）/ Request body too large.")
        if length.isdigit():
            if int(length) > limit:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def create_app(settings: Settings | None = None,
               make_state: Callable[[Settings], AppState] = AppState.create) -> FastAPI:
    """A ready-to-serve gateway; clients connect lazily on first use.

    `make_state` builds everything the app holds (tests pass one with their own clients).
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = make_state(settings)
        state.outbox.register("widget", socketio.push)
        app.state.xs = state
        await state.start()  # the database of record's schema
        await state.handoff.start(settings)  # first admin account (handoff/wiring.py)
        try:
            yield
        finally:
            await state.close()

    docs = settings.xs_api_docs
    app = FastAPI(title="小申 gateway", version="0.1.0", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    socketio = channels.install(app, settings)  # socket.io at /socket.io/
    install_error_handlers(app, name_outage)

    app.add_middleware(BodyLimit, settings=settings)

    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(guides.router)
    app.include_router(wechat.router)
    app.include_router(widget.router)
    app.include_router(auth.router)
    app.include_router(agents.router)
    app.include_router(agents.user_router)
    app.include_router(agents.console_router)  # the agents' console page at /agents
    app.include_router(kb.router)  # knowledge editors: /api/kb/*
    app.include_router(kb_review.router)  # drafts, review, history, audit: /api/kb/*
    app.include_router(kb_rules.router)  # synonyms: /api/kb/synonyms
    app.include_router(editors.router)  # the editors' workspace page at /editors
    app.include_router(staff.router)  # the staff pages' shared sign-in script
    app.include_router(declarations.router)  # smart declarations' records and print page
    app.include_router(stats.router)  # the service figures: /api/stats/*
    app.include_router(stats.page_router)  # the service dashboard page at /dashboard
    return app
