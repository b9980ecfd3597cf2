"""A gateway with more turns under way than it can serve refuses new ones at once, clearly, and
stores nothing for them; it serves again as soon as the backlog clears (docs/benchmarks.md, "Load")."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.settings import Settings
from connectors.gateway.state import AppState
from contract.turn import turn_block


class HeldRasa:
    """Answers only once released: the turns under way pile up while it holds them."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = threading.Semaphore(0)

    async def send(self, sender_id: str, message: str) -> list[dict[str, Any]]:
        self.waiting.release()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return [{"text": f"小申的回答：{message}"},
                {"custom": {"turn": turn_block("answer", intent="ask_guide", confidence=0.9,
                                               service_id="ent-setup", section="overview",
                                               candidates=["ent-setup"])}}]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass


@pytest.fixture
def held(redis_url: str) -> Iterator[tuple[TestClient, HeldRasa]]:
    redis.Redis.from_url(redis_url).flushall()
    rasa = HeldRasa()
    settings = Settings(redis_url=redis_url, rasa_url="http://127.0.0.1:9",  # type: ignore[arg-type]
                        actions_url="http://127.0.0.1:9", max_turns_in_flight=2, xs_rate_limits="off")
    app = create_app(settings, make_state=lambda s: AppState.create(s, rasa=rasa))  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield client, rasa
        rasa.release.set()


def chat(client: TestClient, sender: str, text: str) -> Any:
    return client.post("/api/chat", json={"sender_id": sender, "message": text, "channel": "web"})


def test_turns_beyond_the_limit_are_refused_at_once_and_nothing_of_them_is_stored(
        held: tuple[TestClient, HeldRasa]) -> None:
    client, rasa = held
    with ThreadPoolExecutor(2) as pool:
        first = [pool.submit(chat, client, f"busy-{i}", "开公司要什么材料") for i in range(2)]
        for _ in first:
            assert rasa.waiting.acquire(timeout=10), "the held turns reached Rasa"
        refused = chat(client, "late", "护照怎么办")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        error = refused.json()["error"]
        assert error["code"] == "overloaded" and "请过几秒再发一次" in error["message"]
        assert " / " in error["message"]  # Chinese and English
        rasa.release.set()
        assert [f.result(timeout=10).status_code for f in first] == [200, 200]
    # The refused message was never stored: the conversation does not exist.
    assert client.get("/api/chat/late/messages").status_code in (403, 404)
    again = chat(client, "late", "护照怎么办")
    assert again.status_code == 200 and "小申的回答：护照怎么办" in again.json()["messages"][0]["text"]
