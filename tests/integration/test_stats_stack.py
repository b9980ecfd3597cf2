"""The service figures of record from a known set of conversations through the real stack (Rasa's
NLU, the action server, the gateway, Redis and the database): the day's figures move by exactly
what these conversations did — guide answers, an out-of-scope question, a handoff a 店小二 answers,
a 差评 and its rectification, a finished and a cancelled declaration.

The stack is shared with other test modules, so the figures are compared before and after."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import TEST_ADMIN
from tools.chat_client import with_tokens
from tools.stack import Stack

pytestmark = pytest.mark.stack
AGENT = ("stats-agent", "stats-agent-pass")
ELDER = ("王建国", "310101195205121074")  # fictional, in declarations/citizen_data/citizens.yaml
FINISHED = (
    "帮我申报老年综合津贴",
    "不同意",
    "子女或他人代办",
    ELDER[0],
    ELDER[1],
    "汉族",
    "是",
    "上海市黄浦区顺昌路412弄17号302室",
    "是",
    "13900001001",
    "社保卡",
    "王小明",
    "110105198001010016",
    "确认提交",
)


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as client:
        token = client.post("/api/auth/login", data={"username": TEST_ADMIN[0], "password": TEST_ADMIN[1]})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        resp = client.put(f"/api/auth/users/{AGENT[0]}", json={"password": AGENT[1], "roles": ["agent"]})
        assert resp.status_code in (200, 201), resp.text
        hours = redis.Redis.from_url(stack.effective_redis_url)
        hours.set("xs:ho:hours_override", "open")
        yield client
        hours.delete("xs:ho:hours_override")


class Citizen:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.sender = f"stats-{uuid.uuid4().hex[:10]}"
        self.turns: list[dict[str, Any]] = []

    def say(self, text: str) -> dict[str, Any]:
        resp = self.client.post(
            "/api/chat", json={"sender_id": self.sender, "message": text, "channel": "web"}
        )
        assert resp.status_code == 200, resp.text
        self.turns.append(resp.json()["turn"])
        return self.turns[-1]  # type: ignore[no-any-return]


def summary(client: httpx.Client) -> dict[str, Any]:
    resp = client.get("/api/stats/summary", headers={"Cache-Control": "no-cache"})  # today as of now
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_the_day_s_figures_move_by_exactly_what_a_known_set_of_conversations_did(admin: httpx.Client) -> None:
    time.sleep(1.5)  # events of earlier tests still in a gateway's buffer land first (flushed every 0.5 s)
    before = summary(admin)
    with with_tokens(httpx.Client(base_url=admin.base_url, timeout=60)) as citizens:
        answered = Citizen(citizens)
        assert answered.say("开公司要带什么材料")["service_id"] == "ent-setup"
        assert answered.say("多久能办好")["section"] == "time_limit"
        elsewhere = Citizen(citizens)
        assert elsewhere.say("帮我订一张去北京的机票")["outcome"] == "out_of_scope"
        helped = Citizen(citizens)
        assert helped.say("帮我转人工客服")["handoff"] == "queued"
        agent = {
            "Authorization": "Bearer "
            + admin.post("/api/auth/login", data={"username": AGENT[0], "password": AGENT[1]}).json()[
                "access_token"
            ]
        }
        base = f"/api/agents/conversations/{helped.sender}"
        assert admin.post(base + "/claim", headers=agent).status_code == 200
        assert (
            admin.post(base + "/messages", headers=agent, json={"text": "您好，我是店小二"}).status_code
            == 200
        )
        assert admin.post(base + "/close", headers=agent).status_code == 200
        helped.say('/rate{"score": 1}')
        declared, quit = Citizen(citizens), Citizen(citizens)
        for said in FINISHED:
            declared.say(said)
        assert declared.turns[-1]["declaration"]["status"] == "done"
        for said in ("帮我申报老年综合津贴", "不同意", "取消申报"):
            quit.say(said)
        assert quit.turns[-1]["declaration"]["status"] == "cancelled"
    items = [i for i in admin.get("/api/agents/followups").json() if i["sender_id"] == helped.sender]
    assert len(items) == 1
    assert (
        admin.post(
            f"/api/agents/followups/{items[0]['id']}/rectify", json={"rectification": "已回访并更正"}
        ).status_code
        == 200
    )

    ours = [answered, elsewhere, helped, declared, quit]
    turns = sum(len(c.turns) for c in ours)
    deadline = time.monotonic() + 20

    def rectified(s: dict[str, Any]) -> int:
        return int(s["ratings"]["rectification"]["closed"])

    # Events are recorded in batches (~0.5 s): wait for ours.
    while (after := summary(admin))["turns"] - before["turns"] < turns or rectified(after) <= rectified(
        before
    ):
        assert time.monotonic() < deadline, (after["turns"], before["turns"], turns)
        time.sleep(0.5)

    def moved(*path: str) -> Any:
        a: Any = after
        b: Any = before
        for key in path:
            a, b = a[key], b[key]
        return a - b

    outcomes = Counter(t["outcome"] for c in ours for t in c.turns)
    assert after["turns"] - before["turns"] == turns
    assert {o: moved("outcomes", o) for o in after["outcomes"]} == {o: outcomes[o] for o in after["outcomes"]}
    assert moved("conversations") == len(ours)
    assert moved("resolution", "resolved") == 2  # the answered one and the finished declaration
    assert (
        moved("handoff", "requests"),
        moved("handoff", "claimed"),
        moved("handoff", "answered"),
        moved("handoff", "closed"),
    ) == (1, 1, 1, 1)
    assert after["handoff"]["first_response_p50_s"] is not None
    assert moved("ratings", "by_score", "1") == 1
    assert moved("ratings", "rectification", "closed") == 1
    assert (
        moved("declarations", "started"),
        moved("declarations", "finished"),
        moved("declarations", "cancelled"),
    ) == (2, 1, 1)
    assert after["declarations"]["prefill_share"] is not None
