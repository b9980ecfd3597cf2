"""GET /health — 200 only when every component answers; GET /health/live — this process serves."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from connectors.gateway.deps import StateDep
from connectors.gateway.health import check_components

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(state: StateDep) -> JSONResponse:
    """Readiness of Rasa, the action server, the knowledge base and Redis."""
    components = await check_components(state)
    ok = all(v == "ok" for v in components.values())
    return JSONResponse(
        {"status": "ok" if ok else "error", "components": components},
        status_code=200 if ok else 503,
    )


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Liveness of this gateway process alone (the load balancer's check): a gateway whose Rasa or
    Redis is down still answers its users with the outage reply, so it stays in rotation."""
    return {"status": "ok"}
