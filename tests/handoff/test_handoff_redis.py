"""Races, restarts, service hours, 留言 tickets and 好差评 follow-ups, against the real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from connectors.gateway.auth import Accounts, Principal
from connectors.gateway.chat import Outbox
from connectors.gateway.conversations import ConversationStore
from connectors.gateway.handoff.hours import ServiceHours
from connectors.gateway.handoff.service import HandoffError, HandoffService
from tests.handoff.conftest import ADMIN, Gateway

SH = ServiceHours.from_yaml("config/service_hours.yaml")


def service_on(client: aioredis.Redis) -> HandoffService:
    store = ConversationStore(client)
    return HandoffService(client, store, Outbox(store), Accounts(client, 60), ServiceHours.always(),
                          max_concurrent=5, default_handle_s=240)


async def test_many_concurrent_claims_have_exactly_one_winner(redis_url: str) -> None:
    # Separate connections per "agent", as separate gateway processes would have.
    clients = [aioredis.Redis.from_url(redis_url, decode_responses=True) for _ in range(25)]
    try:
        services = [service_on(c) for c in clients]
        await services[0].enqueue("contested", "asked", "web")
        agents = [Principal(f"agent{i}", frozenset({"agent"})) for i in range(25)]
        claims = [s.claim("contested", a) for s, a in zip(services, agents, strict=True)]
        results = await asyncio.gather(*claims, return_exceptions=True)
        winners = [a.username for a, r in zip(agents, results, strict=True) if r is None]
        losers = [r for r in results if isinstance(r, HandoffError)]
        assert len(winners) == 1 and len(losers) == 24
        assert {e.code for e in losers} == {"already_claimed"}
        conv = await services[0].status("contested")
        assert conv["agent"] == winners[0]
        assert await services[0].held_by(winners[0]) == ["contested"]
        assert await clients[0].zcard("xs:ho:queue") == 0
    finally:
        for c in clients:
            await c.aclose()


async def test_claims_racing_the_user_leaving_never_leave_a_half_state(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    service = service_on(client)
    try:
        for i in range(20):
            sender = f"race{i}"
            await service.enqueue(sender, "asked", "web")
            agent = Principal(f"a{i}", frozenset({"agent"}))
            claim, left = await asyncio.gather(service.claim(sender, agent), service.leave(sender),
                                               return_exceptions=True)
            status = (await service.status(sender)).get("status")
            if claim is None:  # the claim won
                assert left is False and status == "agent"
                assert await service.held_by(agent.username) == [sender]
            else:
                assert left is True and status == "" and await service.held_by(agent.username) == []
            assert await client.zscore("xs:ho:queue", sender) is None
    finally:
        await client.aclose()


def test_gateway_restart_mid_handoff_loses_nothing(make_gateway: Callable[[], Gateway]) -> None:
    first = make_gateway()
    first.add_user("xiaowang", ["agent"], display_name="小王")
    for s in ("a", "b", "c"):
        first.chat(s, "我要转人工")
    first.agent("POST", "/conversations/a/claim", "xiaowang")
    first.agent("POST", "/conversations/a/messages", "xiaowang", json={"text": "第一条回复"})
    first.chat("a", "用户第二句")
    token = first.auth("xiaowang")
    first.client.__exit__(None, None, None)  # the gateway process stops

    second = make_gateway()
    second._tokens["xiaowang"] = token["Authorization"].removeprefix("Bearer ")
    # The token, the claim, the queue order and the transcript all survived.
    queue = second.agent("GET", "/queue", "xiaowang").json()
    assert [q["sender_id"] for q in queue["queue"]] == ["b", "c"]
    assert [m["sender_id"] for m in queue["mine"]] == ["a"]
    held = second.chat("a", "用户第三句")
    assert held["turn"]["handoff"] == "agent" and second.rasa.bot_calls("a") == []
    second.agent("POST", "/conversations/a/messages", "xiaowang", json={"text": "第二条回复"})
    said = [(m["role"], m["text"]) for m in second.messages("a")]
    user_and_agent = [x for x in said if x[0] in ("user", "agent")]
    assert user_and_agent == [("user", "我要转人工"), ("agent", "第一条回复"), ("user", "用户第二句"),
                              ("user", "用户第三句"), ("agent", "第二条回复")]
    seqs = [m["seq"] for m in second.messages("a")]
    assert seqs == list(range(1, len(seqs) + 1))
    assert second.client.get("/api/chat/c/handoff").json()["position"] == 2


@pytest.mark.parametrize(("when", "is_open", "back"), [
    (dt.datetime(2026, 11, 23, 10, 0), True, "今天 10:00"),  # Monday morning
    (dt.datetime(2026, 11, 23, 7, 0), False, "今天 08:30"),
    (dt.datetime(2026, 11, 23, 20, 30), False, "明天 08:30"),
    (dt.datetime(2026, 11, 28, 18, 0), False, "明天 09:00"),  # Saturday evening
    (dt.datetime(2026, 10, 1, 10, 0), False, "10月8日（周四）08:30"),  # 国庆
    (dt.datetime(2026, 10, 10, 8, 45), True, "今天 08:45"),  # a Saturday worked (调休) on weekday hours
])
def test_service_hours_with_holidays_and_workdays(when: dt.datetime, is_open: bool, back: str) -> None:
    local = when.replace(tzinfo=SH.tz)
    assert SH.is_open(local) is is_open
    assert SH.describe_next(local) == back


def test_outside_hours_the_bot_says_when_people_are_back_and_takes_a_message(gw: Gateway) -> None:
    gw.set_hours(ServiceHours({0: [(dt.time(9), dt.time(9, 0, 1))]}))  # open one second a week
    reply = gw.chat("u", "我要转人工")
    assert reply["turn"]["handoff"] == "none"
    text = reply["messages"][0]["text"]
    assert "不是人工服务时间" in text and "周一" in text and "留言" in text and "联系方式" in text
    assert reply["messages"][0]["custom"]["handoff"]["status"] == "offline"
    assert gw.agent("GET", "/queue", "xiaowang").json()["queue"] == []

    ask = gw.chat("u", "我的公积金提取申请被退回了，想问原因")
    assert "联系方式" in ask["messages"][0]["text"]
    done = gw.chat("u", "电话 13812345678")
    ticket_id = done["messages"][0]["custom"]["handoff"]["ticket"]
    assert ticket_id in done["messages"][0]["text"]
    assert gw.rasa.bot_calls("u") == ["我要转人工"]

    tickets = gw.agent("GET", "/queue", "xiaowang").json()["tickets"]
    assert tickets[0]["id"] == ticket_id and tickets[0]["contact"] == "13812345678"
    assert "退回" in tickets[0]["text"]
    # Back to the bot afterwards.
    assert gw.chat("u", "居住证怎么办")["turn"]["outcome"] == "answer"
    resolved = gw.agent("POST", f"/tickets/{ticket_id}/resolve", "xiaowang", json={"note": "已电话回复"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert gw.agent("GET", "/tickets", "xiaowang").json() == []
    assert gw.agent("POST", f"/tickets/{ticket_id}/resolve", "xiaowang", json={}).status_code == 404


def test_a_message_with_its_contact_in_one_go_and_declining_to_leave_one(gw: Gateway) -> None:
    gw.set_hours(ServiceHours({}))
    gw.chat("u", "我要转人工")
    done = gw.chat("u", "社保卡补办进度怎么查，邮箱 zhang@example.com")
    assert "ticket" in done["messages"][0]["custom"]["handoff"]
    gw.chat("v", "我要转人工")
    cancelled = gw.chat("v", "/leave_queue")
    assert cancelled["turn"]["handoff"] == "none"
    assert len(gw.agent("GET", "/tickets", "xiaowang").json()) == 1
    assert gw.chat("v", "开公司")["turn"]["outcome"] == "answer"


def rated_conversation(gw: Gateway, sender: str) -> None:
    gw.chat(sender, "我要转人工")
    gw.agent("POST", f"/conversations/{sender}/claim", "xiaowang")
    gw.agent("POST", f"/conversations/{sender}/close", "xiaowang")


def test_a_bad_rating_opens_a_followup_until_an_admin_records_the_rectification(gw: Gateway) -> None:
    rated_conversation(gw, "u")
    reply = gw.chat("u", "不满意")
    assert "抱歉" in reply["messages"][0]["text"]
    assert reply["messages"][0]["buttons"] == [{"title": "跳过", "payload": "/rate_skip"}]
    gw.chat("u", "等了很久，回答也不清楚")
    items = gw.agent("GET", "/followups", ADMIN[0]).json()
    assert len(items) == 1
    item = items[0]
    assert item["score"] == 2 and item["label"] == "不满意" and item["agent"] == "xiaowang"
    assert item["comment"] == "等了很久，回答也不清楚" and item["sender_id"] == "u"
    ratings = gw.agent("GET", "/conversations/u", "xiaowang").json()["ratings"]
    assert ratings[0]["followup"] == item["id"]

    empty = gw.agent("POST", f"/followups/{item['id']}/rectify", ADMIN[0], json={"rectification": " "})
    assert empty.status_code == 422
    done = gw.agent("POST", f"/followups/{item['id']}/rectify", ADMIN[0],
                    json={"rectification": "已回电致歉，并对坐席进行业务培训"})
    assert done.status_code == 200 and done.json()["rectified_by"] == "admin"
    assert gw.agent("GET", "/followups", ADMIN[0]).json() == []
    history = gw.agent("GET", "/followups?all=true", ADMIN[0]).json()
    assert history[0]["status"] == "rectified"


@pytest.mark.parametrize(("answer", "score", "followup"), [
    ('/rate{"score": 5}', 5, False), ("满意", 4, False), ('/rate{"score": 3}', 3, False),
    ('/rate{"score": 1, "comment": "态度差"}', 1, True),
])
def test_ratings_are_recorded_and_only_bad_ones_open_a_followup(
        gw: Gateway, answer: str, score: int, followup: bool) -> None:
    rated_conversation(gw, "u")
    gw.chat("u", answer)
    ratings = gw.agent("GET", "/conversations/u", "xiaowang").json()["ratings"]
    assert [r["score"] for r in ratings] == [score]
    assert bool(gw.agent("GET", "/followups", ADMIN[0]).json()) is followup
    # Pressing a rating button again does not rate twice, nor reach the bot.
    again = gw.chat("u", '/rate{"score": 1}')
    assert "评价过" in again["messages"][0]["text"]
    assert len(gw.agent("GET", "/conversations/u", "xiaowang").json()["ratings"]) == 1
    assert gw.rasa.bot_calls("u") == ["我要转人工"]


def test_an_ignored_rating_prompt_lapses_and_the_bot_answers(gw: Gateway) -> None:
    rated_conversation(gw, "u")
    reply = gw.chat("u", "开公司要什么材料")
    assert reply["turn"]["outcome"] == "answer"
    assert gw.agent("GET", "/conversations/u", "xiaowang").json()["ratings"] == []


def test_a_bad_rating_files_the_question_the_bot_answered_in_the_editors_inbox(gw: Gateway) -> None:
    gw.chat("u", "公司注册要多少注册资本，我手机13812345678")
    rated_conversation(gw, "u")
    gw.chat("u", '/rate{"score": 1}')
    _drain(gw)
    groups = gw.xs.inbox.groups()
    assert [(g.example, g.reasons) for g in groups] == [
        ("公司注册要多少注册资本，我手机138****5678", {"bad_rating": 1})]


def test_a_good_rating_files_nothing(gw: Gateway) -> None:
    gw.chat("u", "公司注册要多少注册资本")
    rated_conversation(gw, "u")
    gw.chat("u", '/rate{"score": 5}')
    _drain(gw)
    assert gw.xs.inbox.groups() == []


def _drain(gw: Gateway) -> None:
    """Wait, on the app's own event loop, for questions still being filed in the inbox."""
    for hook in gw.xs.chat.hooks:
        if hasattr(hook, "drain"):
            gw.client.portal.call(hook.drain)  # type: ignore[union-attr]
