"""Role escalation over every route of the OpenAPI document: anonymous → 401, a logged-in user
without the route's role → 403, and nothing changes. A new secured route fails this test until it
is given a role below, so no route is ever left open by accident."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.settings import Settings
from tests.handoff.conftest import ADMIN, PASSWORD
from tests.security.conftest import MakeGateway

# (method, path pattern) → the role a route needs; "user" = any logged-in account.
ROLE_OF: list[tuple[str, str, str]] = [
    ("POST", r"^/api/auth/logout$", "user"),
    ("GET", r"^/api/auth/me$", "user"),
    ("*", r"^/api/auth/users", "admin"),
    ("GET", r"^/api/agents/followups$", "admin"),
    ("POST", r"^/api/agents/followups/", "admin"),
    ("PUT", r"^/api/agents/service-hours/override$", "admin"),
    ("*", r"^/api/agents/", "agent"),
    ("GET", r"^/api/kb/audit$", "reviewer"),
    ("POST", r"^/api/kb/guides/\{guide_id\}/drafts$", "editor"),
    ("PUT", r"^/api/kb/guides/\{guide_id\}/drafts/", "editor"),
    ("POST", r"^/api/kb/guides/\{guide_id\}/versions/\{number\}/submit$", "editor"),
    ("POST", r"^/api/kb/inbox/", "editor"),
    ("*", r"^/api/kb/synonyms", "editor"),
    ("POST", r"^/api/kb/reindex$", "reviewer"),
    ("GET", r"^/api/kb/", "editor"),
    ("*", r"^/api/kb/", "reviewer"),
    ("GET", r"^/api/stats/", "supervisor"),
]
ACCOUNTS = {"editor": ["editor"], "agent": ["agent"], "reviewer": ["reviewer"], "supervisor": ["supervisor"]}
PUBLIC = {("GET", "/health"), ("GET", "/health/live"), ("POST", "/api/chat"), ("GET", "/guides/{guide_id}"),
          ("GET", "/wechat/miniprogram"), ("POST", "/wechat/miniprogram"), ("POST", "/api/auth/login"),
          # a user's own conversation: guarded by its conversation token (test_conversation_tokens)
          ("GET", "/api/chat/{sender_id}/messages"), ("GET", "/api/chat/{sender_id}/handoff"),
          ("POST", "/api/chat/{sender_id}/typing"),
          # a declaration's record: its conversation's token, or an agent's bearer token
          # (tests/gateway/test_declarations.py); the print page fetches it with the token
          ("GET", "/api/declarations/{ref}")}


def role_of(method: str, path: str) -> str:
    for m, pattern, role in ROLE_OF:
        if m in ("*", method) and re.search(pattern, path):
            return role
    raise AssertionError(f"{method} {path} has no role in ROLE_OF")


def routes() -> list[tuple[str, str, bool]]:
    spec = create_app(Settings()).openapi()
    return [(method.upper(), path, bool(op.get("security")))
            for path, ops in spec["paths"].items() for method, op in ops.items()]


ROUTES = routes()
SECURED = [(m, p) for m, p, secured in ROUTES if secured]


def test_every_route_is_public_on_purpose_or_needs_a_login() -> None:
    assert len(SECURED) >= 25
    unexpected = [(m, p) for m, p, secured in ROUTES if not secured and (m, p) not in PUBLIC]
    assert unexpected == []
    for method, path in SECURED:
        role_of(method, path)  # every secured route has its role


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] = {"text": "越权测试", "on": True, "to": "someone", "note": "n",
                            "rectification": "r", "mode": "open", "password": "p" * 12,
                            "roles": ["admin"], "id": "x1"}
    return client.request(method, concrete(path), headers=headers, json=body)


@pytest.fixture
def gw(gateway_with: MakeGateway) -> Any:
    gw = gateway_with()
    for name, roles in ACCOUNTS.items():
        gw.add_user(f"only-{name}", roles)
    return gw


@pytest.mark.parametrize(("method", "path"), SECURED)
def test_anonymous_and_wrong_roles_are_refused(gw: Any, method: str, path: str) -> None:
    needed = role_of(method, path)
    forged: tuple[dict[str, str], ...] = (
        {}, {"Authorization": "Bearer forged-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="})
    for headers in forged:
        resp = call(gw.client, method, path, headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.json()["error"]["code"] == "unauthorized"
    for name in ACCOUNTS:
        if needed in ("user", name):
            continue
        token = gw.login(f"only-{name}", PASSWORD)
        resp = call(gw.client, method, path, {"Authorization": f"Bearer {token}"})
        assert resp.status_code == 403, (name, resp.text)
        assert resp.json()["error"]["code"] == "forbidden"
    # Nobody became an admin or changed an account on the way.
    users = gw.client.get("/api/auth/users", headers=gw.auth(ADMIN[0])).json()
    assert sorted(u["username"] for u in users) == sorted([ADMIN[0], *[f"only-{n}" for n in ACCOUNTS]])
    assert all(u["roles"] == ACCOUNTS[u["username"][5:]] for u in users if u["username"] != ADMIN[0])


def test_an_agent_writes_notes_and_messages_only_into_conversations_they_hold(gw: Any) -> None:
    gw.add_user("xiaowang", ["agent"])
    gw.add_user("xiaoli", ["agent"])
    gw.add_user("xiaozhang", ["agent"])
    gw.chat("citizen", "转人工")
    assert gw.agent("POST", "/conversations/citizen/claim", "xiaowang").status_code == 200
    for path, body in (("/messages", {"text": "冒充的回复"}), ("/notes", {"text": "冒充的备注"}),
                       ("/close", None), ("/typing", {"on": True}), ("/transfer", {"to": "xiaozhang"})):
        resp = gw.agent("POST", f"/conversations/citizen{path}", "xiaoli", json=body)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_holder", (path, resp.text)
    conv = gw.agent("GET", "/conversations/citizen", "xiaowang").json()
    assert conv["agent"] == "xiaowang" and conv["notes"] == []
    assert not any(m["role"] == "agent" for m in conv["messages"])
    # An admin (supervisor) may step in with a note or a message.
    for path in ("/notes", "/messages"):
        resp = gw.agent("POST", f"/conversations/citizen{path}", ADMIN[0], json={"text": "督办"})
        assert resp.status_code == 200, resp.text


def test_bearer_tokens_are_stored_hashed(gw: Any) -> None:
    token = gw.login("only-agent", PASSWORD)
    redis = gw.xs.redis

    async def everything() -> str:
        dump = []
        async for key in redis.scan_iter("*"):
            kind = await redis.type(key)
            value = await redis.get(key) if kind == "string" else await redis.smembers(key) if kind == "set" \
                else await redis.hgetall(key) if kind == "hash" else ""
            dump.append(f"{key}={value}")
        return "\n".join(dump)

    stored = gw.client.portal.call(everything)  # on the app's event loop, which owns its client
    assert "xs:token:" in stored and token not in stored
    assert gw.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_docs_and_the_openapi_document_can_be_turned_off(redis_url: str) -> None:
    with TestClient(create_app(Settings(redis_url=redis_url, xs_api_docs=False))) as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404
    with TestClient(create_app(Settings(redis_url=redis_url))) as client:
        assert client.get("/openapi.json").status_code == 200


def test_the_agents_console_socket_refuses_foreign_origins(gw: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    token = gw.login("only-agent", PASSWORD)
    with pytest.raises(WebSocketDisconnect) as refused:
        with gw.client.websocket_connect("/api/agents/ws", headers={"Origin": "https://evil.example"}) as ws:
            ws.send_json({"type": "auth", "token": token})
            ws.receive_json()
    assert refused.value.code == 4403
    with gw.client.websocket_connect("/api/agents/ws", headers={"Origin": "http://testserver"}) as ws:
        ws.send_json({"type": "auth", "token": token})
        assert ws.receive_json()["type"] == "snapshot"
