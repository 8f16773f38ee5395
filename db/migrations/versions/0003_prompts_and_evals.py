"""Prompt versions and promotions, eval sets, cases, runs and results, saved readings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "prompt_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        _when("created_at"),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("prompt_versions.id")),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("author", sa.String(100)),
    )
    op.create_table(
        "prompt_promotions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("prompt_versions.id"), nullable=False),
        _when("promoted_at"),
        sa.Column("author", sa.String(100)),
    )
    op.create_table(
        "eval_sets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "eval_cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "set_id",
            sa.Integer,
            sa.ForeignKey("eval_sets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("case_key", sa.String(100), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("gold_sql", sa.Text),
        sa.Column("ambiguous", sa.Boolean),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_eval_cases_set_id", "eval_cases", ["set_id"])
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "set_id",
            sa.Integer,
            sa.ForeignKey("eval_sets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _when("created_at"),
        _when("finished_at", nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("connection_name", sa.String(100), nullable=False),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("model", sa.String(100)),
        sa.Column("prompt_version_id", sa.Integer, sa.ForeignKey("prompt_versions.id")),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("batch", sa.String(40), nullable=False),
        sa.Column("case_count", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("author", sa.String(100)),
    )
    op.create_index("ix_eval_runs_set_id", "eval_runs", ["set_id"])
    op.create_index("ix_eval_runs_batch", "eval_runs", ["batch"])
    op.create_table(
        "eval_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("eval_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("case_key", sa.String(100), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("gold_sql", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sql", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
    )
    op.create_index("ix_eval_results_run_id", "eval_results", ["run_id"])


def downgrade() -> None:
    op.drop_table("eval_results")
    op.drop_table("eval_runs")
    op.drop_table("eval_cases")
    op.drop_table("eval_sets")
    op.drop_table("prompt_promotions")
    op.drop_table("prompt_versions")
