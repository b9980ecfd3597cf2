"""Rate limits: hit, answered 429 with Retry-After (or in words inside a turn), shared by every
gateway process through Redis, released when the window has passed, and off with XS_RATE_LIMITS=off."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.security.conftest import MakeGateway

# Short windows so a test can wait for the release.
FAST = {"xs_rate_turn_sender": "3/2second", "xs_rate_turn_ip": "1000/minute",
        "xs_rate_session_ip": "1000/minute"}


def post(gw: object, sender: str, text: str = "你好") -> httpx.Response:
    return gw.client.post("/api/chat", json={"sender_id": sender, "message": text})  # type: ignore[attr-defined]


def assert_limited(resp: httpx.Response) -> int:
    assert resp.status_code == 429, resp.text
    error = resp.json()["error"]
    assert error["code"] == "rate_limited" and "秒后再试" in error["message"] and "retry" in error["message"]
    wait = int(resp.headers["Retry-After"])
    assert 1 <= wait <= 2
    return wait


def test_a_chatty_conversation_is_slowed_and_released_and_others_are_not(gateway_with: MakeGateway) -> None:
    gw = gateway_with(**FAST)
    sender = f"u-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        assert post(gw, sender).status_code == 200
    wait = assert_limited(post(gw, sender))
    before = len(gw.messages(sender))
    assert_limited(post(gw, sender, "被限流的消息"))
    assert len(gw.messages(sender)) == before, "a refused turn stores nothing"
    assert post(gw, f"other-{uuid.uuid4().hex[:8]}").status_code == 200, "another user is not limited"
    time.sleep(wait + 1.1)
    assert post(gw, sender).status_code == 200, "released after the window"


def test_limits_are_shared_by_every_gateway_process(gateway_with: MakeGateway) -> None:
    one, two = gateway_with(**FAST), gateway_with(**FAST)
    sender = f"u-{uuid.uuid4().hex[:8]}"
    assert post(one, sender).status_code == 200
    assert post(two, sender).status_code == 200
    assert post(one, sender).status_code == 200
    assert_limited(post(two, sender))


def test_per_address_limits_count_every_conversation_of_that_address(gateway_with: MakeGateway) -> None:
    gw = gateway_with(xs_rate_turn_ip="4/2second", xs_rate_session_ip="1000/minute")
    for i in range(4):
        assert post(gw, f"spray-{i}-{uuid.uuid4().hex[:6]}").status_code == 200
    assert_limited(post(gw, f"spray-new-{uuid.uuid4().hex[:6]}"))


def test_new_conversations_from_one_address_are_limited(gateway_with: MakeGateway) -> None:
    gw = gateway_with(xs_rate_session_ip="2/2second")
    assert post(gw, f"a-{uuid.uuid4().hex[:6]}").status_code == 200
    assert post(gw, f"b-{uuid.uuid4().hex[:6]}").status_code == 200
    fresh = f"c-{uuid.uuid4().hex[:6]}"
    assert_limited(post(gw, fresh))
    time.sleep(3.1)
    started = post(gw, fresh)  # the refused first turn did not claim the id
    assert started.status_code == 200 and started.json()["conversation_token"]


def test_asking_for_a_person_again_and_again_is_answered_in_words(gateway_with: MakeGateway) -> None:
    gw = gateway_with(xs_rate_queue_sender="2/hour")
    sender = f"u-{uuid.uuid4().hex[:8]}"
    for _ in range(2):
        assert gw.chat(sender, "转人工")["turn"]["handoff"] == "queued"
        gw.chat(sender, "/leave_queue")
    third = gw.chat(sender, "转人工")
    assert third["turn"]["outcome"] == "handoff" and third["turn"]["handoff"] == "none"
    assert "太频繁" in third["messages"][0]["text"] and "12345" in third["messages"][0]["text"]
    queue = gw.agent("GET", "/queue", "admin").json()
    assert sender not in str(queue), "not queued again"


def test_xs_rate_limits_off_turns_every_limit_off(gateway_with: MakeGateway) -> None:
    gw = gateway_with(xs_rate_limits="off", xs_rate_turn_sender="1/hour", xs_rate_turn_ip="1/hour")
    sender = f"u-{uuid.uuid4().hex[:8]}"
    assert all(post(gw, sender).status_code == 200 for _ in range(5))


def test_login_attempts_from_one_address_are_limited(gateway_with: MakeGateway) -> None:
    gw = gateway_with(xs_rate_login_ip="3/minute")
    for _ in range(3):
        resp = gw.client.post("/api/auth/login", data={"username": "nobody", "password": "wrong-password"})
        assert resp.status_code == 401
    resp = gw.client.post("/api/auth/login", data={"username": "admin", "password": "admin-secret-123"})
    assert resp.status_code == 429 and resp.headers["Retry-After"]
