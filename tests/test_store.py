"""The store: migrations from empty to head and back, sessions per unit of work."""

from __future__ import annotations

import concurrent.futures

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db import database
from db.database import Base
from db.models import QueryRun


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names


def _models_match_migrations(url: str) -> None:
    """The tables the migrations build are the ones the ORM models describe."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    # Server defaults and type spellings differ by backend; tables, columns and indexes must not.
    kinds = {
        "add_table",
        "remove_table",
        "add_column",
        "remove_column",
        "add_index",
        "remove_index",
    }
    assert [d for d in diffs if isinstance(d, tuple) and d[0] in kinds] == []


def _roundtrip(url: str) -> None:
    """Empty to head, down one step and up again, down to empty and up again."""
    database.upgrade_to_head(url)
    assert set(Base.metadata.tables) | {"alembic_version"} == _tables(url)
    _models_match_migrations(url)
    head = database.current_revision(url)
    config = database.alembic_config(url)
    command.downgrade(config, "-1")
    assert database.current_revision(url) != head
    command.upgrade(config, "head")
    assert database.current_revision(url) == head
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


@pytest.mark.postgres
def test_migrations_run_on_postgresql(scratch_pg):
    _roundtrip(scratch_pg)


def test_an_older_store_is_upgraded_at_start_up(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(database.alembic_config(url), "0001")
    assert database.current_revision(url) == "0001"
    database.upgrade_to_head(url)
    heads = ScriptDirectory.from_config(database.alembic_config(url)).get_heads()
    assert [database.current_revision(url)] == heads
    database.dispose(url)


EDITS = 5  # glossary edits per session; each one is a new version of the whole glossary


def _record_many(store_url: str, writers: int = 10, each: int = 50) -> None:
    """Ten sessions at once, each saving `each` history rows and EDITS glossary edits."""
    import dataclasses

    from core import glossary_store, history
    from core.ask import AskResult
    from core.glossary import BusinessTerm

    def add_term(writer: int, i: int):
        def change(current):
            term = BusinessTerm(f"w{writer} t{i}", f"condition {writer}.{i}")
            return dataclasses.replace(current, terms=[*current.terms, term])

        return change

    def work(writer: int) -> None:
        for i in range(each):
            history.record(
                AskResult(question=f"w{writer} q{i}", engine="offline"),
                "c",
                author=f"user{writer}",
                store_url=store_url,
            )
            if i < EDITS:
                glossary_store.update(
                    "c", add_term(writer, i), author=f"user{writer}", store_url=store_url
                )

    with concurrent.futures.ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(work, range(writers)))


def _assert_all_rows(store_url: str, writers: int = 10, each: int = 50) -> None:
    from core import glossary_store

    with database.session_scope(store_url) as session:
        questions = set(session.scalars(sa.select(QueryRun.question)))
    assert questions == {f"w{w} q{i}" for w in range(writers) for i in range(each)}
    terms = {t.term for t in glossary_store.load("c", store_url=store_url).terms}
    assert terms == {f"w{w} t{i}" for w in range(writers) for i in range(EDITS)}
    assert len(glossary_store.history("c", store_url=store_url)) == writers * EDITS


def test_ten_writers_at_once_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    database.upgrade_to_head(url)
    _record_many(url)
    _assert_all_rows(url)
    database.dispose(url)


@pytest.mark.mysql
def test_ten_writers_at_once_on_mariadb(scratch_mysql):
    database.upgrade_to_head(scratch_mysql)
    _record_many(scratch_mysql)
    _assert_all_rows(scratch_mysql)
    database.dispose(scratch_mysql)


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
