"""Redis stopped mid-conversation: 503 naming Redis, then recovery with earlier turns intact.

Runs last in this package (file name order) because it stops the shared Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tools.stack import Stack


def _post(gateway: httpx.Client, sender: str, message: str) -> httpx.Response:
    return gateway.post("/api/chat", json={"sender_id": sender, "message": message})


def test_redis_outage_gives_503_then_recovers_with_history(
    stack: Stack, gateway: httpx.Client, new_sender: Callable[[], str]
) -> None:
    sender = new_sender()
    question = "来上海工作第一次申领居住证怎么办理"
    first = _post(gateway, sender, question)
    assert first.status_code == 200
    assert first.json()["turn"]["service_id"] == "residence-permit"

    stack.stop_redis()
    try:
        down = _post(gateway, sender, "要带什么材料")
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "redis_unavailable"
        assert "Redis" in down.json()["error"]["message"]
        health = gateway.get("/health")
        assert health.status_code == 503
        assert health.json()["components"]["redis"] != "ok"
        assert health.json()["components"]["rasa"] == "ok"
    finally:
        stack.start_redis()

    deadline = time.time() + 60
    while gateway.get("/health").status_code != 200:
        assert time.time() < deadline, "the stack did not recover after Redis came back"
        time.sleep(0.5)

    # The conversation continues where it was: the follow-up is about the same service.
    again = _post(gateway, sender, "要带什么材料")
    assert again.status_code == 200, again.text
    assert again.json()["turn"]["service_id"] == "residence-permit"
    assert again.json()["turn"]["section"] == "materials"

    tracker = httpx.get(
        f"http://127.0.0.1:{stack.ports.rasa}/conversations/{sender}/tracker",
        params={"token": stack.rasa_token}, timeout=30,
    ).json()
    said = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert said[0] == question
    assert said[-1] == "要带什么材料"
