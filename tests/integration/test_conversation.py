"""A short Chinese conversation with the real stack over HTTP (Redis, Rasa, actions, gateway)."""

from __future__ import annotations

import httpx

from tests.integration.conftest import Chat

TURN_KEYS = {"outcome", "service_id", "section", "candidates", "intent", "confidence", "handoff"}


def assert_contract_shape(reply: dict, first: bool = False) -> None:
    # The conversation's first turn also answers its token, and only the first.
    assert set(reply) == {"sender_id", "messages", "turn"} | ({"conversation_token"} if first else set())
    assert TURN_KEYS <= set(reply["turn"])
    assert reply["messages"], "the bot said nothing"
    for message in reply["messages"]:
        assert {"text", "buttons", "custom"} <= set(message)
    assert 0.0 <= reply["turn"]["confidence"] <= 1.0
    assert reply["turn"]["handoff"] in {"none", "queued", "agent"}


def test_health_reports_every_component_ok(gateway: httpx.Client) -> None:
    resp = gateway.get("/health")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok",
        "components": {"rasa": "ok", "actions": "ok", "knowledge_base": "ok", "redis": "ok"},
    }


def test_greeting_bot_question_human_and_goodbye(chat: Chat) -> None:
    hello = chat("你好")
    assert_contract_shape(hello, first=True)
    assert hello["sender_id"] == chat.sender_id  # type: ignore[attr-defined]
    assert hello["turn"]["intent"] == "greet"
    assert hello["turn"]["outcome"] == "smalltalk"
    assert "小申" in hello["messages"][0]["text"]

    who = chat("你是机器人吗？")
    assert_contract_shape(who)
    assert who["turn"]["intent"] == "bot_challenge"
    assert who["turn"]["outcome"] == "smalltalk"
    assert "机器人" in who["messages"][0]["text"]

    human = chat("我要转人工")
    assert_contract_shape(human)
    assert human["turn"]["intent"] == "ask_human"
    assert "人工" in human["messages"][0]["text"]
    assert human["turn"]["outcome"] == "handoff"
    # Queued for a person (or leaving a message outside service hours): leave, back to the bot.
    assert chat("/leave_queue")["turn"]["handoff"] == "none"

    bye = chat("好的，再见")
    assert_contract_shape(bye)
    assert bye["turn"]["intent"] == "goodbye"
    assert bye["turn"]["outcome"] == "smalltalk"
    assert bye["turn"]["service_id"] is None and bye["turn"]["section"] is None


def test_guide_question_is_answered_with_the_section_and_follow_up_keeps_the_service(chat: Chat) -> None:
    first = chat("开公司要带什么材料？")
    assert_contract_shape(first, first=True)
    turn = first["turn"]
    assert turn["outcome"] == "answer"
    assert turn["service_id"] == "ent-setup"
    assert turn["section"] == "materials"
    assert turn["candidates"][0] == "ent-setup"
    text = first["messages"][0]["text"]
    assert "材料" in text
    # The other sections are offered as buttons.
    titles = {b["title"] for b in first["messages"][0]["buttons"]}
    assert "办理时限" in titles and "所需材料" not in titles

    follow = chat("那要多久能办好？")
    assert follow["turn"]["outcome"] == "answer"
    assert follow["turn"]["service_id"] == "ent-setup"
    assert follow["turn"]["section"] == "time_limit"


def test_a_section_button_payload_answers_that_section(chat: Chat) -> None:
    chat("公积金租房提取")
    reply = chat('/ask_guide{"service_id": "hpf-withdraw-rent", "section": "fee"}')
    assert reply["turn"]["outcome"] == "answer"
    assert reply["turn"]["service_id"] == "hpf-withdraw-rent"
    assert reply["turn"]["section"] == "fee"
    assert reply["turn"]["intent"] == "ask_guide"


def test_nonsense_is_out_of_scope_and_offers_a_person(chat: Chat) -> None:
    reply = chat("今天晚上吃什么好呢，推荐个火锅店")
    assert reply["turn"]["outcome"] == "out_of_scope"
    assert reply["turn"]["service_id"] is None
    payloads = [b["payload"] for m in reply["messages"] for b in m["buttons"]]
    assert "/ask_human" in payloads


def test_transcript_keeps_every_message_in_order(chat: Chat, gateway: httpx.Client) -> None:
    chat("你好")
    chat("公积金租房提取要什么材料")
    sender = chat.sender_id  # type: ignore[attr-defined]
    history = gateway.get(f"/api/chat/{sender}/messages").json()["messages"]
    roles = [m["role"] for m in history]
    assert roles[0] == "user" and history[0]["text"] == "你好"
    assert roles.count("user") == 2 and "bot" in roles
    seqs = [m["seq"] for m in history]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Resuming after a sequence number returns only what came later.
    later = gateway.get(f"/api/chat/{sender}/messages", params={"after": seqs[1]}).json()["messages"]
    assert [m["seq"] for m in later] == seqs[2:]
    assert later[0]["role"] == "user" and "公积金" in later[0]["text"]
