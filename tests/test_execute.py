"""Execution on real servers: read-only, time-limited, row-capped, and resilient."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time

import pytest
import sqlalchemy as sa

from core.connections import make_target_engine, server_info
from core.errors import ConnectionFailed, QueryFailed, QueryTimeout
from core.execute import run_query
from core.settings import Settings
from tests.conftest import need

SETTINGS = Settings.load()


@pytest.fixture()
def canary(scratch_mysql):
    """A scratch database with a canary table whose contents must never change."""
    admin = sa.create_engine(scratch_mysql, pool_pre_ping=True)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE canary (id INT PRIMARY KEY, note VARCHAR(20))")
        conn.exec_driver_sql("INSERT INTO canary VALUES (1, 'alive'), (2, 'alive')")
        conn.exec_driver_sql("CREATE TABLE numbers (n INT PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO numbers SELECT seq FROM seq_1_to_5000")
    engine = make_target_engine(scratch_mysql, SETTINGS)
    yield engine, server_info(engine), admin
    engine.dispose()
    admin.dispose()


def _canary_rows(admin):
    with admin.connect() as conn:
        return conn.exec_driver_sql("SELECT id, note FROM canary ORDER BY id").all()


@pytest.mark.mysql
@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM canary",
        "UPDATE canary SET note = 'dead'",
        "INSERT INTO canary VALUES (3, 'new')",
        "DROP TABLE canary",
        "CREATE TABLE intruder (x INT)",
        "TRUNCATE TABLE canary",
        "ALTER TABLE canary ADD COLUMN x INT",
    ],
)
def test_backstop_refuses_writes_with_the_guard_bypassed(canary, statement):
    engine, server, admin = canary
    with pytest.raises(QueryFailed):
        run_query(engine, statement, server=server, row_cap=10, timeout_s=5)
    assert _canary_rows(admin) == [(1, "alive"), (2, "alive")]
    with admin.connect() as conn:
        assert conn.exec_driver_sql("SHOW TABLES LIKE 'intruder'").first() is None


@pytest.mark.mysql
def test_statement_time_limit_stops_a_slow_query(canary):
    engine, server, _ = canary
    started = time.perf_counter()
    with pytest.raises(QueryTimeout) as info:
        run_query(engine, "SELECT SLEEP(5)", server=server, row_cap=10, timeout_s=1)
    assert time.perf_counter() - started < 4
    assert "QUARRY_QUERY_TIMEOUT_S" in info.value.hint
    assert run_query(engine, "SELECT 1", server=server, row_cap=1, timeout_s=1).rows == [(1,)]


@pytest.mark.mysql
def test_fetches_cap_plus_one_and_reports_truncation(canary):
    engine, server, _ = canary
    capped = run_query(engine, "SELECT n FROM numbers", server=server, row_cap=100, timeout_s=5)
    assert capped.row_count == 100 and capped.truncated
    exact = run_query(
        engine, "SELECT n FROM numbers LIMIT 100", server=server, row_cap=100, timeout_s=5
    )
    assert exact.row_count == 100 and not exact.truncated
    empty = run_query(
        engine, "SELECT n FROM numbers WHERE n < 0", server=server, row_cap=100, timeout_s=5
    )
    assert empty.rows == [] and empty.columns == ["n"]
    # the connection dropped after truncation does not poison the pool
    again = run_query(engine, "SELECT COUNT(*) FROM numbers", server=server, row_cap=1, timeout_s=5)
    assert again.rows == [(5000,)]


@pytest.mark.mysql
def test_database_errors_say_what_the_server_said(canary):
    engine, server, _ = canary
    with pytest.raises(QueryFailed, match="doesn't exist"):
        run_query(engine, "SELECT * FROM nowhere", server=server, row_cap=1, timeout_s=5)


def _restart_mariadb(server_url: str) -> None:
    """Restart the local MariaDB: only where it is allowed, since others may share it."""
    host = sa.engine.make_url(server_url).host or "localhost"
    allowed = os.environ.get("QUARRY_TEST_RESTART") == "1"
    need(
        allowed and host in ("127.0.0.1", "localhost"),
        "restarting the MariaDB server needs QUARRY_TEST_RESTART=1 (CI sets it) and a server "
        "on this machine, since others may share it",
        "QUARRY_REQUIRE_MYSQL",
    )
    need(
        shutil.which("mariadb-admin") is not None and shutil.which("start-stop-daemon") is not None,
        "cannot restart MariaDB here (no mariadb-admin or start-stop-daemon)",
        "QUARRY_REQUIRE_MYSQL",
    )
    subprocess.run(["mariadb-admin", "-uroot", "shutdown"], check=True, timeout=60)
    subprocess.run(
        [
            "start-stop-daemon",
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            "/usr/sbin/mariadbd",
        ],
        check=True,
        timeout=30,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        probe = subprocess.run(["mariadb-admin", "-uroot", "ping"], capture_output=True)
        if probe.returncode == 0:
            return
        time.sleep(0.5)
    pytest.fail("MariaDB did not come back within 60 s")


@pytest.mark.mysql
def test_a_server_restart_between_two_queries(canary, mysql_server_url):
    engine, server, _ = canary
    assert run_query(
        engine, "SELECT COUNT(*) FROM canary", server=server, row_cap=1, timeout_s=5
    ).rows == [(2,)]
    _restart_mariadb(mysql_server_url)
    # pool_pre_ping finds the dead pooled connection and opens a new one
    assert run_query(
        engine, "SELECT COUNT(*) FROM canary", server=server, row_cap=1, timeout_s=5
    ).rows == [(2,)]


def test_unreachable_server_is_a_connection_failure():
    engine = make_target_engine("mysql+pymysql://root:pw@127.0.0.1:1/x", SETTINGS)
    with pytest.raises(ConnectionFailed) as info:
        server_info(engine)
    assert "pw" not in info.value.message and "***" in info.value.message


def test_sqlite_targets_are_opened_read_only(tmp_path):
    path = tmp_path / "t.db"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE t (a INT); INSERT INTO t VALUES (1);")
    con.close()
    engine = make_target_engine(f"sqlite:///{path}", SETTINGS)
    server = server_info(engine)
    with pytest.raises(QueryFailed, match="refused to write"):
        run_query(engine, "DELETE FROM t", server=server, row_cap=1, timeout_s=5)
    with pytest.raises(QueryTimeout):
        run_query(
            engine,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT COUNT(*) FROM c",
            server=server,
            row_cap=1,
            timeout_s=0.5,
        )
    assert run_query(engine, "SELECT a FROM t", server=server, row_cap=5, timeout_s=5).rows == [
        (1,)
    ]
    engine.dispose()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM t").fetchone() == (1,)


@pytest.mark.postgres
def test_postgres_targets_are_read_only(pg_server_url):
    engine = make_target_engine(pg_server_url, SETTINGS)
    server = server_info(engine)
    with pytest.raises(QueryFailed):
        run_query(
            engine, "CREATE TABLE quarry_intruder (x INT)", server=server, row_cap=1, timeout_s=5
        )
    with pytest.raises(QueryTimeout):
        run_query(engine, "SELECT pg_sleep(3)", server=server, row_cap=1, timeout_s=0.5)
    engine.dispose()
