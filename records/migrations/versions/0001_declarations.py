"""Smart declarations: drafts and records.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "declarations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ref", sa.String(32), nullable=True),
        sa.Column("declaration_id", sa.String(64), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resume_code", sa.String(12), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("application", sa.JSON(), nullable=False),
        sa.Column("prefill_share", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_declarations_ref", "declarations", ["ref"], unique=True)
    op.create_index("ix_declarations_declaration_id", "declarations", ["declaration_id"])
    op.create_index("ix_declarations_sender_id", "declarations", ["sender_id"])
    op.create_index("ix_declarations_status", "declarations", ["status"])
    op.create_index("ix_declarations_resume_code", "declarations", ["resume_code"], unique=True)


def downgrade() -> None:
    op.drop_table("declarations")
