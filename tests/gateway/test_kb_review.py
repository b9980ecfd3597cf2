"""Drafts, review, history and audit through the real gateway app (real Redis, SQLite of record).

What editors and reviewers notice: a draft changes nothing citizens see; nobody approves their
own version; a save from an outdated version is refused with what changed; every version stays
with its note; rollback, unpublish and scheduled publishing do what they say; the audit log has
every write and login and exports as CSV a spreadsheet will not execute.
The same repository runs on PostgreSQL in tests/records/test_guide_repository.py; the chat side
(a publish answered within a second) in tests/integration/test_editors.py.
"""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import ADMIN, SEED_ID, login

PASSWORD = "editor-secret-123"


@pytest.fixture
def client(kb_client_both: TestClient) -> TestClient:
    return kb_client_both  # SQLite and PostgreSQL


class Person:
    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        self.name = username
        password = ADMIN[1] if username == ADMIN[0] else PASSWORD
        self.headers = {"Authorization": f"Bearer {login(client, username, password)}"}

    def __call__(self, method: str, path: str, **kw: Any) -> Any:
        return self.client.request(method, "/api/kb" + path, headers=self.headers, **kw)


@pytest.fixture
def people(client: TestClient) -> dict[str, Person]:
    admin = Person(client, ADMIN[0])
    for name, roles in (("ed", ["editor"]), ("bo", ["editor"]), ("rev", ["editor", "reviewer"])):
        resp = client.put(f"/api/auth/users/{name}", headers=admin.headers,
                          json={"password": PASSWORD, "roles": roles})
        assert resp.status_code in (200, 201), resp.text
    return {"admin": admin, **{n: Person(client, n) for n in ("ed", "bo", "rev")}}


@pytest.fixture
def seed(people: dict[str, Person]) -> dict[str, Any]:
    resp = people["ed"]("GET", f"/guides/{SEED_ID}")
    assert resp.status_code == 200 and resp.headers["etag"] == '"1"'
    return resp.json()  # type: ignore[no-any-return]


def changed(seed: dict[str, Any], materials: str = "- 老人本人身份证\n- 户口簿") -> dict[str, Any]:
    body = copy.deepcopy(seed)
    body["sections"]["materials"] = materials
    return body


def draft(person: Person, body: dict[str, Any], note: str = "按新规调整材料", base: int | None = 1) -> Any:
    return person("POST", f"/guides/{body['id']}/drafts", json={"guide": body, "note": note, "base": base})


def test_a_draft_is_published_only_after_another_person_approves_it(
        people: dict[str, Person], seed: dict[str, Any], client: TestClient) -> None:
    ed, rev = people["ed"], people["rev"]
    made = draft(ed, changed(seed))
    assert made.status_code == 201, made.text
    assert made.json()["number"] == 2 and made.json()["state"] == "draft"
    # Citizens and the contract's GET still see version 1.
    assert ed("GET", f"/guides/{SEED_ID}").json()["sections"]["materials"] == seed["sections"]["materials"]
    assert "老人本人身份证" not in client.get(f"/guides/{SEED_ID}").text
    listed = {g["id"]: g for g in ed("GET", "/guides").json()["guides"]}[SEED_ID]
    assert listed["open_drafts"] == 1 and listed["version"] == 2 and listed["published_version"] == 1
    assert ed("POST", f"/guides/{SEED_ID}/versions/2/approve", json={}).status_code == 403  # not a reviewer
    assert ed("POST", f"/guides/{SEED_ID}/versions/2/submit").json()["state"] == "submitted"
    queue = rev("GET", "/review").json()
    assert queue["count"] == 1 and [c["label"] for c in queue["items"][0]["changes"]] == ["办理材料"]
    # A reviewer may not approve what they wrote themselves.
    own = people["rev"]("POST", f"/guides/{SEED_ID}/drafts",
                        json={"guide": changed(seed, "- 身份证"), "note": "审核人自己改", "base": 2})
    assert own.status_code == 201
    rev("POST", f"/guides/{SEED_ID}/versions/3/submit")
    refused = rev("POST", f"/guides/{SEED_ID}/versions/3/approve", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "same_reviewer"
    rev("POST", f"/guides/{SEED_ID}/versions/3/reject", json={"comment": "先发布第 2 版"})
    ok = rev("POST", f"/guides/{SEED_ID}/versions/2/approve", json={"comment": "核对无误"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == "published" and ok.json()["reviewer"] == "rev"
    assert ed("GET", f"/guides/{SEED_ID}").json()["sections"]["materials"] == "- 老人本人身份证\n- 户口簿"
    page = client.get(f"/guides/{SEED_ID}").text
    assert "老人本人身份证" in page and "第 2 版" in page
    history = ed("GET", f"/guides/{SEED_ID}/history").json()
    assert [(v["number"], v["state"]) for v in history] == [
        (3, "rejected"), (2, "published"), (1, "superseded")]
    assert history[1]["note"] == "按新规调整材料" and history[1]["author"] == "ed"
    assert history[0]["review_comment"] == "先发布第 2 版"


def test_a_draft_from_an_outdated_version_is_a_conflict_with_what_changed(
        people: dict[str, Person], seed: dict[str, Any]) -> None:
    assert draft(people["ed"], changed(seed, "- 身份证原件")).status_code == 201
    late = draft(people["bo"], changed(seed, "- 户口簿原件"), note="我也改了材料")
    assert late.status_code == 409
    err = late.json()["error"]
    assert err["code"] == "version_conflict" and err["detail"]["current"] == 2
    assert err["detail"]["changed_by"] == "ed"
    assert err["detail"]["changes"][0]["label"] == "办理材料"
    assert err["detail"]["changes"][0]["after"] == "- 身份证原件"
    assert "在您编辑期间已更新" in err["message"] and "changed meanwhile" in err["message"]
    v2 = people["ed"]("GET", f"/guides/{SEED_ID}/versions/2").json()
    assert v2["guide"]["sections"]["materials"] == "- 身份证原件"  # nothing overwritten


def test_a_bad_draft_is_refused_field_by_field_and_a_note_is_required(
        people: dict[str, Person], seed: dict[str, Any]) -> None:
    bad = changed(seed, "")
    bad["reviewed"] = "not-a-date"
    resp = draft(people["ed"], bad)
    assert resp.status_code == 422
    fields = {f["field"] for f in resp.json()["error"]["fields"]}
    assert {"guide.sections.materials", "guide.reviewed"} <= fields
    no_note = draft(people["ed"], changed(seed), note="  ")
    assert no_note.status_code == 422 and no_note.json()["error"]["code"] == "note_required"
    no_base = draft(people["ed"], changed(seed), base=None)
    assert no_base.status_code == 428 and no_base.json()["error"]["code"] == "base_required"
    shape = people["ed"]("POST", f"/guides/{SEED_ID}/drafts", json=[1, 2])
    assert shape.status_code == 422 and "草稿" in shape.json()["error"]["message"]
    assert [v["number"] for v in people["ed"]("GET", f"/guides/{SEED_ID}/history").json()] == [1]


def test_scheduled_rollback_and_unpublish(people: dict[str, Person], seed: dict[str, Any],
                                          client: TestClient) -> None:
    ed, rev = people["ed"], people["rev"]
    draft(ed, changed(seed))
    ed("POST", f"/guides/{SEED_ID}/versions/2/submit")
    later = rev("POST", f"/guides/{SEED_ID}/versions/2/approve",
                json={"effective_at": "2099-01-01T00:00:00"})  # Shanghai time
    assert later.json()["state"] == "scheduled"
    assert later.json()["effective_at"].startswith("2098-12-31T16:00")  # stored in UTC
    assert ed("GET", f"/guides/{SEED_ID}").json()["sections"]["materials"] == seed["sections"]["materials"]
    diff = ed("GET", f"/guides/{SEED_ID}/diff", params={"from": 1, "to": 2}).json()
    assert diff["changes"][0]["before"] == seed["sections"]["materials"]
    gone = rev("POST", f"/guides/{SEED_ID}/unpublish", json={"note": "政策暂停执行"})
    assert gone.json()["status"] == "unpublished"
    assert ed("GET", f"/guides/{SEED_ID}").status_code == 404
    assert client.get(f"/guides/{SEED_ID}").status_code == 404
    empty = rev("POST", f"/guides/{SEED_ID}/rollback", json={"number": 1, "note": ""})
    assert empty.status_code == 422
    back = rev("POST", f"/guides/{SEED_ID}/rollback", json={"number": 1, "note": "恢复发布"})
    assert back.status_code == 200 and back.json()["number"] == 3 and back.json()["state"] == "published"
    assert ed("GET", f"/guides/{SEED_ID}").json() == seed


def test_owner_and_review_interval_flag_a_stale_guide(people: dict[str, Person],
                                                     seed: dict[str, Any]) -> None:
    resp = people["rev"]("PATCH", f"/guides/{SEED_ID}/owner",
                         json={"owner_department": "市民政局", "review_interval_days": 1})
    assert resp.status_code == 200 and resp.json()["stale"] is True  # reviewed long before yesterday
    listed = {g["id"]: g for g in people["ed"]("GET", "/guides").json()["guides"]}
    assert listed[SEED_ID]["stale"] and listed[SEED_ID]["owner_department"] == "市民政局"
    assert listed["hpf-withdraw-rent"]["owner_department"] == ""


def test_the_audit_log_has_every_write_and_login_and_exports_as_safe_csv(
        people: dict[str, Person], seed: dict[str, Any]) -> None:
    draft(people["ed"], changed(seed), note="=HYPERLINK(\"http://evil\")")
    resp = people["ed"]("GET", "/audit")
    assert resp.status_code == 403  # editors do not read the audit log
    entries = people["rev"]("GET", "/audit").json()["entries"]
    actions = [(e["actor"], e["action"]) for e in entries]
    assert ("seed", "seed") in actions and ("ed", "login") in actions and ("ed", "draft") in actions
    exported = people["rev"]("GET", "/audit", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][0].startswith("时间")
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert any("HYPERLINK" in cell for row in rows for cell in row)


def test_the_public_guide_page_shows_the_official_text_not_the_search_aliases(
        client: TestClient, seed: dict[str, Any]) -> None:
    page = client.get(f"/guides/{SEED_ID}").text
    assert seed["title"] in page and "第 1 版" in page and seed["reviewed"] in page
    assert not any(alias in page for alias in seed["aliases"] if alias not in seed["title"]
                   and alias not in str(seed["sections"]))


def test_the_inbox_groups_questions_and_an_attached_one_becomes_a_sample_question(
        people: dict[str, Person], seed: dict[str, Any], client: TestClient) -> None:
    inbox = client.app.state.xs.inbox  # type: ignore[attr-defined]
    first = inbox.record("老人津贴每个月几号发到卡上", "low_confidence", channel="web", sender_id="c1")
    assert inbox.record("老人津贴每个月几号发", "clarify", channel="wechat", sender_id="c2") == first
    other = inbox.record("帮我订一张去北京的火车票", "out_of_scope", channel="web", sender_id="c3")
    listed = people["ed"]("GET", "/inbox").json()
    assert [g["count"] for g in listed["groups"]] == [2, 1]
    assert listed["groups"][0]["reasons"] == {"low_confidence": 1, "clarify": 1}
    attached = people["ed"]("POST", f"/inbox/{first}/attach", json={"guide_id": SEED_ID})
    assert attached.status_code == 200, attached.text
    assert set(attached.json()["added"]) == {"老人津贴每个月几号发到卡上", "老人津贴每个月几号发"}
    guide = people["ed"]("GET", f"/guides/{SEED_ID}").json()
    assert "老人津贴每个月几号发" in guide["sample_questions"]
    assert people["ed"]("GET", f"/guides/{SEED_ID}/history").json()[0]["note"].startswith("收件箱问题组")
    assert people["ed"]("POST", f"/inbox/{other}/out-of-scope").json()["status"] == "out_of_scope"
    assert people["ed"]("GET", "/inbox").json()["count"] == 0
    assert people["ed"]("GET", "/inbox", params={"status": "out_of_scope"}).json()["count"] == 1
    missing = people["ed"]("POST", "/inbox/999/out-of-scope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "inbox_not_found"
    actions = {e["action"] for e in people["rev"]("GET", "/audit").json()["entries"]}
    assert {"inbox_attach", "inbox_out_of_scope"} <= actions


@pytest.mark.parametrize(("text", "outcome", "confidence", "reason"), [
    ("帮我订火车票", "out_of_scope", 0.0, "out_of_scope"),
    ("那个证怎么办", "clarify", 0.4, "clarify"),
    ("公积金怎么提", "answer", 0.3, "low_confidence"),
    ("不对，我问的是公积金", "answer", 0.9, "correction"),
    ("公积金怎么提", "answer", 0.9, None),
    ("/ask_human", "handoff", 1.0, None),
])
def test_which_turns_go_to_the_inbox(text: str, outcome: str, confidence: float, reason: str | None) -> None:
    from connectors.gateway.inbox_hook import reason_of
    from contract.turn import ChatReply, Turn

    turn = Turn.model_validate({"outcome": outcome, "confidence": confidence})
    reply = ChatReply(sender_id="s", messages=[], turn=turn)
    assert reason_of(text, reply, 0.5) == reason
