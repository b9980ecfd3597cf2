"""Accounts: login per the contract, roles, revocation, the first admin, hashed passwords."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from connectors.gateway.auth import Accounts, hash_password, verify_password
from tests.handoff.conftest import ADMIN, PASSWORD, Gateway


def test_login_returns_a_bearer_token_that_identifies_the_admin_with_every_role(gw: Gateway) -> None:
    resp = gw.client.post("/api/auth/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 32
    me = gw.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    assert set(me.json()["roles"]) == {"admin", "editor", "reviewer", "agent", "supervisor"}


@pytest.mark.parametrize(("username", "password"), [
    (ADMIN[0], "wrong-password"), ("nobody", "whatever123"), ("xiaowang", ADMIN[1]),
])
def test_bad_credentials_get_401_with_the_error_shape(gw: Gateway, username: str, password: str) -> None:
    resp = gw.client.post("/api/auth/login", data={"username": username, "password": password})
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert "密码" in error["message"] and "password" in error["message"]


def test_login_without_a_password_field_is_a_4xx_naming_it(gw: Gateway) -> None:
    resp = gw.client.post("/api/auth/login", data={"username": "admin"})
    assert resp.status_code == 422
    assert "password" in resp.json()["error"]["message"]


@pytest.mark.parametrize(("path", "method", "needs"), [
    ("/api/agents/queue", "GET", "agent"),
    ("/api/agents/followups", "GET", "admin"),
    ("/api/auth/users", "GET", "admin"),
])
def test_a_user_without_the_role_gets_403_and_without_a_token_401(
        gw: Gateway, path: str, method: str, needs: str) -> None:
    gw.add_user("editor1", ["editor"])
    anonymous = gw.client.request(method, path)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    forbidden = gw.client.request(method, path, headers=gw.auth("editor1"))
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    assert needs in forbidden.json()["error"]["message"]
    allowed = gw.client.request(method, path, headers=gw.auth(ADMIN[0]))
    assert allowed.status_code == 200


def test_an_agent_cannot_see_the_admins_followups(gw: Gateway) -> None:
    assert gw.agent("GET", "/queue", "xiaowang").status_code == 200
    assert gw.agent("GET", "/followups", "xiaowang").status_code == 403


def test_logout_revokes_the_token_at_once(gw: Gateway) -> None:
    token = gw.login("xiaowang")
    headers = {"Authorization": f"Bearer {token}"}
    assert gw.client.get("/api/agents/queue", headers=headers).status_code == 200
    assert gw.client.post("/api/auth/logout", headers=headers).status_code == 204
    after = gw.client.get("/api/agents/queue", headers=headers)
    assert after.status_code == 401


def test_changing_a_users_password_revokes_their_tokens(gw: Gateway) -> None:
    token = gw.login("xiaoli")
    gw.add_user("xiaoli", ["agent"])  # replaced by the admin
    assert gw.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_repeated_failed_logins_are_throttled(gw: Gateway) -> None:
    for _ in range(10):
        bad = gw.client.post("/api/auth/login", data={"username": "xiaowang", "password": "nope"})
        assert bad.status_code == 401
    resp = gw.client.post("/api/auth/login", data={"username": "xiaowang", "password": PASSWORD})
    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "too_many_attempts"


def test_passwords_are_stored_hashed() -> None:
    stored = hash_password("s3cret-pass")
    assert "s3cret-pass" not in stored and stored.startswith("scrypt$")
    assert verify_password("s3cret-pass", stored)
    assert not verify_password("s3cret-pasS", stored)


async def test_without_admin_env_a_random_password_is_printed_once_and_works(
        accounts: Accounts, aredis: aioredis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    password = await accounts.bootstrap("", "")
    assert password and len(password) >= 12
    printed = capsys.readouterr().err
    assert password in printed
    # A second process starting later finds the admin and prints nothing.
    again = await Accounts(aredis, 3600).bootstrap("", "")
    assert again is None and password not in capsys.readouterr().err
    user = await accounts.authenticate("admin", password)
    assert user is not None and user.has("admin") and user.has("agent") and user.has("editor")
    raw = await aredis.hgetall("xs:user:admin")
    assert password not in str(raw)


async def test_admin_env_creates_the_admin_without_printing(
        accounts: Accounts, capsys: pytest.CaptureFixture[str]) -> None:
    assert await accounts.bootstrap("chief", "chief-pass-1") is None
    assert "chief-pass-1" not in capsys.readouterr().err
    assert await accounts.authenticate("chief", "chief-pass-1") is not None
