"""A real Redis (valkey-server) per session, and the gateway in-process with a scripted Rasa.

The handoff's behaviour depends on Redis only, so these tests run the real gateway app against a
real Redis; Rasa is replaced by a small script so each test knows exactly what the bot would say
and can check that the bot is never asked while a person holds the conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.auth import Accounts
from connectors.gateway.handoff.hours import ServiceHours
from connectors.gateway.settings import Settings
from connectors.gateway.state import AppState
from contract.turn import turn_block
from tools.chat_client import TokenJar

ADMIN = ("admin", "admin-secret-123")
PASSWORD = "agent-pass-123"


class ScriptedRasa:
    """Stands in for Rasa: asking for a person gives the handoff outcome, anything else an answer."""

    HUMAN = ("转人工", "人工客服", "/ask_human", "找客服")

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def send(self, sender_id: str, message: str) -> list[dict[str, Any]]:
        self.calls.append((sender_id, message))
        if any(word in message for word in self.HUMAN):
            return [{"text": "好的，正在为您转接人工客服（店小二），请稍候。"},
                    {"custom": {"turn": turn_block("handoff", intent="ask_human", confidence=0.95)}}]
        return [{"text": f"小申的回答：{message}"},
                {"custom": {"turn": turn_block("answer", intent="ask_guide", confidence=0.9,
                                               service_id="ent-setup", section="overview",
                                               candidates=["ent-setup"])}}]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        pass

    def bot_calls(self, sender_id: str) -> list[str]:
        return [m for s, m in self.calls if s == sender_id]


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=redis_url, xs_admin_user=ADMIN[0], xs_admin_password=ADMIN[1],  # type: ignore[arg-type]
                    rasa_url="http://127.0.0.1:9", actions_url="http://127.0.0.1:9")


class Gateway:
    """One in-process gateway (a "process"): HTTP client, scripted Rasa, helpers."""

    def __init__(self, client: TestClient, rasa: ScriptedRasa) -> None:
        self.client = client
        self.rasa = rasa
        self.app = client.app
        self._tokens: dict[str, str] = {}

    @property
    def xs(self) -> Any:
        return self.app.state.xs  # type: ignore[attr-defined]

    def chat(self, sender_id: str, message: str, channel: str = "web") -> dict[str, Any]:
        resp = self.client.post("/api/chat", json={"sender_id": sender_id, "message": message,
                                                   "channel": channel})
        assert resp.status_code == 200, resp.text
        return resp.json()  # type: ignore[no-any-return]

    def messages(self, sender_id: str, after: int = 0) -> list[dict[str, Any]]:
        resp = self.client.get(f"/api/chat/{sender_id}/messages", params={"after": after})
        assert resp.status_code == 200, resp.text
        return resp.json()["messages"]  # type: ignore[no-any-return]

    def login(self, username: str, password: str = PASSWORD) -> str:
        resp = self.client.post("/api/auth/login", data={"username": username, "password": password})
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]  # type: ignore[no-any-return]

    def auth(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            self._tokens[username] = self.login(username, ADMIN[1] if username == ADMIN[0] else PASSWORD)
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    def add_user(self, username: str, roles: list[str], max_concurrent: int | None = None,
                 display_name: str = "") -> None:
        body: dict[str, Any] = {"password": PASSWORD, "roles": roles, "display_name": display_name}
        if max_concurrent:
            body["max_concurrent"] = max_concurrent
        resp = self.client.put(f"/api/auth/users/{username}", json=body, headers=self.auth(ADMIN[0]))
        assert resp.status_code == 200, resp.text

    def agent(self, method: str, path: str, username: str, **kwargs: Any) -> Any:
        return self.client.request(method, "/api/agents" + path, headers=self.auth(username), **kwargs)

    def set_hours(self, hours: ServiceHours) -> None:
        self.xs.handoff.service.hours = hours


@pytest.fixture
def make_gateway(settings: Settings) -> Iterator[Callable[..., Gateway]]:
    """Start gateways ("processes") sharing the test's Redis; each is stopped at the end.

    Their users keep their conversation tokens across gateways (one TokenJar)."""
    started: list[TestClient] = []
    jar = TokenJar()

    def make(rasa: ScriptedRasa | None = None, **overrides: Any) -> Gateway:
        """A gateway on the test's settings, with `overrides` (any Settings field) on top."""
        chosen = Settings(**{**settings.model_dump(), **overrides}) if overrides else settings
        rasa = rasa or ScriptedRasa()

        def state(s: Settings) -> AppState:
            built = AppState.create(s, rasa=rasa)  # type: ignore[arg-type]
            built.handoff.service.hours = ServiceHours.always()
            return built

        client = jar.attach(TestClient(create_app(chosen, make_state=state)))
        client.__enter__()
        started.append(client)
        return Gateway(client, rasa)

    yield make
    for client in started:
        client.__exit__(None, None, None)


@pytest.fixture
def gw(make_gateway: Callable[[], Gateway]) -> Gateway:
    """One gateway, with agents 'xiaowang' and 'xiaoli' (agent role) and the admin."""
    gateway = make_gateway()
    gateway.add_user("xiaowang", ["agent"], display_name="小王")
    gateway.add_user("xiaoli", ["agent"], display_name="小李")
    return gateway


@pytest.fixture
async def aredis(redis_url: str) -> Any:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def accounts(aredis: aioredis.Redis) -> Accounts:
    return Accounts(aredis, 3600)
