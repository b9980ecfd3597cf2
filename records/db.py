"""The database of record: settings, engine, sessions and Alembic migrations.

SQLite file by default (`var/xiaoshen.db`), PostgreSQL when `XS_DATABASE_URL` says so
(`postgresql+psycopg://…`; a bare `postgresql://` URL is read the same way). Schema changes go
only through Alembic revisions in records/migrations (`python -m records migrate`).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    """Now, in UTC (every time of record is stored as UTC)."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Every table of the database of record."""


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XS_", extra="ignore")

    database_url: str = f"sqlite:///{ROOT / 'var' / 'xiaoshen.db'}"


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` as SQLAlchemy's psycopg 3 dialect; others unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the gateway read while the action server writes; wait rather than fail on a lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """One engine and its session factory; `migrate()` brings the schema to the newest revision."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings | None = None) -> Database:
        return cls((settings or DatabaseSettings()).database_url)

    def alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def migrate(self) -> None:
        """Upgrade to the newest revision (nothing to do when already there)."""
        if self.current_revision() == self.head_revision():
            return
        log.info("migrating the database to %s", self.head_revision())
        command.upgrade(self.alembic_config(), "head")

    def dispose(self) -> None:
        self.engine.dispose()
