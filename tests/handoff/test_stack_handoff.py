"""Handoff end to end with the real stack: Rasa's NLU and rules decide, the gateway queues."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
import redis.asyncio as aioredis

from connectors.gateway.auth import Accounts
from tools.chat_client import with_tokens
from tools.stack import Stack

pytestmark = pytest.mark.stack
AGENT = ("e2e-agent", "e2e-agent-pass")


@pytest.fixture(scope="module")
def live(stack: Stack) -> Iterator[httpx.Client]:
    """The running gateway with agents on duty (hours forced open) and one agent account."""

    async def add_agent() -> None:
        client = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
        await Accounts(client, 3600).create_user(AGENT[0], AGENT[1], ["agent"], display_name="小赵")
        await client.aclose()

    asyncio.run(add_agent())
    sync = redis.Redis.from_url(stack.effective_redis_url)
    sync.set("xs:ho:hours_override", "open")
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as client:
        yield client
    sync.delete("xs:ho:hours_override")


def send(client: httpx.Client, sender: str, text: str) -> dict:
    resp = client.post("/api/chat", json={"sender_id": sender, "message": text, "channel": "web"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def agent_headers(client: httpx.Client) -> dict[str, str]:
    resp = client.post("/api/auth/login", data={"username": AGENT[0], "password": AGENT[1]})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_asking_for_a_person_queues_then_an_agent_talks_and_closes(live: httpx.Client) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    reply = send(live, sender, "帮我转人工客服")
    assert reply["turn"]["intent"] == "ask_human"
    assert reply["turn"]["outcome"] == "handoff" and reply["turn"]["handoff"] == "queued"
    assert reply["messages"][-1]["custom"]["handoff"]["position"] >= 1
    headers = agent_headers(live)
    assert sender in [q["sender_id"] for q in live.get("/api/agents/queue", headers=headers).json()["queue"]]
    assert live.post(f"/api/agents/conversations/{sender}/claim", headers=headers).status_code == 200
    held = send(live, sender, "开公司要带什么材料？")
    assert held["turn"]["handoff"] == "agent" and held["messages"] == []
    live.post(f"/api/agents/conversations/{sender}/messages", headers=headers,
              json={"text": "您好，我是小赵"})
    seen = live.get(f"/api/chat/{sender}/messages").json()["messages"]
    assert seen[-1]["role"] == "agent" and seen[-1]["text"] == "您好，我是小赵"
    live.post(f"/api/agents/conversations/{sender}/close", headers=headers)
    assert send(live, sender, '/rate{"score": 4}')["turn"]["handoff"] == "none"
    # Back with the bot, which answers guide questions again.
    back = send(live, sender, "开公司要带什么材料？")
    assert back["turn"]["outcome"] == "answer" and back["turn"]["service_id"] == "ent-setup"


def test_two_misses_in_a_row_offer_a_person_and_yes_queues(live: httpx.Client) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    first = send(live, sender, "帮我订一张明天的机票")
    assert first["turn"]["outcome"] == "out_of_scope"
    assert all("需要为您转接" not in (m["text"] or "") for m in first["messages"])
    second = send(live, sender, "推荐一部好看的电影")
    assert second["turn"]["outcome"] == "out_of_scope"
    assert any("需要为您转接人工客服" in (m["text"] or "") for m in second["messages"])
    yes = send(live, sender, "好的")
    assert yes["turn"]["intent"] == "affirm"
    assert yes["turn"]["handoff"] == "queued"
    send(live, sender, "/leave_queue")


def test_no_to_the_offer_keeps_the_bot_and_a_later_yes_does_not_queue(live: httpx.Client) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    send(live, sender, "今天股票会涨吗")
    send(live, sender, "给我写首诗")
    no = send(live, sender, "不用了")
    assert no["turn"]["intent"] == "deny" and no["turn"]["handoff"] == "none"
    later = send(live, sender, "好的")
    assert later["turn"]["handoff"] == "none"


def test_a_complaint_is_met_with_an_apology_and_an_offer(live: httpx.Client) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    angry = send(live, sender, "你们这个系统太垃圾了，气死我了")
    assert angry["turn"]["intent"] == "complain"
    assert angry["turn"]["handoff"] == "none"
    assert "抱歉" in angry["messages"][0]["text"] and "人工" in angry["messages"][0]["text"]
    yes = send(live, sender, "/affirm")
    assert yes["turn"]["handoff"] == "queued"
    send(live, sender, "/leave_queue")


def test_a_complaint_with_a_clear_question_gets_the_apology_the_offer_and_the_answer(
    live: httpx.Client,
) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    reply = send(live, sender, "气死我了，跑了三趟都没办成！租房提取公积金到底要带什么材料？")
    # Whether NLU reads it as a complaint or as a guide question, the user gets both.
    assert "抱歉" in reply["messages"][0]["text"]
    assert {b["payload"] for b in reply["messages"][0]["buttons"]} == {"/affirm", "/deny"}
    assert reply["turn"]["outcome"] == "answer"
    assert reply["turn"]["service_id"] == "hpf-withdraw-rent"
    assert reply["turn"]["section"] == "materials"
    assert "所需材料" in reply["messages"][1]["text"]
    # The offer still stands: "yes" queues for a person.
    yes = send(live, sender, "/affirm")
    assert yes["turn"]["handoff"] == "queued"
    send(live, sender, "/leave_queue")
