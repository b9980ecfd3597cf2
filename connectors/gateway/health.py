"""Checking every component behind the gateway; shared by /health and outage replies."""

from __future__ import annotations

import asyncio

from fastapi import Request

from connectors.gateway.errors import UpstreamError
from connectors.gateway.state import AppState

COMPONENTS = ("rasa", "actions", "knowledge_base", "redis")
async def _redis(state: AppState) -> str:
    try:
        return "ok" if await state.redis.ping() else "error"
    except Exception:
        return "error"


async def _rasa(state: AppState) -> str:
    try:
        return "ok" if await state.rasa.ping() else "error: no model loaded"
    except UpstreamError:
        return "error"


async def _get_ok(state: AppState, path: str) -> str:
    try:
        resp = await state.http.get(state.settings.actions_url.rstrip("/") + path)
    except Exception:
        return "error"
    return "ok" if resp.status_code == 200 else "error"


async def check_components(state: AppState) -> dict[str, str]:
    """Each component's status, "ok" or an error word, checked concurrently."""
    results = await asyncio.gather(
        _rasa(state), _get_ok(state, "/health"), _get_ok(state, "/health/kb"), _redis(state)
    )
    return dict(zip(COMPONENTS, results, strict=True))


async def name_outage(request: Request, exc: UpstreamError) -> UpstreamError:
    """The 503 for a failed request, naming the component that is really down."""
    state: AppState = request.app.state.xs
    components = await check_components(state)
    failing = [name for name in ("redis", "actions", "knowledge_base", "rasa") if components[name] != "ok"]
    return UpstreamError(failing[0], exc.detail) if failing else exc
