"""Training runs: loss curves and hyperparameters of fine-tuning runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("author", sa.String(100)),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("series_names", sa.Text, nullable=False),
        sa.Column("hyperparameters", sa.Text, nullable=False),
        sa.Column("warnings", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        # MySQL makes a BLOB this long a LONGBLOB; a plain BLOB stops at 64 KB.
        sa.Column("curves", sa.LargeBinary(length=2**32 - 1), nullable=False),
        sa.Column("job_id", sa.String(100)),
        sa.Column("job_status", sa.String(40)),
    )
    op.create_index("ix_training_runs_created_at", "training_runs", ["created_at"])
    op.create_index("ix_training_runs_author", "training_runs", ["author"])
    op.create_index("ix_training_runs_job_id", "training_runs", ["job_id"])


def downgrade() -> None:
    op.drop_table("training_runs")
