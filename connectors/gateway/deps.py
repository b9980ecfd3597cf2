"""Shared FastAPI dependencies as Annotated aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from redis.exceptions import RedisError

from connectors.gateway.auth import Principal
from connectors.gateway.errors import ApiError
from connectors.gateway.state import AppState


async def get_state(request: Request) -> AppState:
    """Async, as every dependency here: FastAPI runs a plain `def` dependency in a worker thread."""
    return request.app.state.xs  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(get_state)]

async def client_address(request: Request) -> str:
    """The client's address as the server saw it (behind a proxy: uvicorn's --proxy-headers)."""
    return request.client.host if request.client else ""


ClientAddress = Annotated[str, Depends(client_address)]

# Every request about a user's conversation presents its token (owners.py).
ConversationToken = Annotated[
    str | None,
    Header(alias="X-Conversation-Token", description="the token the conversation's first turn answered"),
]


bearer_token = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


async def current_user(state: StateDep, token: Annotated[str | None, Depends(bearer_token)]) -> Principal:
    """The logged-in user from the bearer token; 401 without a valid one."""
    if not token:
        raise ApiError(401, "unauthorized", "请先登录 / Please log in (bearer token missing).")
    try:
        user = await state.handoff.accounts.principal(token)
    except RedisError as exc:
        raise ApiError(503, "redis_unavailable",
                       "账户存储暂时不可用 / Account storage (Redis) is unavailable.") from exc
    if user is None:
        raise ApiError(401, "unauthorized",
                       "登录已失效，请重新登录 / The token is invalid or expired; log in again.")
    return user


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_role(role: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only users holding `role` through (403 otherwise)."""

    async def check(user: CurrentUser) -> Principal:
        if not user.has(role):
            raise ApiError(403, "forbidden", f"需要 {role} 角色 / This needs the {role} role.")
        return user

    return check


AdminUser = Annotated[Principal, Depends(require_role("admin"))]
EditorUser = Annotated[Principal, Depends(require_role("editor"))]
ReviewerUser = Annotated[Principal, Depends(require_role("reviewer"))]  # publishes guides
AgentUser = Annotated[Principal, Depends(require_role("agent"))]
