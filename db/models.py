"""ORM models of the store. Each table's schema is created by a migration in
``db/migrations/versions``; a change here needs a new migration there."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import orm

from db.database import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SavedConnection(Base):
    """A target database the user added. The URL never holds a password:
    that comes from secrets (``[connections.NAME]``) or the environment."""

    __tablename__ = "connections"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(100), unique=True)
    dialect: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    url: orm.Mapped[str] = orm.mapped_column(sa.String(1000))
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    # Who added it in team mode (None in local mode, or before owners were kept).
    created_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(100))


class QueryRun(Base):
    """One question (or hand-edited SQL) run against a target, failed runs included."""

    __tablename__ = "query_runs"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow, index=True
    )
    connection_name: orm.Mapped[str] = orm.mapped_column(sa.String(100), index=True)
    question: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    sql: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    engine: orm.Mapped[str] = orm.mapped_column(sa.String(100))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    duration_ms: orm.Mapped[float] = orm.mapped_column(sa.Float, default=0.0)
    row_count: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    truncated: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, default=False)
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    author: orm.Mapped[str | None] = orm.mapped_column(sa.String(100), index=True)
    marked_good: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, default=False)


class User(Base):
    """A person who may log in to a team deployment when no OIDC provider is set up."""

    __tablename__ = "users"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(100), unique=True)
    password_hash: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    last_login_at: orm.Mapped[dt.datetime | None] = orm.mapped_column(sa.DateTime(timezone=True))


class GlossaryVersion(Base):
    """One saved state of a connection's glossary: who saved it, when, and what changed."""

    __tablename__ = "glossary_versions"
    __table_args__ = (
        sa.UniqueConstraint("connection_name", "version", name="uq_glossary_versions_version"),
    )

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    connection_name: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    version: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    author: orm.Mapped[str] = orm.mapped_column(sa.String(100))
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    summary: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    entries: orm.Mapped[list[GlossaryEntry]] = orm.relationship(
        back_populates="version_row", cascade="all, delete-orphan", order_by="GlossaryEntry.id"
    )


class GlossaryEntry(Base):
    """A column meaning ('meaning'), a value synonym ('synonym') or a business term ('term').

    ``phrase`` holds the meaning, the synonym or the term; ``value`` the canonical value
    or the term's definition.
    """

    __tablename__ = "glossary_entries"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    version_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey("glossary_versions.id", ondelete="CASCADE"), index=True
    )
    kind: orm.Mapped[str] = orm.mapped_column(sa.String(10))
    table_name: orm.Mapped[str] = orm.mapped_column(sa.String(200), default="")
    column_name: orm.Mapped[str] = orm.mapped_column(sa.String(200), default="")
    phrase: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    value: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    source: orm.Mapped[str] = orm.mapped_column(sa.String(100), default="")
    version_row: orm.Mapped[GlossaryVersion] = orm.relationship(back_populates="entries")


# A run's curves can hold a million points: MySQL's plain BLOB stops at 64 KB, and
# MySQL makes a BLOB declared this long a LONGBLOB (PostgreSQL's BYTEA has no limit).
CURVES_TYPE = sa.LargeBinary(length=2**32 - 1)


class TrainingRun(Base):
    """One fine-tuning run's loss log: its curves packed in one blob, its hyperparameters.

    ``curves`` is what ``core.training_runs.pack_series`` writes (a compressed numpy
    archive); listing runs never loads it. ``job_id`` links a run followed from an
    OpenAI fine-tuning job, whose curves are replaced as new metrics arrive.
    """

    __tablename__ = "training_runs"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow, index=True
    )
    updated_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    name: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    source: orm.Mapped[str] = orm.mapped_column(sa.String(1000))
    format: orm.Mapped[str] = orm.mapped_column(sa.String(40))
    author: orm.Mapped[str | None] = orm.mapped_column(sa.String(100), index=True)
    points: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)
    series_names: orm.Mapped[str] = orm.mapped_column(sa.Text, default="[]")
    hyperparameters: orm.Mapped[str] = orm.mapped_column(sa.Text, default="{}")
    warnings: orm.Mapped[str] = orm.mapped_column(sa.Text, default="[]")
    summary: orm.Mapped[str] = orm.mapped_column(sa.Text, default="{}")
    curves: orm.Mapped[bytes] = orm.mapped_column(CURVES_TYPE, deferred=True)
    job_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(100), index=True)
    job_status: orm.Mapped[str | None] = orm.mapped_column(sa.String(40))


class PromptVersion(Base):
    """One version of the text-to-SQL prompt template. Never edited: a change is a new
    version whose parent is the one it changed, with a note saying why."""

    __tablename__ = "prompt_versions"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    parent_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("prompt_versions.id"))
    text: orm.Mapped[str] = orm.mapped_column(sa.Text)
    note: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    author: orm.Mapped[str | None] = orm.mapped_column(sa.String(100))


class PromptPromotion(Base):
    """A version made the one the Ask page uses; the newest promotion wins."""

    __tablename__ = "prompt_promotions"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    version_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("prompt_versions.id"))
    promoted_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    author: orm.Mapped[str | None] = orm.mapped_column(sa.String(100))


class EvalSet(Base):
    """A named set of questions with gold SQL (or only an ambiguity flag)."""

    __tablename__ = "eval_sets"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(200), unique=True)
    description: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )


class EvalCase(Base):
    __tablename__ = "eval_cases"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    set_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey("eval_sets.id", ondelete="CASCADE"), index=True
    )
    position: orm.Mapped[int] = orm.mapped_column(sa.Integer)
    case_key: orm.Mapped[str] = orm.mapped_column(sa.String(100))
    question: orm.Mapped[str] = orm.mapped_column(sa.Text)
    gold_sql: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    ambiguous: orm.Mapped[bool | None] = orm.mapped_column(sa.Boolean)
    note: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    source: orm.Mapped[str] = orm.mapped_column(sa.String(40), default="manual")
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )


class EvalRun(Base):
    """One engine (the offline one, or a prompt version with a model) over one eval set."""

    __tablename__ = "eval_runs"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    set_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey("eval_sets.id", ondelete="CASCADE"), index=True
    )
    created_at: orm.Mapped[dt.datetime] = orm.mapped_column(
        sa.DateTime(timezone=True), default=utcnow
    )
    finished_at: orm.Mapped[dt.datetime | None] = orm.mapped_column(sa.DateTime(timezone=True))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    connection_name: orm.Mapped[str] = orm.mapped_column(sa.String(100))
    engine: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    model: orm.Mapped[str | None] = orm.mapped_column(sa.String(100))
    prompt_version_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey("prompt_versions.id")
    )
    label: orm.Mapped[str] = orm.mapped_column(sa.String(200))
    batch: orm.Mapped[str] = orm.mapped_column(sa.String(40), index=True)
    case_count: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    author: orm.Mapped[str | None] = orm.mapped_column(sa.String(100))


class EvalResult(Base):
    """One case of one run: the SQL written, whether its rows match the gold rows, the cost."""

    __tablename__ = "eval_results"

    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    run_id: orm.Mapped[int] = orm.mapped_column(
        sa.ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True
    )
    case_key: orm.Mapped[str] = orm.mapped_column(sa.String(100))
    question: orm.Mapped[str] = orm.mapped_column(sa.Text)
    gold_sql: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(20))
    sql: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    duration_ms: orm.Mapped[float] = orm.mapped_column(sa.Float, default=0.0)
    prompt_tokens: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)
    completion_tokens: orm.Mapped[int] = orm.mapped_column(sa.Integer, default=0)
