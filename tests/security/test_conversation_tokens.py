"""An attacker who knows (or guesses) a sender_id tries to read and write that conversation.

Against the real stack: every chat route and the widget's socket.io, with no token, a wrong one,
another conversation's, another channel's id. The victim's transcript must be unchanged after
every attempt (../shared/CONTRACT.md, "Conversations belong to their user").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.socketio_client import Widget
from tools.stack import Stack

HEADER = "X-Conversation-Token"


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    """A bare client: it sends only the headers a test gives it."""
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


def turn(http: httpx.Client, sender: str, text: str, token: str | None = None,
         channel: str = "web") -> httpx.Response:
    headers = {HEADER: token} if token else {}
    return http.post("/api/chat", headers=headers,
                     json={"sender_id": sender, "message": text, "channel": channel})


def transcript(http: httpx.Client, sender: str, token: str) -> list[dict[str, Any]]:
    resp = http.get(f"/api/chat/{sender}/messages", headers={HEADER: token})
    assert resp.status_code == 200, resp.text
    return resp.json()["messages"]  # type: ignore[no-any-return]


def refused(resp: httpx.Response, code: str = "conversation_forbidden") -> None:
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["message"]


@pytest.fixture
def victim(http: httpx.Client) -> tuple[str, str]:
    sender = f"victim-{uuid.uuid4().hex[:10]}"
    first = turn(http, sender, "开公司要带什么材料？")
    assert first.status_code == 200, first.text
    token = first.json()["conversation_token"]
    assert isinstance(token, str) and len(token) >= 24
    return sender, token


def test_the_first_turn_gives_a_token_and_only_later_turns_with_it_are_answered(
        http: httpx.Client, victim: tuple[str, str]) -> None:
    sender, token = victim
    follow_up = turn(http, sender, "要多少钱？", token)
    assert follow_up.status_code == 200, follow_up.text
    assert "conversation_token" not in follow_up.json()  # given once, on the first turn
    assert follow_up.json()["turn"]["service_id"] == "ent-setup", follow_up.json()  # the context
    assert [m["text"] for m in transcript(http, sender, token) if m["role"] == "user"] == [
        "开公司要带什么材料？", "要多少钱？"]


@pytest.mark.parametrize("presented", [None, "", "wrong-token-0123456789abcdef", "a" * 300])
def test_a_turn_without_the_right_token_is_refused_and_stores_nothing(
        http: httpx.Client, victim: tuple[str, str], presented: str | None) -> None:
    sender, token = victim
    before = transcript(http, sender, token)
    refused(turn(http, sender, "我要转人工", presented))
    refused(turn(http, sender, "/rate{\"score\": 1}", presented))
    assert transcript(http, sender, token) == before


def test_another_conversations_token_does_not_open_this_one(
        http: httpx.Client, victim: tuple[str, str]) -> None:
    sender, token = victim
    mine = f"attacker-{uuid.uuid4().hex[:10]}"
    my_token = turn(http, mine, "你好").json()["conversation_token"]
    refused(turn(http, sender, "你好", my_token))
    refused(http.get(f"/api/chat/{sender}/messages", headers={HEADER: my_token}))
    assert len(transcript(http, sender, token)) == 2


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/chat/{sender}/messages", None),
    ("GET", "/api/chat/{sender}/messages?after=0", None),
    ("GET", "/api/chat/{sender}/handoff", None),
    ("POST", "/api/chat/{sender}/typing", {"on": True}),
])
def test_every_route_about_a_conversation_needs_its_token(
        http: httpx.Client, victim: tuple[str, str], method: str, path: str, body: Any) -> None:
    sender, token = victim
    url = path.format(sender=sender)
    for headers in ({}, {HEADER: "guess"}, {HEADER: token + "x"}):
        refused(http.request(method, url, json=body, headers=headers))
    ok = http.request(method, url, json=body, headers={HEADER: token})
    assert ok.status_code in (200, 204), ok.text


def test_unknown_conversations_are_not_readable(http: httpx.Client) -> None:
    refused(http.get(f"/api/chat/nobody-{uuid.uuid4().hex}/messages"))
    refused(http.get(f"/api/chat/nobody-{uuid.uuid4().hex}/handoff", headers={HEADER: "x" * 32}))


def test_wechat_users_cannot_be_reached_through_the_web_api(http: httpx.Client) -> None:
    openid = f"wx-o{uuid.uuid4().hex[:20]}"
    refused(turn(http, openid, "你好"), "wrong_channel")  # not even before WeChat's user wrote
    refused(turn(http, f"web-{uuid.uuid4().hex[:8]}", "你好", channel="wechat"), "wrong_channel")
    refused(http.get(f"/api/chat/{openid}/messages"))


def test_a_conversations_channel_is_fixed_when_it_starts(http: httpx.Client, victim: tuple[str, str]) -> None:
    sender, token = victim
    before = transcript(http, sender, token)
    # Naming another channel would send an agent's replies somewhere the user is not.
    refused(turn(http, sender, "你好", token, channel="widget"), "wrong_channel")
    assert transcript(http, sender, token) == before


def test_a_refused_first_message_does_not_claim_the_id(http: httpx.Client) -> None:
    sender = f"u-{uuid.uuid4().hex[:10]}"
    assert turn(http, sender, "   ").status_code == 422
    started = turn(http, sender, "你好")
    assert started.status_code == 200 and started.json()["conversation_token"]


def test_two_first_turns_racing_for_one_id_give_it_to_exactly_one(stack: Stack) -> None:
    sender = f"race-{uuid.uuid4().hex[:10]}"

    def first_turn(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
            return turn(client, sender, "你好")

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(first_turn, range(6)))
    owners = [r for r in results if r.status_code == 200]
    assert len(owners) == 1, [r.status_code for r in results]
    assert all(r.status_code == 403 for r in results if r is not owners[0]), [r.text for r in results]


# --- the widget's socket.io ------------------------------------------------------------------------
def test_a_socket_that_knows_only_the_session_id_gets_a_fresh_conversation(stack: Stack) -> None:
    owner = Widget(stack.gateway_url)
    attacker = Widget(stack.gateway_url)
    try:
        session = owner.session(None)
        owner.say("我的手机号是13812345678，居住证怎么办？", session)
        assert attacker.session(session) != session  # the id alone is not a key
        assert attacker.session(session, "forged-token-0123456789") != session
        history = attacker.client.call("xs_history", {"after": 0}, timeout=10)
        assert history["ok"] and history["messages"] == []
        attacker.say("我要转人工", session)  # lands in the attacker's own new conversation
        mine = owner.client.call("xs_history", {"after": 0}, timeout=10)["messages"]
        assert [m["text"] for m in mine if m["role"] == "user"] == ["我的手机号是13812345678，居住证怎么办？"]
        assert not any("人工" in (e.get("text") or "") for e in owner.entries if e["role"] == "user")
    finally:
        owner.close()
        attacker.close()


def test_the_browser_that_started_a_session_resumes_it_by_its_cookie(stack: Stack) -> None:
    """How rasa-webchat (no tokens) continues after a reload: the HttpOnly xs_browser cookie."""
    first = Widget(stack.gateway_url, transport="polling")
    try:
        session = first.session(None)
        first.say("你好", session)
        cookie = first.client.eio.http.cookies.get("xs_browser")
        assert cookie, "the gateway sets its browser cookie on the socket.io handshake"
    finally:
        first.close()
    reloaded = Widget(stack.gateway_url, transport="polling", headers={"Cookie": f"xs_browser={cookie}"})
    try:
        assert reloaded.session(session) == session
        history = reloaded.client.call("xs_history", {"after": 0}, timeout=10)
        assert [m["text"] for m in history["messages"] if m["role"] == "user"] == ["你好"]
    finally:
        reloaded.close()
