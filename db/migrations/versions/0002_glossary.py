"""The glossary: one version per save, each holding every entry of that version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "glossary_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("connection_name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.UniqueConstraint("connection_name", "version", name="uq_glossary_versions_version"),
    )
    op.create_table(
        "glossary_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("glossary_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("table_name", sa.String(200), nullable=False),
        sa.Column("column_name", sa.String(200), nullable=False),
        sa.Column("phrase", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
    )
    op.create_index("ix_glossary_entries_version_id", "glossary_entries", ["version_id"])


def downgrade() -> None:
    op.drop_table("glossary_entries")
    op.drop_table("glossary_versions")
