"""The service figures from a known set of conversations driven through the gateway: answers, a
clarify, an out-of-scope, a handoff answered in 30 s and one in 90 s, a 差评 and its rectification,
a finished and an abandoned declaration — every figure asserted exactly; roles and CSV export.

The gateway is the real app on a real Redis and database; Rasa is scripted (tests/handoff/conftest.py)
so each turn's outcome is known. The handoff's clock is moved forward instead of waiting 90 s."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from typing import Any

import pytest

from connectors.gateway.handoff import service as handoff_service
from contract.turn import turn_block
from tests.handoff.conftest import ADMIN, Gateway, ScriptedRasa


class FiguresRasa(ScriptedRasa):
    """`Q <service> <section>` answers; `clarify`, `oos` and `decl <id> <status> [field]` are what
    they say; a request for a person hands off (ScriptedRasa)."""

    async def send(self, sender_id: str, message: str) -> list[dict[str, Any]]:
        words = message.split()
        if words[0] == "Q":
            block = turn_block(
                "answer", intent="ask_guide", confidence=0.9, service_id=words[1], section=words[2]
            )
        elif words[0] in ("clarify", "oos"):
            block = turn_block(
                "clarify" if words[0] == "clarify" else "out_of_scope",
                intent="ask_guide",
                confidence=0.4,
                candidates=["passport", "hk-macau-permit"],
            )
        elif words[0] == "decl":
            block = turn_block(
                "declaration",
                intent="declare",
                confidence=0.9,
                service_id="elder-allowance",
                declaration={
                    "id": words[1],
                    "status": words[2],
                    "field": words[3] if len(words) > 3 else None,
                    "ref": None,
                },
            )
        else:
            return await super().send(sender_id, message)
        self.calls.append((sender_id, message))
        return [{"text": f"小申：{message}"}, {"custom": {"turn": block}}]


class Clock:
    """The handoff service's `time` module, moved forward by hand."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(handoff_service, "time", fake)
    return fake


@pytest.fixture
def figures_gw(make_gateway: Callable[..., Gateway]) -> Gateway:
    gateway = make_gateway(rasa=FiguresRasa())
    gateway.add_user("xiaowang", ["agent"], display_name="小王")
    gateway.add_user("xiaoli", ["agent"], display_name="小李")
    gateway.add_user("jiandu", ["supervisor"])
    return gateway


def handoff(gw: Gateway, clock: Clock, sender: str, agent: str, reply_after_s: float, score: int) -> None:
    assert gw.chat(sender, "转人工")["turn"]["handoff"] == "queued"
    clock.offset += reply_after_s / 3
    assert gw.agent("POST", f"/conversations/{sender}/claim", agent).status_code == 200
    clock.offset += reply_after_s * 2 / 3
    sent = gw.agent("POST", f"/conversations/{sender}/messages", agent, json={"text": "您好"})
    assert sent.status_code == 200
    assert gw.agent("POST", f"/conversations/{sender}/close", agent).status_code == 200
    gw.chat(sender, f'/rate{{"score": {score}}}')


def wait_for(gw: Gateway, turns: int, rectified: int = 0) -> dict[str, Any]:
    """The summary once the events of our turns and rectifications are recorded (batched, ~0.5 s)."""
    deadline = time.monotonic() + 15
    while True:
        resp = gw.client.get("/api/stats/summary", headers={**gw.auth(ADMIN[0]), "Cache-Control": "no-cache"})
        assert resp.status_code == 200, resp.text
        s = resp.json()
        if (
            s["turns"] >= turns and s["ratings"]["rectification"]["closed"] >= rectified
        ) or time.monotonic() > deadline:
            return s  # type: ignore[no-any-return]
        time.sleep(0.2)


def test_figures_of_a_known_set_of_conversations(figures_gw: Gateway, clock: Clock) -> None:
    gw = figures_gw
    gw.chat("s-answer", "Q ent-setup materials")
    gw.chat("s-answer", "Q ent-setup time_limit")  # resolved
    gw.chat("s-clarify", "clarify")
    gw.chat("s-clarify", "Q passport fee")  # resolved after a clarify
    gw.chat("s-oos", "oos")  # not resolved
    gw.chat("s-again", "Q passport materials")
    gw.chat("s-again", "Q passport materials")  # asked again: not resolved
    handoff(gw, clock, "s-30", "xiaowang", 30, 5)
    handoff(gw, clock, "s-90", "xiaoli", 90, 1)  # a 差评
    for said in ("decl d1 asking consent", "decl d1 asking elder_name", "decl d1 confirming", "decl d1 done"):
        gw.chat("s-decl", said)  # resolved
    for said in ("decl d2 asking consent", "decl d2 cancelled"):
        gw.chat("s-quit", said)

    items = gw.client.get("/api/agents/followups", headers=gw.auth(ADMIN[0])).json()
    assert len(items) == 1
    rectified = gw.client.post(
        f"/api/agents/followups/{items[0]['id']}/rectify",
        headers=gw.auth(ADMIN[0]),
        json={"rectification": "已电话回访并更正答复"},
    )
    assert rectified.status_code == 200

    s = wait_for(gw, 17, rectified=1)
    assert s["turns"] == 17 and s["conversations"] == 8
    assert s["outcomes"] == {
        "answer": 5,
        "clarify": 1,
        "out_of_scope": 1,
        "handoff": 2,
        "smalltalk": 2,
        "declaration": 6,
    }
    assert s["resolution"] == {"conversations": 8, "resolved": 3, "rate": 0.375, "target": 0.8}
    assert (s["clarify_rate"], s["out_of_scope_rate"]) == (round(1 / 17, 4), round(1 / 17, 4))
    h = s["handoff"]
    assert (h["requests"], h["in_hours"], h["claimed"], h["answered"], h["closed"]) == (2, 2, 2, 2, 2)
    # The handoff's clock moved 30 s and 90 s; the test's own steps add a little real time.
    assert (h["first_response_p50_s"], h["first_response_p95_s"]) == (
        pytest.approx(30, abs=3),
        pytest.approx(90, abs=3),
    )
    assert (h["wait_p50_s"], h["wait_p95_s"]) == (pytest.approx(10, abs=3), pytest.approx(30, abs=3))
    assert (h["within_target"], h["within_target_share"]) == (1, 0.5)
    r = s["ratings"]
    assert r["by_score"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1} and r["bad"] == 1
    assert r["rectification"] == {"closed": 1, "open": 0, "overdue": 0, "deadline_days": 15}
    d = s["declarations"]
    assert (d["started"], d["finished"], d["cancelled"], d["abandoned"]) == (2, 1, 1, 1)
    assert {x["field"]: (x["reached"], x["stopped"]) for x in d["by_step"]} == {
        "consent": (2, 1),
        "elder_name": (1, 0),
    }

    table = gw.client.get("/api/stats/agents", headers=gw.auth("jiandu")).json()["rows"]
    agents = {a["agent"]: a for a in table}
    assert (
        agents["xiaowang"]["first_response_p50_s"] == pytest.approx(30, abs=3)
        and agents["xiaowang"]["bad"] == 0
    )
    assert (
        agents["xiaoli"]["first_response_p50_s"] == pytest.approx(90, abs=3) and agents["xiaoli"]["bad"] == 1
    )
    drill = gw.client.get(
        "/api/stats/conversations", params={"service_id": "passport"}, headers=gw.auth("jiandu")
    ).json()["rows"]
    assert {c["conversation"]: c["resolved"] for c in drill} == {"s-clarify": True, "s-again": False}

    exported = gw.client.get("/api/stats/services", params={"format": "csv"}, headers=gw.auth("jiandu"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = {r["service_id"]: r for r in csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")))}
    assert rows["passport"]["turns"] == "3" and rows["ent-setup"]["resolution_rate"] == "1.0"
    assert "护照" in rows["passport"]["title"]  # the guide's name, not only its id


def test_a_supervisor_sees_the_figures_and_changes_nothing(figures_gw: Gateway) -> None:
    gw = figures_gw
    assert gw.client.get("/api/stats/summary", headers=gw.auth("jiandu")).status_code == 200
    for method, path in (
        ("PUT", "/api/kb/guides/passport"),
        ("POST", "/api/agents/followups/F1/rectify"),
        ("PUT", "/api/auth/users/someone"),
        ("GET", "/api/kb/guides"),
    ):
        resp = gw.client.request(method, path, headers=gw.auth("jiandu"), json={})
        assert resp.status_code == 403, (path, resp.text)
    assert gw.client.get("/api/stats/summary").status_code == 401
    assert gw.client.get("/api/stats/summary", headers=gw.auth("xiaowang")).status_code == 403


def test_bad_periods_are_refused_in_both_languages(figures_gw: Gateway) -> None:
    gw = figures_gw
    for params in (
        {"start": "2026-12-05"},
        {"start": "2026-12-05", "end": "2026-12-01"},
        {"start": "2020-01-01", "end": "2026-12-01"},
    ):
        resp = gw.client.get("/api/stats/summary", params=params, headers=gw.auth("jiandu"))
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_period", resp.text
    resp = gw.client.get("/api/stats/summary", params={"grain": "year"}, headers=gw.auth("jiandu"))
    assert resp.status_code == 422


def test_a_supervisor_reads_a_conversation_of_the_drill_down_masked(figures_gw: Gateway) -> None:
    gw = figures_gw
    gw.chat("s-pii", "我的身份证号是310101199001011234，手机13912345678，公司怎么开")
    resp = gw.client.get("/api/stats/conversations/s-pii/messages", headers=gw.auth("jiandu"))
    assert resp.status_code == 200, resp.text
    said = resp.json()["messages"][0]["text"]
    assert "310101199001011234" not in said and "13912345678" not in said and "公司怎么开" in said
    missing = gw.client.get("/api/stats/conversations/nobody/messages", headers=gw.auth("jiandu"))
    assert missing.status_code == 404 and "保留期" in missing.json()["error"]["message"]


def test_a_transfer_is_recorded_as_a_handoff_step(figures_gw: Gateway) -> None:
    from sqlalchemy import select

    from records.models import EventRow

    gw = figures_gw
    gw.chat("s-transfer", "转人工")
    assert gw.agent("POST", "/conversations/s-transfer/claim", "xiaowang").status_code == 200
    moved = gw.agent("POST", "/conversations/s-transfer/transfer", "xiaowang", json={"to": "xiaoli"})
    assert moved.status_code == 200, moved.text
    db = gw.xs.guides.db
    deadline = time.monotonic() + 5
    kinds: list[str] = []
    while time.monotonic() < deadline and "handoff_transferred" not in kinds:
        with db.engine.connect() as conn:
            kinds = list(
                conn.execute(select(EventRow.kind).where(EventRow.conversation == "s-transfer")).scalars()
            )
        time.sleep(0.1)
    assert sorted(kinds) == ["handoff_claimed", "handoff_requested", "handoff_transferred", "turn"]
