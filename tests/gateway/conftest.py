"""The editors' API tests' gateway: the real app over the session's Redis (emptied per test), an admin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from connectors.gateway.app import create_app
from connectors.gateway.settings import Settings
from tests.conftest import postgres_url

ADMIN = ("admin", "admin-secret-123")
SEED_ID = "elder-allowance"


def _client(redis_url: str, database_url: str | None = None) -> Iterator[TestClient]:
    redis.Redis.from_url(redis_url).flushall()
    extra: dict[str, Any] = {"xs_database_url": database_url} if database_url else {}
    settings = Settings(redis_url=redis_url, xs_admin_user=ADMIN[0], xs_admin_password=ADMIN[1],  # type: ignore[arg-type]
                        rasa_url="http://127.0.0.1:9", actions_url="http://127.0.0.1:9", kb_apply_wait_s=0,
                        **extra)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def kb_client(redis_url: str) -> Iterator[TestClient]:
    """The gateway on a copy of the seeded SQLite database of record (tests/conftest.py)."""
    yield from _client(redis_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def kb_client_both(request: pytest.FixtureRequest, redis_url: str) -> Iterator[TestClient]:
    """The gateway on SQLite, then on a fresh PostgreSQL database it migrates and seeds itself."""
    url = postgres_url(request.getfixturevalue("postgres_server")) if request.param == "postgresql" else None
    yield from _client(redis_url, url)


def login(client: TestClient, username: str, password: str) -> str:
    resp = client.post("/api/auth/login", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])
