"""Alembic migrations: they build exactly the tables the models describe, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from records.db import Base, Database


def test_upgrade_builds_the_models_schema_exactly(empty_database: Database) -> None:
    empty_database.migrate()
    assert empty_database.current_revision() == empty_database.head_revision()
    with empty_database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ (write a revision): {diff}"


def test_migrate_twice_is_harmless_and_downgrade_removes_the_tables(empty_database: Database) -> None:
    empty_database.migrate()
    empty_database.migrate()
    assert "declarations" in inspect(empty_database.engine).get_table_names()
    command.downgrade(empty_database.alembic_config(), "base")
    assert "declarations" not in inspect(empty_database.engine).get_table_names()
    empty_database.migrate()
    assert "declarations" in inspect(empty_database.engine).get_table_names()
