"""The store: migrations from empty to head and back, sessions per unit of work."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from db import database
from db.models import QueryRun


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names


def _roundtrip(url: str) -> None:
    database.upgrade_to_head(url)
    assert {"connections", "query_runs", "alembic_version"} <= _tables(url)
    head = database.current_revision(url)
    config = database.alembic_config(url)
    command.downgrade(config, "base")
    assert "query_runs" not in _tables(url)
    command.upgrade(config, "head")
    assert database.current_revision(url) == head
    database.dispose(url)


def test_migrations_run_on_sqlite(tmp_path):
    _roundtrip(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.mark.mysql
def test_migrations_run_on_mariadb(scratch_mysql):
    _roundtrip(scratch_mysql)


def test_session_scope_commits_or_rolls_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    database.upgrade_to_head(url)

    def run(question: str) -> QueryRun:
        return QueryRun(
            connection_name="c",
            question=question,
            engine="offline",
            status="ok",
            duration_ms=1.0,
            truncated=False,
            marked_good=False,
        )

    with database.session_scope(url) as session:
        session.add(run("kept"))
    with pytest.raises(RuntimeError):
        with database.session_scope(url) as session:
            session.add(run("lost"))
            session.flush()
            raise RuntimeError("boom")
    with database.session_scope(url) as session:
        questions = [r.question for r in session.scalars(sa.select(QueryRun))]
    assert questions == ["kept"]
    database.dispose(url)


def test_sqlite_store_uses_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with database.get_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database.dispose(url)
