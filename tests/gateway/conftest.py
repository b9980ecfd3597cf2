"""The editors' API tests' gateway: the real app over the session's Redis (emptied per test), an admin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.settings import Settings

ADMIN = ("admin", "admin-secret-123")
SEED_ID = "elder-allowance"


@pytest.fixture
def kb_client(redis_url: str) -> Iterator[TestClient]:
    redis.Redis.from_url(redis_url).flushall()
    settings = Settings(redis_url=redis_url, xs_admin_user=ADMIN[0], xs_admin_password=ADMIN[1],  # type: ignore[arg-type]
                        rasa_url="http://127.0.0.1:9", actions_url="http://127.0.0.1:9", kb_apply_wait_s=0)
    with TestClient(create_app(settings)) as c:
        yield c


def login(client: TestClient, username: str, password: str) -> str:
    resp = client.post("/api/auth/login", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])
