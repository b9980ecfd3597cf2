"""Helpers for talking to the running gateway."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tools.chat_client import with_tokens
from tools.stack import Stack

Chat = Callable[[str], dict[str, Any]]


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as client:
        yield client


@pytest.fixture
def new_sender() -> Callable[[], str]:
    return lambda: f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def chat(gateway: httpx.Client, new_sender: Callable[[], str]) -> Chat:
    """Send messages in one fresh conversation; each call returns the 200 JSON reply."""
    sender = new_sender()

    def send(message: str) -> dict[str, Any]:
        resp = gateway.post("/api/chat", json={"sender_id": sender, "message": message, "channel": "web"})
        assert resp.status_code == 200, resp.text
        return resp.json()

    send.sender_id = sender  # type: ignore[attr-defined]
    return send
