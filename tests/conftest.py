"""Fixtures shared by the whole suite.

Tests that need an outside thing (the MariaDB server, the shared test data,
Chromium) skip with the reason printed when it is missing, unless the matching
QUARRY_REQUIRE_* variable is set, which turns the skip into a failure. CI sets
them all, so nothing is silently skipped there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("QUARRY_SHARED_DIR", ROOT.parent / "shared"))
MYSQL_URL = os.environ.get("QUARRY_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
PG_URL = os.environ.get(
    "QUARRY_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def need(ok: bool, reason: str, require_env: str) -> None:
    """Skip with `reason` unless `require_env` is set to 1, then fail instead."""
    if ok:
        return
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{reason} ({require_env}=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    need(SHARED.is_dir(), f"shared test data not found at {SHARED}", "QUARRY_REQUIRE_SHARED")
    return SHARED


def _server_answers(url: str) -> str | None:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: no usable server
        return str(exc).splitlines()[0][:200]


@pytest.fixture(scope="session")
def mysql_server_url() -> str:
    """URL of the MariaDB/MySQL server, with no database selected."""
    problem = _server_answers(MYSQL_URL)
    need(problem is None, f"no MySQL server at {MYSQL_URL}: {problem}", "QUARRY_REQUIRE_MYSQL")
    return MYSQL_URL


def mysql_db_url(server_url: str, database: str) -> str:
    return (
        sa.engine.make_url(server_url).set(database=database).render_as_string(hide_password=False)
    )


def _database_exists(server_url: str, name: str) -> bool:
    engine = sa.create_engine(server_url)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n"),
            {"n": name},
        ).first()
    engine.dispose()
    return found is not None


def _load_script(server_url: str, *scripts: Path) -> None:
    client = shutil.which("mariadb") or shutil.which("mysql")
    need(
        client is not None,
        "no mariadb/mysql client to load sample databases",
        "QUARRY_REQUIRE_MYSQL",
    )
    url = sa.engine.make_url(server_url)
    args = [
        client,
        "-h",
        url.host or "127.0.0.1",
        "-P",
        str(url.port or 3306),
        "-u",
        url.username or "root",
    ]
    env = dict(os.environ)
    if url.password:
        env["MYSQL_PWD"] = url.password
    for script in scripts:
        with script.open("rb") as fh:
            subprocess.run(args, stdin=fh, check=True, env=env, capture_output=True)


@pytest.fixture(scope="session")
def chinook_url(mysql_server_url: str, shared_dir: Path) -> str:
    """Chinook in MariaDB, loaded from the shared script when it is missing."""
    if not _database_exists(mysql_server_url, "Chinook"):
        _load_script(
            mysql_server_url, shared_dir / "data/sample-databases/chinook/Chinook_MySql.sql"
        )
    return mysql_db_url(mysql_server_url, "Chinook")


@pytest.fixture(scope="session")
def sakila_url(mysql_server_url: str, shared_dir: Path) -> str:
    if not _database_exists(mysql_server_url, "sakila"):
        base = shared_dir / "data/sample-databases/sakila"
        _load_script(mysql_server_url, base / "sakila-mv-schema.sql", base / "sakila-mv-data.sql")
    return mysql_db_url(mysql_server_url, "sakila")


@pytest.fixture()
def scratch_mysql(mysql_server_url: str):
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    name = f"quarry_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(mysql_server_url, pool_pre_ping=True)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}`"))
    try:
        yield mysql_db_url(mysql_server_url, name)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    problem = _server_answers(PG_URL)
    need(problem is None, f"no PostgreSQL server at {PG_URL}: {problem}", "QUARRY_REQUIRE_PG")
    return PG_URL


@pytest.fixture()
def scratch_pg(pg_server_url: str):
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"quarry_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield (
            sa.engine.make_url(pg_server_url)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def chinook_target(chinook_url):
    """Chinook opened once for the session: engine, server and schema."""
    from core.settings import Settings
    from core.target import open_target

    target = open_target(chinook_url, Settings.load(), name="chinook")
    yield target
    target.close()


@pytest.fixture(scope="session")
def sakila_target(sakila_url):
    from core.settings import Settings
    from core.target import open_target

    target = open_target(sakila_url, Settings.load(), name="sakila")
    yield target
    target.close()


@pytest.fixture()
def model_server():
    """A local OpenAI-compatible server; script it with .say(...) or .replies."""
    from tests.model_server import ModelServer

    server = ModelServer().start()
    yield server
    server.stop()


@pytest.fixture()
def app_env(tmp_path, monkeypatch):
    """A fresh data folder (store and demo) and an empty secrets file for an app test;
    returns the secrets file's path, which a test may fill."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("")
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("QUARRY_STORE_URL", raising=False)
    monkeypatch.setenv("QUARRY_SECRETS_FILE", str(secrets))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QUARRY_TEAM_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)
    yield secrets
    from db import database

    database.dispose(f"sqlite:///{tmp_path / 'data' / 'quarry.db'}")


@pytest.fixture()
def store(tmp_path):
    """A fresh SQLite store in a temporary folder, migrated to head."""
    from db import database

    url = f"sqlite:///{tmp_path / 'store.db'}"
    database.upgrade_to_head(url)
    yield url
    database.dispose(url)
