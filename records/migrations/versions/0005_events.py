"""Events for the service figures (the dashboard).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("conversation", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(64)),
        sa.Column("section", sa.String(64)),
        sa.Column("outcome", sa.String(24)),
        sa.Column("agent", sa.String(64)),
        sa.Column("value", sa.Float()),
        sa.Column("ref", sa.String(64)),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_kind_at", "events", ["kind", "at"])
    op.create_index("ix_events_conversation", "events", ["conversation"])


def downgrade() -> None:
    op.drop_table("events")
