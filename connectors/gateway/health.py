"""Checking every component behind the gateway; shared by /health and outage replies."""

from __future__ import annotations

import asyncio

from connectors.gateway.errors import ApiError
from connectors.gateway.rasa_client import UpstreamError
from connectors.gateway.state import AppState

COMPONENTS = ("rasa", "actions", "knowledge_base", "redis")
_RETRY = "请稍后再试 / please retry shortly."
_MESSAGES = {
    "redis": f"会话存储暂时不可用，{_RETRY} Conversation storage (Redis) is unavailable.",
    "rasa": f"对话引擎暂时不可用，{_RETRY} The dialogue engine (Rasa) is unavailable.",
    "actions": f"业务服务暂时不可用，{_RETRY} The action server is unavailable.",
    "knowledge_base": f"知识库暂时不可用，{_RETRY} The knowledge base is unavailable.",
}


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


async def outage_error(state: AppState, exc: UpstreamError) -> ApiError:
    """The 503 for a failed turn, naming the component that is really down."""
    components = await check_components(state)
    failing = [name for name in ("redis", "actions", "knowledge_base", "rasa") if components[name] != "ok"]
    name = failing[0] if failing else exc.component
    return ApiError(503, f"{name}_unavailable", _MESSAGES.get(name, _MESSAGES["rasa"]))
