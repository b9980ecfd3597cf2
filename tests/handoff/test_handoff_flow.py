"""The user's and the agent's view of a handoff, through the real gateway and a real Redis."""

from __future__ import annotations

import pytest

from connectors.gateway.handoff.hours import ServiceHours
from tests.handoff.conftest import ADMIN, Gateway


def ask_human(gw: Gateway, sender: str) -> dict:
    reply = gw.chat(sender, "我要转人工")
    assert reply["turn"]["outcome"] == "handoff"
    assert reply["turn"]["handoff"] == "queued"
    return reply


def test_users_are_queued_in_order_and_told_their_place_and_wait(gw: Gateway) -> None:
    replies = [ask_human(gw, f"u{i}") for i in range(3)]
    positions = [r["messages"][-1]["custom"]["handoff"]["position"] for r in replies]
    assert positions == [1, 2, 3]
    assert "您是下一位" in replies[0]["messages"][0]["text"]
    assert "前面还有 2 位" in replies[2]["messages"][0]["text"]
    assert "分钟" in replies[2]["messages"][0]["text"]
    etas = [r["messages"][-1]["custom"]["handoff"]["eta_s"] for r in replies]
    assert etas[2] > etas[0]
    leave = {"title": "离开排队，继续问小申", "payload": "/leave_queue"}
    assert leave in replies[0]["messages"][-1]["buttons"]

    queue = gw.agent("GET", "/queue", "xiaowang").json()["queue"]
    assert [q["sender_id"] for q in queue] == ["u0", "u1", "u2"]

    # The first is taken: everyone behind moves up.
    assert gw.agent("POST", "/conversations/u0/claim", "xiaowang").status_code == 200
    assert gw.client.get("/api/chat/u2/handoff").json()["position"] == 2
    assert gw.client.get("/api/chat/u1/handoff").json()["position"] == 1
    assert gw.client.get("/api/chat/u0/handoff").json() == {"status": "agent", "agent": "小王"}
    assert [q["sender_id"] for q in gw.agent("GET", "/queue", "xiaoli").json()["queue"]] == ["u1", "u2"]


def test_asking_again_while_queued_keeps_the_place(gw: Gateway) -> None:
    ask_human(gw, "a")
    ask_human(gw, "b")
    again = gw.chat("b", "我要转人工")
    assert again["turn"]["handoff"] == "queued"
    assert again["messages"][-1]["custom"]["handoff"]["position"] == 2


def test_while_queued_or_with_an_agent_the_bot_never_answers(gw: Gateway) -> None:
    ask_human(gw, "u")
    waiting = gw.chat("u", "我的营业执照什么时候能好？")
    assert waiting["turn"]["outcome"] == "handoff" and waiting["turn"]["handoff"] == "queued"
    assert "已收到" in waiting["messages"][0]["text"]
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    held = gw.chat("u", "你好，在吗？")
    assert held["turn"] == {**held["turn"], "outcome": "handoff", "handoff": "agent"}
    assert held["messages"] == []
    # Rasa saw only the request for a person.
    assert gw.rasa.bot_calls("u") == ["我要转人工"]
    # The agent sees every message, the bot's turns included, in order.
    conv = gw.agent("GET", "/conversations/u", "xiaowang").json()
    said = [(m["role"], m["text"]) for m in conv["messages"]]
    assert ("user", "我的营业执照什么时候能好？") in said and said[-1] == ("user", "你好，在吗？")
    assert said[0] == ("user", "我要转人工") and said[1][0] == "bot"
    seqs = [m["seq"] for m in conv["messages"]]
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))


def test_agent_replies_reach_the_user_and_close_hands_back_to_the_bot_with_a_rating(gw: Gateway) -> None:
    ask_human(gw, "u")
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    sent = gw.agent("POST", "/conversations/u/messages", "xiaowang", json={"text": "您好，我是小王"})
    assert sent.status_code == 200
    seen = gw.messages("u")
    joined = [m for m in seen if m["role"] == "system" and "小王" in (m["text"] or "")]
    assert joined, "the user is told who joined"
    agent_msg = [m for m in seen if m["role"] == "agent"]
    assert agent_msg[-1]["text"] == "您好，我是小王" and agent_msg[-1]["author"] == "小王"

    assert gw.agent("POST", "/conversations/u/close", "xiaowang").status_code == 200
    prompt = gw.messages("u", after=agent_msg[-1]["seq"])[-1]
    assert [b["title"] for b in prompt["buttons"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert len(prompt["custom"]["rating"]["options"]) == 5
    # After closing the agent can no longer write, and the bot answers again.
    late = gw.agent("POST", "/conversations/u/messages", "xiaowang", json={"text": "还在吗"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_holder"
    rated = gw.chat("u", '/rate{"score": 5}')
    assert "感谢" in rated["messages"][0]["text"] and rated["turn"]["handoff"] == "none"
    back = gw.chat("u", "开公司要什么材料")
    assert back["turn"]["outcome"] == "answer" and back["turn"]["handoff"] == "none"
    assert gw.rasa.bot_calls("u")[-1] == "开公司要什么材料"


def test_leaving_the_queue_returns_to_the_bot(gw: Gateway) -> None:
    ask_human(gw, "a")
    ask_human(gw, "b")
    left = gw.chat("a", "/leave_queue")
    assert left["turn"]["handoff"] == "none"
    assert "退出" in left["messages"][0]["text"]
    assert gw.client.get("/api/chat/b/handoff").json()["position"] == 1
    assert [q["sender_id"] for q in gw.agent("GET", "/queue", "xiaowang").json()["queue"]] == ["b"]
    answer = gw.chat("a", "居住证怎么办")
    assert answer["turn"]["outcome"] == "answer"
    # A conversation that left cannot be claimed from a stale list.
    stale = gw.agent("POST", "/conversations/a/claim", "xiaowang")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "not_queued"


def test_the_user_can_end_the_agent_conversation_and_is_asked_to_rate(gw: Gateway) -> None:
    ask_human(gw, "u")
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    ended = gw.chat("u", "/leave_queue")
    assert ended["turn"]["handoff"] == "none"
    assert len(ended["messages"][0]["buttons"]) == 5
    assert gw.agent("GET", "/queue", "xiaowang").json()["mine"] == []


def test_concurrent_conversation_limit_per_agent(gw: Gateway) -> None:
    gw.add_user("newbie", ["agent"], max_concurrent=2)
    for s in ("a", "b", "c"):
        ask_human(gw, s)
    assert gw.agent("POST", "/conversations/a/claim", "newbie").status_code == 200
    assert gw.agent("POST", "/conversations/b/claim", "newbie").status_code == 200
    third = gw.agent("POST", "/conversations/c/claim", "newbie")
    assert third.status_code == 409 and third.json()["error"]["code"] == "limit_reached"
    assert gw.agent("GET", "/queue", "newbie").json()["limit"] == 2
    gw.agent("POST", "/conversations/a/close", "newbie")
    assert gw.agent("POST", "/conversations/c/claim", "newbie").status_code == 200


def test_transfer_moves_the_conversation_to_another_agent(gw: Gateway) -> None:
    ask_human(gw, "u")
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    moved = gw.agent("POST", "/conversations/u/transfer", "xiaowang", json={"to": "xiaoli"})
    assert moved.status_code == 200
    assert "小李" in gw.messages("u")[-1]["text"]
    assert gw.agent("POST", "/conversations/u/messages", "xiaowang", json={"text": "x"}).status_code == 409
    taken_over = gw.agent("POST", "/conversations/u/messages", "xiaoli", json={"text": "我来接着帮您"})
    assert taken_over.status_code == 200
    assert [m["sender_id"] for m in gw.agent("GET", "/queue", "xiaoli").json()["mine"]] == ["u"]
    assert gw.agent("GET", "/queue", "xiaowang").json()["mine"] == []
    bad = gw.agent("POST", "/conversations/u/transfer", "xiaoli", json={"to": "nobody"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_agent"


def test_private_notes_are_seen_by_agents_never_by_the_user(gw: Gateway) -> None:
    ask_human(gw, "u")
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    note = gw.agent("POST", "/conversations/u/notes", "xiaowang",
                    json={"text": "用户情绪激动，注意安抚"})
    assert note.status_code == 200
    notes = gw.agent("GET", "/conversations/u", "xiaoli").json()["notes"]
    assert notes[0]["text"] == "用户情绪激动，注意安抚"
    assert all("情绪" not in (m["text"] or "") for m in gw.messages("u"))


def test_an_agent_can_take_over_a_conversation_the_bot_is_handling(gw: Gateway) -> None:
    gw.chat("u", "公积金怎么提取")
    live = gw.agent("GET", "/recent", "xiaowang").json()
    assert "u" in [c["sender_id"] for c in live]
    assert gw.agent("POST", "/conversations/u/claim", "xiaowang").status_code == 409  # not queued
    assert gw.agent("POST", "/conversations/u/claim?takeover=true", "xiaowang").status_code == 200
    reply = gw.chat("u", "谢谢")
    assert reply["turn"]["handoff"] == "agent"
    assert gw.rasa.bot_calls("u") == ["公积金怎么提取"]


@pytest.mark.parametrize(("body", "code"), [
    ({"text": "   "}, "empty_message"),
    ({"text": "x" * 2001}, "invalid_request"),
    ({"txt": "hi"}, "invalid_request"),
])
def test_bad_agent_input_gets_a_4xx_with_the_error_shape(gw: Gateway, body: dict, code: str) -> None:
    ask_human(gw, "u")
    gw.agent("POST", "/conversations/u/claim", "xiaowang")
    resp = gw.agent("POST", "/conversations/u/messages", "xiaowang", json=body)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] in (code, "missing_field")


def test_service_hours_override_by_an_admin(gw: Gateway) -> None:
    gw.set_hours(ServiceHours({}))  # never open by the timetable
    assert gw.agent("PUT", "/service-hours/override", "xiaowang", json={"mode": "open"}).status_code == 403
    assert gw.agent("PUT", "/service-hours/override", ADMIN[0], json={"mode": "open"}).json()["open"] is True
    ask_human(gw, "u")
    gw.agent("PUT", "/service-hours/override", ADMIN[0], json={"mode": "auto"})
    assert gw.chat("v", "我要转人工")["turn"]["handoff"] == "none"
