"""With Redis down, every route that needs it answers 503 with the error shape (never a 500).

The routes come from the app's own OpenAPI document, so a route added later is covered without
editing this test; the signed-in user is stubbed so the route's own Redis work is what fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.auth import ROLES, Principal
from connectors.gateway.deps import current_user
from connectors.gateway.settings import Settings
from tests.dog_guide import dog_license_sections
from tools.stack import free_port

# Routes that need no Redis, each with its reason.
NO_REDIS = {
    ("GET", "/health"),  # reports the outage itself (tested in tests/integration)
    ("GET", "/health/live"),  # this process serves: the load balancer keeps it in rotation
    ("GET", "/api/agents/canned"),  # the canned replies file
    ("GET", "/wechat/miniprogram"), ("POST", "/wechat/miniprogram"),  # not configured here: 503 of its own
    ("GET", "/guides/{guide_id}"),  # the public page of a seed guide reads the files
    ("GET", "/api/auth/me"),  # the signed-in user (stubbed here) as it is
    ("GET", "/api/declarations/{ref}"),  # looks the record up in the database first (test_declarations.py)
    # The guides of record are in the database: editors read, draft and review without Redis;
    # only publishing needs the live channel (test_with_redis_down_editors_still_draft_…).
    ("GET", "/api/kb/guides"), ("GET", "/api/kb/guides/{guide_id}"), ("GET", "/api/kb/export"),
    ("POST", "/api/kb/guides/{guide_id}/drafts"), ("PUT", "/api/kb/guides/{guide_id}/drafts/{number}"),
    ("POST", "/api/kb/guides/{guide_id}/versions/{number}/submit"),
    ("POST", "/api/kb/guides/{guide_id}/versions/{number}/reject"),
    ("PATCH", "/api/kb/guides/{guide_id}/owner"), ("GET", "/api/kb/guides/{guide_id}/history"),
    ("GET", "/api/kb/guides/{guide_id}/versions/{number}"), ("GET", "/api/kb/guides/{guide_id}/diff"),
    ("GET", "/api/kb/review"), ("GET", "/api/kb/audit"), ("GET", "/api/kb/digest"),
    ("GET", "/api/kb/inbox"), ("GET", "/api/kb/inbox/{group_id}"), ("POST", "/api/kb/inbox/merge"),
    ("POST", "/api/kb/inbox/{group_id}/drafted"), ("GET", "/api/kb/synonyms"),
    # The service figures are computed from the events in the database (tests/handoff/test_stats_flow.py).
    *(("GET", f"/api/stats/{name}") for name in ("summary", "daily", "channels", "services", "agents",
                                                 "conversations")),
}
PREFIXES = ("/api/", "/guides/", "/wechat/")


def _example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A value valid for a JSON schema of our request models (enough of the schema for them)."""
    if "$ref" in schema:
        return _example(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]], spec)
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return _example(schema[union][0], spec)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _example(props[name], spec) for name in schema.get("required", props)}
    if kind == "array":
        return [_example(schema.get("items", {"type": "string"}), spec)] if schema.get("minItems") else []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if schema.get("pattern") == r"^[a-z0-9][a-z0-9-]{1,63}$":
        return "dog-license"  # a guide id
    if schema.get("format") == "date-time":
        return "2026-12-01T09:00:00+08:00"
    return "测试-a1" * max(1, int(schema.get("minLength", 1)))


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    app = create_app(Settings())
    spec = app.openapi()
    ops = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if path.startswith(PREFIXES) and (method.upper(), path) not in NO_REDIS:
                ops.append((method.upper(), path, {"op": op, "spec": spec}))
    return ops


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    db = tmp_path_factory.mktemp("outage-db") / "records.db"
    app = create_app(Settings(redis_url=dead, rasa_url="http://127.0.0.1:9", actions_url="http://127.0.0.1:9",
                              xs_database_url=f"sqlite:///{db}"))
    app.dependency_overrides[current_user] = lambda: Principal("admin", frozenset(ROLES))
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "info"), _operations(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_route_answers_503_with_the_error_shape(client: TestClient, method: str, path: str,
                                                      info: dict[str, Any]) -> None:
    guide_id = "ent-setup" if path.endswith("/revert") else "dog-license"  # revert needs a seed file
    for name, value in (("{guide_id}", guide_id), ("{number}", "1"), ("{group_id}", "1")):
        path = path.replace(name, value)
    url = path.replace("{", "").replace("}", "")
    content = info["op"].get("requestBody", {}).get("content", {})
    kwargs: dict[str, Any] = {}
    if "application/json" in content:
        kwargs["json"] = _example(content["application/json"]["schema"], info["spec"])
    elif "application/x-www-form-urlencoded" in content:
        kwargs["data"] = {"username": "admin", "password": "whatever-123"}
    elif path.startswith("/api/kb/") and method in ("PUT", "POST"):
        guide = {"id": "dog-license", "title": "养犬登记证办理", "sections": dog_license_sections("免费。"),
                 "source": "test", "reviewed": "2026-11-21"}
        kwargs["json"] = [guide] if path.endswith("/import") else guide
    if path.startswith("/api/auth/users/") and method == "PUT":
        kwargs["json"] = {"password": "agent-pass-123", "roles": ["agent"]}
    resp = client.request(method, url, headers={"Authorization": "Bearer some-token"}, **kwargs)
    assert resp.status_code == 503, resp.text
    error = resp.json()["error"]
    assert error["code"] == "redis_unavailable" and "Redis" in error["message"]


def test_with_redis_down_editors_still_read_and_draft_but_nothing_is_published(client: TestClient) -> None:
    seed = client.get("/api/kb/guides/elder-allowance", headers={"Authorization": "Bearer t"})
    assert seed.status_code == 200
    body = {**seed.json(), "sections": {**seed.json()["sections"], "fee": "免费（停电演练）。"}}
    made = client.post("/api/kb/guides/elder-allowance/drafts", headers={"Authorization": "Bearer t"},
                       json={"guide": body, "note": "Redis 停机时写草稿", "base": 1})
    assert made.status_code == 201, made.text
    refused = client.put("/api/kb/guides/elder-allowance", json=body, headers={"Authorization": "Bearer t"})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "redis_unavailable"
    history = client.get("/api/kb/guides/elder-allowance/history", headers={"Authorization": "Bearer t"})
    assert [(v["number"], v["state"]) for v in history.json()] == [(2, "draft"), (1, "published")]
