"""A socket.io client that plays the web widget and records what the gateway sends."""

from __future__ import annotations

import threading
import time
from typing import Any

import socketio


class Widget:
    """A socket.io client that records what the gateway sends."""

    def __init__(self, url: str, origin: str | None = None, transport: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.client = socketio.Client(reconnection=False)
        self.confirmed: list[str] = []
        self.tokens: dict[str, str] = {}  # conversation tokens from xs_session, by session id
        self.uttered: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self._event = threading.Event()
        self.client.on("session_confirm", self._confirm)
        self.client.on("xs_session", self._token)
        self.client.on("bot_uttered", lambda d: self._add(self.uttered, d))
        self.client.on("xs_message", lambda d: self._add(self.entries, d))
        headers = {**(headers or {}), **({"Origin": origin} if origin else {})}
        # websocket-client adds an Origin of its own, so a chosen Origin is sent over polling.
        transports = [transport] if transport else ["polling"] if origin else ["websocket"]
        self.client.connect(url, transports=transports, headers=headers, wait_timeout=10)

    def _confirm(self, data: str) -> None:
        self.confirmed.append(data)
        self._event.set()

    def _token(self, data: dict[str, str]) -> None:
        self.tokens[data["session_id"]] = data["conversation_token"]

    def _add(self, bucket: list[dict[str, Any]], data: dict[str, Any]) -> None:
        bucket.append(data)

    def session(self, session_id: str | None = None, token: str | None = None) -> str:
        self._event.clear()
        self.client.emit("session_request", {"session_id": session_id, "conversation_token": token})
        assert self._event.wait(10), "no session_confirm"
        return self.confirmed[-1]

    def say(self, text: str, session_id: str, **extra: Any) -> dict[str, Any]:
        ack = self.client.call(
            "user_uttered", {"message": text, "session_id": session_id, "customData": {}, **extra}, timeout=60
        )
        time.sleep(0.3)  # replies are emitted before the ack; let the client dispatch them
        return ack  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.client.eio.current_transport == "polling":
            # A clean disconnect waits for the pending long-poll to return (up to the ping interval,
            # 25 s); the engine.io close packet is sent either way, so do not wait for it.
            self.client.eio.disconnect(abort=True)
        else:
            self.client.disconnect()
