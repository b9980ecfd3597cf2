"""Synonyms and out-of-scope marks through the real gateway app (real Redis, SQLite of record).

What an editor notices: a synonym group is saved, listed, changed and removed, and each change
reaches the live channel the action servers read (`xs:kb:rules`); a bad group is refused with
every reason in Chinese and English and nothing is stored; marking an inbox group out of scope
puts its questions on the live channel, reopening takes them off. The chat side (the bot answering
with the synonym, declining the marked question) is in tests/integration/test_editors.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from knowledge_base.overlay import KEY_RULES
from tests.gateway.conftest import ADMIN, login


@pytest.fixture
def kb_client(kb_client_both: TestClient) -> TestClient:
    return kb_client_both  # SQLite and PostgreSQL


@pytest.fixture
def admin(kb_client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(kb_client, *ADMIN)}"}


def live_rules(redis_url: str) -> dict[str, Any]:
    raw = redis.Redis.from_url(redis_url).get(KEY_RULES)
    return json.loads(raw) if raw else {"synonyms": [], "out_of_scope": []}  # type: ignore[no-any-return]


def test_a_synonym_group_goes_live_and_comes_off_again(kb_client: TestClient, admin: dict[str, str],
                                                       redis_url: str) -> None:
    resp = kb_client.post("/api/kb/synonyms", headers=admin,
                          json={"terms": ["小牌", "非营业性客车额度"], "note": "市民口语"})
    assert resp.status_code == 201, resp.text
    group = resp.json()
    assert group["terms"] == ["小牌", "非营业性客车额度"] and group["created_by"] == ADMIN[0]
    assert live_rules(redis_url)["synonyms"] == [["小牌", "非营业性客车额度"]]

    resp = kb_client.put(f"/api/kb/synonyms/{group['id']}", headers=admin,
                         json={"terms": ["小牌", "沪牌额度", "非营业性客车额度"]})
    assert resp.status_code == 200
    listed = kb_client.get("/api/kb/synonyms", headers=admin).json()
    assert [g["terms"] for g in listed["groups"]] == [["小牌", "沪牌额度", "非营业性客车额度"]]
    assert live_rules(redis_url)["synonyms"] == [["小牌", "沪牌额度", "非营业性客车额度"]]

    assert kb_client.delete(f"/api/kb/synonyms/{group['id']}", headers=admin).status_code == 200
    assert live_rules(redis_url)["synonyms"] == []
    audit = kb_client.get("/api/kb/audit", headers=admin).json()["entries"]
    assert [e["action"] for e in audit if e["action"].startswith("synonyms")] == [
        "synonyms_add", "synonyms_update", "synonyms_delete"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"terms": ["小牌"]}, 422, "invalid_synonyms"),
    ({"terms": ["小牌", "<img src=x onerror=alert(1)>"]}, 422, "invalid_synonyms"),
    ({"terms": []}, 422, "invalid_request"),
    ({"terms": "小牌,沪牌"}, 422, "invalid_request"),
])
def test_a_bad_group_is_refused_and_nothing_is_stored(kb_client: TestClient, admin: dict[str, str],
                                                     redis_url: str, body: dict[str, Any], status: int,
                                                     code: str) -> None:
    resp = kb_client.post("/api/kb/synonyms", headers=admin, json=body)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and " / " in error["message"]
    assert kb_client.get("/api/kb/synonyms", headers=admin).json()["count"] == 0
    assert live_rules(redis_url)["synonyms"] == []


def test_a_term_in_two_groups_is_a_conflict(kb_client: TestClient, admin: dict[str, str]) -> None:
    first = kb_client.post("/api/kb/synonyms", headers=admin, json={"terms": ["沪牌", "非营业性客车额度"]})
    resp = kb_client.post("/api/kb/synonyms", headers=admin, json={"terms": ["沪牌", "上海牌照"]})
    assert resp.status_code == 409
    assert resp.json()["error"]["detail"] == {"group": first.json()["id"]}
    assert kb_client.delete("/api/kb/synonyms/999", headers=admin).status_code == 404


def test_marking_an_inbox_group_out_of_scope_puts_it_live(kb_client: TestClient, admin: dict[str, str],
                                                         redis_url: str) -> None:
    inbox = kb_client.app.state.xs.inbox  # type: ignore[attr-defined]
    gid = inbox.record("出版物经营许可证怎么办理", "out_of_scope")
    resp = kb_client.post(f"/api/kb/inbox/{gid}/out-of-scope", headers=admin)
    assert resp.status_code == 200 and resp.json()["status"] == "out_of_scope"
    assert live_rules(redis_url)["out_of_scope"] == ["出版物经营许可证怎么办理"]
    assert kb_client.post(f"/api/kb/inbox/{gid}/reopen", headers=admin).json()["status"] == "open"
    assert live_rules(redis_url)["out_of_scope"] == []
