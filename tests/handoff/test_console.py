"""The agents' console: the page, and live events over the WebSocket across gateway processes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.handoff.conftest import Gateway

STATIC = Path("connectors/gateway/static/agents")


def next_event(ws: Any, kind: str, limit: int = 20) -> dict[str, Any]:
    for _ in range(limit):
        event = ws.receive_json()
        if event["type"] == kind:
            return event  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} event")


def test_the_console_page_is_served_with_a_strict_policy(gw: Gateway) -> None:
    page = gw.client.get("/agents")
    assert page.status_code == 200 and "店小二工作台" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert gw.client.get("/agents/static/app.js").status_code == 200
    assert gw.client.get("/agents/static/../settings.py").status_code == 404


def test_console_script_renders_text_safely_and_loads_nothing_external() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)
    assert not re.search(r"https?://", page + script)


def test_a_socket_without_a_valid_agent_token_is_refused(gw: Gateway) -> None:
    gw.add_user("editor1", ["editor"])
    for token in ("not-a-token", gw.auth("editor1")["Authorization"].split()[1]):
        with gw.client.websocket_connect("/api/agents/ws") as ws:
            ws.send_json({"type": "auth", "token": token})
            assert ws.receive_json()["error"]["code"] == "unauthorized"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4401


def test_console_sees_queue_messages_and_typing_live_from_another_gateway_process(
        make_gateway: Callable[[], Gateway]) -> None:
    agents_side = make_gateway()
    agents_side.add_user("xiaowang", ["agent"], display_name="小王")
    users_side = make_gateway()  # the user talks to a different process
    pushed: list[dict[str, Any]] = []

    async def pusher(sender_id: str, entry: dict[str, Any]) -> None:
        pushed.append(entry)

    agents_side.xs.outbox.register("web", pusher)
    token = agents_side.auth("xiaowang")["Authorization"].split()[1]
    users_side.chat("early", "我要转人工")  # waiting before the agent comes online
    with agents_side.client.websocket_connect("/api/agents/ws") as ws:
        ws.send_json({"type": "auth", "token": token})
        snap = next_event(ws, "snapshot")
        assert [q["sender_id"] for q in snap["queue"]] == ["early"]
        assert snap["me"]["display_name"] == "小王"

        users_side.chat("u", "我要转人工")
        queued = next_event(ws, "queued")
        assert queued["sender_id"] == "u" and queued["position"] == 2

        agents_side.agent("POST", "/conversations/u/claim", "xiaowang")
        assert next_event(ws, "claimed")["agent"] == "xiaowang"
        users_side.chat("u", "请问营业执照可以邮寄吗")
        message = next_event(ws, "message")
        assert message["sender_id"] == "u" and message["entry"]["text"] == "请问营业执照可以邮寄吗"

        assert users_side.client.post("/api/chat/u/typing", json={"on": True}).status_code == 204
        typing = next_event(ws, "typing")
        assert typing == {"type": "typing", "sender_id": "u", "who": "user", "on": True}

        # The agent's typing goes to the user's channel as a transient signal, not the transcript.
        ws.send_json({"type": "typing", "sender_id": "u", "on": True})
        ws.send_json({"type": "ping"})
        next_event(ws, "pong")
        assert {"typing": {"who": "agent", "name": "小王", "on": True}} in [p["custom"] for p in pushed]
        assert all("typing" not in m["custom"] for m in users_side.messages("u"))

        agents_side.agent("POST", "/conversations/u/notes", "xiaowang", json={"text": "老客户"})
        assert next_event(ws, "note")["note"]["text"] == "老客户"
        agents_side.agent("POST", "/conversations/u/close", "xiaowang")
        assert next_event(ws, "closed")["sender_id"] == "u"


def test_the_staff_pages_share_one_sign_in_script(gw: Gateway) -> None:
    shared = gw.client.get("/staff/static/staff.js")
    assert shared.status_code == 200 and shared.headers["x-content-type-options"] == "nosniff"
    assert "function staffSession" in shared.text
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|https?://", shared.text)
    for page in ("agents", "editors", "dashboard"):
        html = gw.client.get(f"/{page}").text
        assert html.index("/staff/static/staff.js") < html.index(f"/{page}/static/app.js"), page
        script = (STATIC.parent / page / "app.js").read_text(encoding="utf-8")
        assert "staffSession(" in script and "/api/auth/login" not in script, page
