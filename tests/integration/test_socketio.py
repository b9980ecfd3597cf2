"""The gateway speaks Rasa's socket.io protocol (a Python socket.io client plays the widget)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import socketio

from tests.socketio_client import Widget
from tools.stack import Stack


@pytest.fixture
def widget(stack: Stack) -> Iterator[Widget]:
    w = Widget(stack.gateway_url)
    yield w
    w.close()


def test_session_request_confirms_a_bare_id_and_keeps_a_given_one(widget: Widget) -> None:
    fresh = widget.session(None)
    assert isinstance(fresh, str) and len(fresh) >= 16
    mine = uuid.uuid4().hex
    assert widget.session(mine) == mine
    assert widget.session("../../etc/passwd") not in ("../../etc/passwd", mine)


def test_user_uttered_is_answered_in_rasa_shapes_with_quick_replies(widget: Widget) -> None:
    session = widget.session(None)
    ack = widget.say("开公司要带什么材料？", session)
    assert ack["ok"] and ack["seq"] >= 1
    [answer] = widget.uttered
    assert set(answer) == {"text", "quick_replies"}  # exactly what rasa-webchat renders
    assert "企业设立登记" in answer["text"]
    assert {
        "content_type": "text",
        "title": "收费标准",
        "payload": '/ask_guide{"service_id": "ent-setup", "section": "fee"}',
    } in answer["quick_replies"]
    asked, entry = widget.entries  # our widget's event: the stored question, then the answer
    assert asked["role"] == "user" and asked["seq"] == ack["seq"]
    assert entry["seq"] > ack["seq"] and entry["custom"]["card"]["service_id"] == "ent-setup"

    widget.say('/ask_guide{"service_id": "ent-setup", "section": "fee"}', session)
    assert "收费标准" in widget.uttered[-1]["text"]


def test_session_persists_across_connections_that_hold_its_token(stack: Stack, widget: Widget) -> None:
    session = widget.session(None)
    widget.say("开公司要带什么材料？", session)
    other = Widget(stack.gateway_url)  # a reload, or a second tab: same session id and token
    try:
        assert other.session(session, widget.tokens[session]) == session
        other.say("要多少钱？", session)  # a follow-up that needs the earlier context
        assert "企业设立登记" in other.uttered[-1]["text"] and "收费" in other.uttered[-1]["text"]
        assert widget.uttered[-1] == other.uttered[-1], "every socket of the session gets the reply"
        history = other.client.call("xs_history", {"after": 0}, timeout=10)
        assert [m["role"] for m in history["messages"]] == ["user", "bot", "user", "bot"]
    finally:
        other.close()


def test_a_resent_message_is_answered_once(widget: Widget) -> None:
    session = widget.session(None)
    first = widget.say("你好", session, client_id="m-1")
    again = widget.say("你好", session, client_id="m-1")
    assert again == {"ok": True, "seq": first["seq"], "duplicate": True}
    assert len(widget.uttered) == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"message": "   ", "session_id": None}, "empty_message"),
        ({"message": "长" * 2001, "session_id": None}, "message_too_long"),
        ("not an object", "invalid_request"),
    ],
)
def test_bad_messages_get_an_error_ack(widget: Widget, payload: Any, code: str) -> None:
    widget.session(None)
    ack = widget.client.call("user_uttered", payload, timeout=10)
    assert ack["ok"] is False and ack["error"]["code"] == code and ack["error"]["message"]


def test_foreign_origins_are_refused_and_the_gateways_own_origin_is_accepted(stack: Stack) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        Widget(stack.gateway_url, origin="https://evil.example")
    own = Widget(stack.gateway_url, origin=stack.gateway_url)
    try:
        assert own.session(None)
    finally:
        own.close()
