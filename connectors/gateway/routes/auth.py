"""Accounts: POST /api/auth/login (OAuth2 password flow), logout, who am I, and users (admin)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from redis.exceptions import RedisError

from connectors.gateway.auth import ROLES, LoginThrottled, Principal, valid_username
from connectors.gateway.deps import AdminUser, ClientAddress, CurrentUser, StateDep, bearer_token
from connectors.gateway.errors import ApiError
from connectors.gateway.state import AppState

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserOut(BaseModel):
    username: str
    roles: list[str]
    display_name: str
    max_concurrent: int | None = None

    @classmethod
    def of(cls, user: Principal) -> UserOut:
        return cls(username=user.username, roles=[r for r in ROLES if user.has(r)],
                   display_name=user.label, max_concurrent=user.max_concurrent)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: StrictStr = Field(min_length=8, max_length=128)
    roles: list[str] = Field(min_length=1)
    display_name: StrictStr = Field(default="", max_length=32)
    max_concurrent: int | None = Field(default=None, ge=1, le=50)


def _unavailable(exc: Exception) -> ApiError:
    return ApiError(503, "redis_unavailable", "账户存储暂时不可用 / Account storage (Redis) is unavailable.")


@router.post("/login", response_model=TokenOut)
async def login(state: StateDep, client: ClientAddress, username: Annotated[str, Form(max_length=64)],
                password: Annotated[str, Form(max_length=128)]) -> TokenOut:
    """Exchange a user name and password for a bearer token (OAuth2 password flow).

    Attempts are limited per client address (429 with Retry-After)."""
    accounts = state.handoff.accounts
    try:
        await state.limits.check("login_ip", client)
        settings = state.settings
        await accounts.bootstrap(settings.xs_admin_user, settings.xs_admin_password.get_secret_value())
        name = username.strip().lower()
        user = await accounts.authenticate(name, password, client)
        if user is None:
            await _audit(state, name, "login_failed", client)
            raise ApiError(401, "invalid_credentials", "用户名或密码错误 / Wrong user name or password.")
        token = await accounts.issue_token(user)
        await _audit(state, name, "login", client)
        return TokenOut(access_token=token)
    except LoginThrottled as exc:
        raise ApiError(
            429, "too_many_attempts",
            "登录失败次数过多，请 15 分钟后再试 / Too many failed logins; retry in 15 minutes.",
        ) from exc
    except RedisError as exc:
        raise _unavailable(exc) from exc


async def _audit(state: AppState, username: str, action: str, client: str) -> None:
    """Logins go to the audit log of record; its outage must not lock everyone out."""
    try:
        await asyncio.to_thread(state.guides.record, username[:64] or "?", action, "", client=client)
    except Exception as exc:
        log.warning("login not audited (%s): %s", action, exc)


@router.post("/logout", status_code=204)
async def logout(state: StateDep, user: CurrentUser,
                 token: Annotated[str | None, Depends(bearer_token)]) -> None:
    """Revoke the token used for this request."""
    if token:
        await state.handoff.accounts.revoke(token)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.of(user)


@router.get("/users", response_model=list[UserOut])
async def list_users(state: StateDep, _: AdminUser) -> list[UserOut]:
    return [UserOut.of(u) for u in await state.handoff.accounts.list_users()]


@router.put("/users/{username}", response_model=UserOut)
async def put_user(username: str, body: UserIn, state: StateDep, _: AdminUser) -> UserOut:
    """Create or replace a user (admin). Replacing revokes the user's tokens."""
    name = username.strip().lower()
    if not valid_username(name):
        raise ApiError(422, "invalid_username",
                       "用户名只能包含小写字母、数字、_ . - / User names use a-z, 0-9, _ . - only.")
    bad = [r for r in body.roles if r not in ROLES]
    if bad:
        raise ApiError(422, "invalid_role", f"未知角色 {bad} / Unknown roles {bad}; use {list(ROLES)}.")
    accounts = state.handoff.accounts
    await accounts.create_user(name, body.password, body.roles, display_name=body.display_name,
                               max_concurrent=body.max_concurrent)
    user = await accounts.get_user(name)
    assert user is not None
    return UserOut.of(user)


@router.delete("/users/{username}", status_code=204)
async def delete_user(username: str, state: StateDep, admin: AdminUser) -> None:
    if username == admin.username:
        raise ApiError(422, "cannot_delete_self", "不能删除自己 / You cannot delete yourself.")
    if not await state.handoff.accounts.delete_user(username):
        raise ApiError(404, "not_found", f"用户 {username} 不存在 / No user {username}.")
