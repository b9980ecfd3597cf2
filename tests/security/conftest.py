"""In-process gateways on the test's real Redis, with settings a test chooses (rate limits)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.handoff.hours import ServiceHours
from connectors.gateway.settings import Settings
from connectors.gateway.state import AppState
from tests.handoff.conftest import ADMIN, Gateway, ScriptedRasa
from tools.chat_client import TokenJar

MakeGateway = Callable[..., Gateway]


@pytest.fixture
def gateway_with(redis_url: str) -> Iterator[MakeGateway]:
    """make(**settings) → an in-process gateway ("process") with those settings, Rasa scripted;
    all of a test's gateways share its Redis and one TokenJar (the same users)."""
    started: list[TestClient] = []
    jar = TokenJar()

    def make(**overrides: Any) -> Gateway:
        settings = Settings(redis_url=redis_url, xs_admin_user=ADMIN[0],
                            xs_admin_password=ADMIN[1],  # type: ignore[arg-type]
                            rasa_url="http://127.0.0.1:9",
                            actions_url="http://127.0.0.1:9", **overrides)
        rasa = ScriptedRasa()

        def state(s: Settings) -> AppState:
            built = AppState.create(s, rasa=rasa)  # type: ignore[arg-type]
            built.handoff.service.hours = ServiceHours.always()
            return built

        client = jar.attach(TestClient(create_app(settings, make_state=state)))
        client.__enter__()
        started.append(client)
        return Gateway(client, rasa)

    yield make
    for client in started:
        client.__exit__(None, None, None)
