"""The guard's hostile corpus, run against MariaDB with a canary checked after every case.

Refused statements must be refused with a reason; allowed ones must run and
read only. After each case the canary's rows, the database's tables, the
server's users and the file system are as they were.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.ask import run_sql
from core.guard import verdict
from core.settings import Settings
from core.target import open_target
from tests.conftest import mysql_db_url
from tests.golden import local_cases

pytestmark = pytest.mark.mysql
FILES = [Path("/tmp/quarry-hostile.csv"), Path("/tmp/quarry-hostile.bin")]


@pytest.fixture(scope="module")
def canary_db(mysql_server_url):
    name = f"quarry_h_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(mysql_server_url, pool_pre_ping=True)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        conn.exec_driver_sql(f"CREATE TABLE `{name}`.canary (id INT PRIMARY KEY, note VARCHAR(40))")
        conn.exec_driver_sql(f"INSERT INTO `{name}`.canary VALUES (1, 'alive'), (2, 'alive')")
    settings = Settings.load().replace(query_timeout_s=5.0)
    target = open_target(mysql_db_url(mysql_server_url, name), settings)
    yield target, admin, name, settings
    target.close()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


def _state(admin: sa.Engine, name: str) -> tuple:
    with admin.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT id, note FROM `{name}`.canary ORDER BY id").all()
        tables = conn.exec_driver_sql(
            f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}'"
        ).all()
        users = conn.exec_driver_sql("SELECT COUNT(*) FROM mysql.user").scalar()
    return rows, sorted(tables), users, [f.exists() for f in FILES]


@pytest.mark.parametrize("case", local_cases("hostile.jsonl"))
def test_hostile_case(case, canary_db):
    target, admin, name, settings = canary_db
    before = _state(admin, name)
    result, reason = verdict(case["sql"], target.schema, dialect="mysql")
    assert result == case["verdict"], reason
    if result == "reject":
        assert reason
    ran = run_sql(case["sql"], target, settings)
    assert ran.ok == (case["verdict"] == "allow"), (ran.status, ran.error)
    if not ran.ok:
        assert ran.error and ran.status in ("rejected", "error", "timeout")
    assert _state(admin, name) == before
    assert before[0] == [(1, "alive"), (2, "alive")]
