"""GET /api/declarations/{ref}: the record for its own conversation or an agent, nobody else.

An in-process gateway on a real Redis (the handoff tests' factory) and a real SQLite database of
record holding one submitted declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from records.db import Database
from records.declarations import DeclarationDraft, SqlDeclarationStore
from tests.handoff.conftest import Gateway, make_gateway, settings

__all__ = ["make_gateway", "settings"]


@pytest.fixture
def gw_and_ref(make_gateway: Callable[..., Gateway], tmp_path: Path) -> tuple[Gateway, str, str]:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    db = Database(url)
    db.migrate()
    gw = make_gateway(xs_database_url=url)
    gw.add_user("xiaowang", ["agent"])
    gw.add_user("bianji", ["editor"])
    owner = "web-decl-owner"
    token = gw.chat(owner, "你好")["conversation_token"]
    draft = DeclarationDraft(declaration_id="elder-allowance", service_id="elder-allowance", sender_id=owner,
                             resume_code="QWE234", status="asking",
                             checklist=[{"name": "老人本人有效身份证件", "why": "核验身份", "exempt": False}],
                             application=[{"key": "name", "label": "姓名", "value": "王建国",
                                           "source": "user", "record": None}])
    ref = SqlDeclarationStore(db).submit(draft)
    return gw, ref, token


def test_the_owning_conversation_reads_its_record(gw_and_ref: tuple[Gateway, str, str]) -> None:
    gw, ref, token = gw_and_ref
    resp = gw.client.get(f"/api/declarations/{ref}", headers={"X-Conversation-Token": token})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["ref"] == ref and body["title"] == "老年综合津贴申领"
    assert body["checklist"][0]["name"] == "老人本人有效身份证件"
    assert body["application"][0]["source"] == "user"


def test_anyone_else_is_refused_and_an_agent_may_read(gw_and_ref: tuple[Gateway, str, str]) -> None:
    gw, ref, _token = gw_and_ref
    assert gw.client.get(f"/api/declarations/{ref}").status_code == 403  # no token at all
    raw = gw.client.get(f"/api/declarations/{ref}", headers={"X-Conversation-Token": "someone-elses"})
    assert raw.status_code == 403 and raw.json()["error"]["code"] == "conversation_forbidden"
    assert gw.client.get(f"/api/declarations/{ref}", headers=gw.auth("bianji")).status_code == 403
    agent = gw.client.get(f"/api/declarations/{ref}", headers=gw.auth("xiaowang"))
    assert agent.status_code == 200 and agent.json()["ref"] == ref


def test_unknown_and_malformed_references(gw_and_ref: tuple[Gateway, str, str]) -> None:
    gw, _ref, _token = gw_and_ref
    unknown = gw.client.get("/api/declarations/XS20200101-ABCDEF")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "declaration_not_found"
    bad = gw.client.get("/api/declarations/<script>")
    assert bad.status_code in (404, 422) and "error" in bad.json()


def test_the_print_page_holds_no_data_and_allows_only_its_own_script(
        gw_and_ref: tuple[Gateway, str, str]) -> None:
    gw, ref, _token = gw_and_ref
    page = gw.client.get(f"/declarations/{ref}")
    assert page.status_code == 200 and "王建国" not in page.text and ref not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert gw.client.get("/declarations/static/print.js").status_code == 200


def test_an_agent_sees_the_unfinished_declaration_and_hands_it_back(
        make_gateway: Callable[..., Gateway], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    db = Database(url)
    db.migrate()
    gw = make_gateway(xs_database_url=url)
    gw.add_user("xiaowang", ["agent"])
    user = "web-decl-midway"
    gw.chat(user, "你好")
    SqlDeclarationStore(db).save(DeclarationDraft(
        declaration_id="elder-allowance", service_id="elder-allowance", sender_id=user, resume_code="MID234",
        status="paused", answers={"consent": "no", "applicant_role": "agent", "elder_name": "王建国"},
        progress={"id": "elder-allowance", "status": "paused", "provenance": {
            "elder_name": {"source": "user", "record": None}}}))
    gw.chat(user, "转人工")
    assert gw.agent("POST", f"/conversations/{user}/claim", "xiaowang").status_code == 200
    conv = gw.agent("GET", f"/conversations/{user}", "xiaowang").json()
    decl = conv["declaration"]
    assert decl["title"] == "老年综合津贴申领" and decl["resume_code"] == "MID234"
    assert {"label": "老人姓名", "value": "王建国"}.items() <= next(
        a for a in decl["answers"] if a["field"] == "elder_name").items()
    assert "代办人本人有效身份证件" in {m["name"] for m in decl["checklist"]}  # 代办 was answered
    assert gw.agent("POST", f"/conversations/{user}/close", "xiaowang").status_code == 200
    last = gw.messages(user)[-1]
    assert "继续申报" in [b["payload"] for b in last["buttons"]] and "老年综合津贴" in last["text"]
