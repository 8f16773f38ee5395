"""The query history: every run saved in the store, failed runs included."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import sqlalchemy as sa

from core.ask import AskResult
from db.database import session_scope
from db.models import QueryRun

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    id: int
    created_at: dt.datetime
    connection_name: str
    question: str
    sql: str | None
    engine: str
    status: str
    duration_ms: float
    row_count: int | None
    truncated: bool
    error: str | None
    author: str | None
    marked_good: bool


def _entry(run: QueryRun) -> HistoryEntry:
    return HistoryEntry(**{f.name: getattr(run, f.name) for f in dataclasses.fields(HistoryEntry)})


def record(
    result: AskResult,
    connection_name: str,
    *,
    author: str | None = None,
    store_url: str | None = None,
) -> int:
    """Save one run; returns its id."""
    with session_scope(store_url) as session:
        run = QueryRun(
            connection_name=connection_name,
            question=result.question or "",
            sql=result.sql,
            engine=result.engine,
            status=result.status,
            duration_ms=round(result.duration_ms, 1),
            row_count=result.row_count if result.status == "ok" else None,
            truncated=result.truncated,
            error=result.error,
            author=author,
            marked_good=False,
        )
        session.add(run)
        session.flush()
        return run.id


def recent(
    *,
    connection_name: str | None = None,
    author: str | None = None,
    limit: int = 50,
    store_url: str | None = None,
) -> list[HistoryEntry]:
    """The newest runs first, optionally of one connection and one author."""
    with session_scope(store_url) as session:
        query = sa.select(QueryRun).order_by(QueryRun.id.desc()).limit(limit)
        if connection_name is not None:
            query = query.where(QueryRun.connection_name == connection_name)
        if author is not None:
            query = query.where(QueryRun.author == author)
        return [_entry(r) for r in session.scalars(query)]


def mark_good(run_id: int, good: bool = True, *, store_url: str | None = None) -> None:
    with session_scope(store_url) as session:
        run = session.get(QueryRun, run_id)
        if run is not None:
            run.marked_good = good


def good_runs(
    *, connection_name: str | None = None, store_url: str | None = None, limit: int = 10_000
) -> list[HistoryEntry]:
    """Runs marked good, with SQL that ran: material for eval sets and training data."""
    with session_scope(store_url) as session:
        query = (
            sa.select(QueryRun)
            .where(QueryRun.marked_good.is_(True), QueryRun.status == "ok")
            .order_by(QueryRun.id)
            .limit(limit)
        )
        if connection_name is not None:
            query = query.where(QueryRun.connection_name == connection_name)
        return [_entry(r) for r in session.scalars(query)]
