"""Saved connections and the query history.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
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
        "connections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("dialect", sa.String(40), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "query_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connection_name", sa.String(100), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("sql", sa.Text),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("row_count", sa.Integer),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("author", sa.String(100)),
        sa.Column("marked_good", sa.Boolean, nullable=False),
    )
    op.create_index("ix_query_runs_created_at", "query_runs", ["created_at"])
    op.create_index("ix_query_runs_connection_name", "query_runs", ["connection_name"])
    op.create_index("ix_query_runs_author", "query_runs", ["author"])


def downgrade() -> None:
    op.drop_table("query_runs")
    op.drop_table("connections")
