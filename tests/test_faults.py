"""Faults and limits on a real MariaDB: each ends in a clear message, and the next action works."""

from __future__ import annotations

import time
import tracemalloc

import pytest
import sqlalchemy as sa

from core.ask import ask, run_sql
from core.execute import run_query
from core.settings import Settings
from core.target import open_target
from tests.model_server import Reply

pytestmark = pytest.mark.mysql

TEN_MILLION = "SELECT seq FROM seq_1_to_10000000"


@pytest.fixture()
def target(chinook_url):
    opened = open_target(chinook_url, Settings.load())
    yield opened
    opened.close()


def test_a_connection_closed_by_wait_timeout(target):
    """The server drops idle connections after wait_timeout; the next query still runs."""
    sa.event.listen(
        target.engine,
        "connect",
        lambda conn, _: conn.cursor().execute("SET SESSION wait_timeout = 2"),
    )
    target.engine.dispose()  # new connections get the short timeout
    first = run_sql("SELECT COUNT(*) FROM Genre", target, Settings.load())
    assert first.ok and first.rows == [(25,)]
    time.sleep(4.5)
    second = run_sql("SELECT COUNT(*) FROM Genre", target, Settings.load())
    assert second.ok and second.rows == [(25,)]


def test_the_statement_time_limit(target):
    settings = Settings.load().replace(query_timeout_s=1.0)
    slow = run_sql(
        "SELECT COUNT(*) FROM Track a, Track b, Track c WHERE a.Name < b.Name", target, settings
    )
    assert slow.status == "timeout" and "1 s time limit" in slow.error
    assert "QUARRY_QUERY_TIMEOUT_S" in slow.hint
    assert run_sql("SELECT COUNT(*) FROM Genre", target, settings).ok


def test_ten_million_rows_meet_the_row_cap(target):
    settings = Settings.load()
    tracemalloc.start()
    result = run_sql(TEN_MILLION, _with_sequences(target), settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.ok and result.truncated and result.row_count == settings.row_limit
    assert "LIMIT 1000" in result.sql
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MB"


def test_ten_million_rows_with_the_guard_bypassed(target):
    """Even without the guard's LIMIT, execution streams and stops at cap + 1 rows."""
    tracemalloc.start()
    result = run_query(target.engine, TEN_MILLION, server=target.server, row_cap=1000, timeout_s=30)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.truncated and result.row_count == 1000
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MB"
    assert run_query(
        target.engine, "SELECT 1", server=target.server, row_cap=1, timeout_s=5
    ).rows == [(1,)]


def _with_sequences(target):
    """MariaDB's seq_1_to_N tables are virtual; the schema does not list them."""
    from core.schema import Column, Table

    schema = target.schema
    if schema.table("seq_1_to_10000000") is None:
        schema.tables.append(
            Table(
                "seq_1_to_10000000",
                schema.default_schema,
                columns=[Column("seq", "bigint unsigned")],
            )
        )
    return target


def test_model_failures_then_a_good_answer(model_server, target):
    settings = Settings.load(
        environ={"OPENAI_BASE_URL": model_server.url, "QUARRY_MODEL_TIMEOUT_S": "1"}, secrets={}
    )
    model_server.replies.extend(
        [
            Reply(status=500),
            Reply("SELECT 1", delay_s=3),
            Reply(raw=b"\x00garbage"),
            Reply("SELECT COUNT(*) FROM Genre"),
        ]
    )
    outcomes = [ask("How many genres?", target, settings, engine="openai") for _ in range(4)]
    assert [o.status for o in outcomes] == ["model_error"] * 3 + ["ok"]
    assert "HTTP 500" in outcomes[0].error and "within 1 s" in outcomes[1].error
    assert outcomes[3].rows == [(25,)]
