"""The demo database: its shape, its determinism, its ground truth, its gold questions, and the
same rows in MariaDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.errors import BadInput
from db.demo import DEMO_VERSION, ensure_demo, generate, load_into, metadata
from db.demo import build as demo_build
from db.demo.truth import ground_truth, load_ground_truth
from tests.conftest import ROOT

ASK_CASES = ROOT / "tests" / "cases" / "ask-demo.jsonl"
KINDS = {
    "case_whitespace_variants",
    "variants",
    "sentinel",
    "number_as_text",
    "date_as_text_mixed_formats",
    "orphaned_foreign_key",
    "duplicate_key",
}
TRUTH = load_ground_truth()
# The rows each DEMO_VERSION stands for.
DATA_DIGESTS = {(1, "4823848bb94e037e31e1e7c9debdfac741954b4ccce51da6a2d38df475b22c5c")}


def _cases() -> list[dict[str, Any]]:
    lines = ASK_CASES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = _cases()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return ensure_demo(tmp_path_factory.mktemp("demo") / "demo.sqlite")


@pytest.fixture(scope="module")
def demo_engine(demo_url: str):
    engine = sa.create_engine(demo_url)
    yield engine
    engine.dispose()


def _scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def _rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _contents(url: str) -> dict[str, list[tuple]]:
    """Every table's rows in key order, read through the schema's types."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    tuple(round(v, 6) if isinstance(v, float) else v for v in row)
                    for row in conn.execute(sa.select(table).order_by(*table.primary_key))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _digest(url: str) -> str:
    return hashlib.sha256(repr(sorted(_contents(url).items())).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal as multisets, numbers within 1e-6 (SQLite sums floats, the servers decimals)."""

    def key(row: tuple) -> tuple:
        return tuple(
            (0, "") if v is None else (1, round(v, 4)) if isinstance(v, int | float) else (2, v)
            for v in row
        )

    left = sorted((tuple(_plain(v) for v in row) for row in left), key=key)
    right = sorted((tuple(_plain(v) for v in row) for row in right), key=key)
    if len(left) != len(right):
        return False
    for a_row, b_row in zip(left, right, strict=True):
        if len(a_row) != len(b_row):
            return False
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, int | float) and isinstance(b, int | float):
                if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6):
                    return False
            elif a != b:
                return False
    return True


def _assert_same_database(sqlite_url: str, other_url: str) -> None:
    assert _contents(other_url) == _contents(sqlite_url)
    differing = [
        case["id"]
        for case in CASES
        if not _same_rows(_rows(sqlite_url, case["sql"]), _rows(other_url, case["sql"]))
    ]
    assert differing == [], "gold SQL returns other rows there"


# The shape ------------------------------------------------------------------------------------


def test_shape(demo_engine: sa.Engine) -> None:
    inspector = sa.inspect(demo_engine)
    tables = inspector.get_table_names()
    counts = {t: _scalar(demo_engine, f"SELECT COUNT(*) FROM {t}") for t in tables}
    keys = {
        (t, fk["constrained_columns"][0], fk["referred_table"])
        for t in tables
        for fk in inspector.get_foreign_keys(t)
    }

    assert 6 <= len(tables) <= 8
    assert 20_000 <= sum(counts.values()) <= 200_000
    assert all(counts.values()), counts
    assert {
        ("sites", "cust_id", "customers"),
        ("circuits", "cust_id", "customers"),
        ("circuits", "plan_id", "plans"),
        ("circuits", "aloc", "sites"),
        ("circuits", "zloc", "sites"),
        ("orders", "cust_id", "customers"),
        ("orders", "ckt_id", "circuits"),
        ("invoices", "cust_id", "customers"),
        ("invoice_lines", "invoice_id", "invoices"),
        ("invoice_lines", "ckt_id", "circuits"),
        ("tickets", "ckt_id", "circuits"),
    } <= keys


def test_no_column_comments(demo_engine: sa.Engine) -> None:
    assert not any(c.comment for t in metadata.tables.values() for c in t.columns)


def test_build_is_quick(tmp_path: Path) -> None:
    started = time.perf_counter()
    ensure_demo(tmp_path / "demo.sqlite")
    # It runs on a new user's first page load.
    assert time.perf_counter() - started < 3.0


# Determinism and the atomic build ------------------------------------------------------------


def test_two_builds_hold_the_same_rows(demo_url: str, tmp_path: Path) -> None:
    again = ensure_demo(tmp_path / "again.sqlite")
    assert _digest(again) == _digest(demo_url)


def test_the_demo_version_names_the_data() -> None:
    # A user's demo file is rebuilt only when DEMO_VERSION changes, so new rows need a new version.
    rows = generate().rows
    digest = hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()
    assert (DEMO_VERSION, digest) in DATA_DIGESTS, f"bump DEMO_VERSION and record {digest}"


def test_generation_depends_on_the_seed_only() -> None:
    assert generate(7).rows == generate(7).rows
    assert generate(7).rows != generate(8).rows


def test_a_current_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    ensure_demo(path)
    before = path.stat().st_mtime_ns

    assert ensure_demo(path) == f"sqlite:///{path}"
    assert path.stat().st_mtime_ns == before


def test_an_old_version_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    ensure_demo(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()

    ensure_demo(path)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == DEMO_VERSION
    conn.close()


def test_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(_path: Path) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(demo_build, "_seal", crash)
    with pytest.raises(RuntimeError):
        ensure_demo(tmp_path / "demo.sqlite")
    assert list(tmp_path.iterdir()) == []


def test_two_processes_building_at_once(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    command = [sys.executable, "-m", "db.demo", "--path", str(path)]
    builders = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE) for _ in range(2)]
    outputs = [builder.communicate(timeout=120)[0] for builder in builders]

    assert [b.returncode for b in builders] == [0, 0]
    assert all(out.decode().splitlines()[-1] == f"sqlite:///{path}" for out in outputs)
    assert [p.name for p in tmp_path.iterdir()] == ["demo.sqlite"]
    assert _rows(f"sqlite:///{path}", "SELECT COUNT(*) FROM tickets") == [
        (len(generate().rows["tickets"]),)
    ]


def test_existing_tables_are_kept_unless_replaced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    load_into(url)

    with pytest.raises(BadInput, match="already has demo tables"):
        load_into(url)
    load_into(url, replace=True)
    assert _rows(url, "SELECT COUNT(*) FROM plans") == [(24,)]


# The ground truth ----------------------------------------------------------------------------


def test_ground_truth_file_is_current() -> None:
    assert TRUTH == ground_truth(), "rewrite it with: python -m db.demo.truth"


def test_cryptic_columns_exist(demo_engine: sa.Engine) -> None:
    inspector = sa.inspect(demo_engine)
    present = {
        (t, c["name"]) for t in inspector.get_table_names() for c in inspector.get_columns(t)
    }
    listed = [(c["table"], c["column"]) for c in TRUTH["cryptic_columns"]]

    assert set(listed) <= present
    assert len(set(listed)) == len(listed)
    assert all(c["meaning"] for c in TRUTH["cryptic_columns"])


@pytest.mark.parametrize(
    "wart",
    TRUTH["inconsistencies"],
    ids=[f"{w['table']}.{w['column']}.{w['kind']}" for w in TRUTH["inconsistencies"]],
)
def test_each_example_occurs(demo_engine: sa.Engine, wart: dict[str, Any]) -> None:
    table, column = wart["table"], wart["column"]
    assert wart["kind"] in KINDS
    assert wart["examples"]
    for example in wart["examples"]:
        found = _scalar(demo_engine, f"SELECT COUNT(*) FROM {table} WHERE {column} = :v", v=example)
        assert found >= (2 if wart["kind"] == "duplicate_key" else 1), example
        if wart["kind"] == "orphaned_foreign_key":
            assert (
                _scalar(demo_engine, "SELECT COUNT(*) FROM circuits WHERE ckt_id = :v", v=example)
                == 0
            )


# Each wart is common enough to be found, and most rows are clean.
SHARES = {
    "customers.st": (
        "SELECT COUNT(*) FROM customers WHERE st <> UPPER(TRIM(st)) OR LENGTH(st) > 2",
        "SELECT COUNT(*) FROM customers",
    ),
    "customers.industry": (
        "SELECT COUNT(*) FROM customers WHERE industry = 'N/A'",
        "SELECT COUNT(*) FROM customers",
    ),
    "circuits.ckt_ref": (
        "SELECT COUNT(*) FROM circuits WHERE ckt_ref IN "
        "(SELECT ckt_ref FROM circuits GROUP BY ckt_ref HAVING COUNT(*) > 1)",
        "SELECT COUNT(*) FROM circuits",
    ),
    "orders.order_date": (
        "SELECT COUNT(*) FROM orders WHERE order_date LIKE '%/%'",
        "SELECT COUNT(*) FROM orders",
    ),
    "invoices.inv_amt": (
        "SELECT COUNT(*) FROM invoices WHERE inv_amt LIKE '%,%' OR inv_amt LIKE '$%'",
        "SELECT COUNT(*) FROM invoices",
    ),
    "tickets.ckt_id": (
        "SELECT COUNT(*) FROM tickets WHERE ckt_id NOT IN (SELECT ckt_id FROM circuits)",
        "SELECT COUNT(*) FROM tickets",
    ),
    "tickets.mttr_hrs": (
        "SELECT COUNT(*) FROM tickets WHERE mttr_hrs = -1",
        "SELECT COUNT(*) FROM tickets",
    ),
}


@pytest.mark.parametrize("where", SHARES)
def test_warts_are_common_but_not_the_rule(demo_engine: sa.Engine, where: str) -> None:
    bad_sql, all_sql = SHARES[where]
    share = _scalar(demo_engine, bad_sql) / _scalar(demo_engine, all_sql)
    assert 0.01 <= share <= 0.25


# The gold questions --------------------------------------------------------------------------


def test_ask_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 20
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert len({c["question"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_ask_case_answers_on_the_demo(demo_url: str, case: dict[str, Any]) -> None:
    rows = _rows(demo_url, case["sql"])
    assert rows
    # A filter on a value that is not in the data would still give one row: (0,) or (None,).
    assert rows[0] not in {(0,), (None,)}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_ask_case_glossary_comes_from_the_ground_truth(case: dict[str, Any]) -> None:
    cryptic = TRUTH["cryptic_columns"]
    if case.get("needs_glossary"):
        assert case["glossary"]
        assert all(entry in cryptic for entry in case["glossary"])
    else:
        assert "glossary" not in case


# The same rows elsewhere ---------------------------------------------------------------------


@pytest.mark.mysql
def test_load_into_mariadb(demo_url: str, scratch_mysql: str) -> None:
    load_into(scratch_mysql)

    _assert_same_database(demo_url, scratch_mysql)
    engine = sa.create_engine(scratch_mysql)
    keys = sa.inspect(engine).get_foreign_keys("tickets")
    engine.dispose()
    assert [k["referred_table"] for k in keys] == ["circuits"]


@pytest.mark.mysql
def test_load_into_a_mariadb_url(scratch_mysql: str) -> None:
    # SQLAlchemy names the dialect "mariadb" for these URLs; the orphans must get in all the same.
    url = sa.engine.make_url(scratch_mysql).set(drivername="mariadb+pymysql")
    load_into(url.render_as_string(hide_password=False))

    orphans = _rows(
        scratch_mysql,
        "SELECT COUNT(*) FROM tickets WHERE ckt_id NOT IN (SELECT ckt_id FROM circuits)",
    )
    assert orphans[0][0] > 0


@pytest.mark.postgres
def test_load_into_postgres(demo_url: str, scratch_pg: str) -> None:
    load_into(scratch_pg)

    _assert_same_database(demo_url, scratch_pg)
    checked = _rows(
        scratch_pg,
        "SELECT convalidated FROM pg_constraint WHERE conname = 'fk_tickets_ckt_id'",
    )
    assert checked == [(False,)]


@pytest.mark.postgres
def test_load_into_postgres_twice_in_one_process(pg_server_url: str, scratch_pg: str) -> None:
    load_into(scratch_pg)
    load_into(scratch_pg, replace=True)
    assert _rows(
        scratch_pg,
        "SELECT convalidated FROM pg_constraint WHERE conname = 'fk_tickets_ckt_id'",
    ) == [(False,)]


# The command line ----------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "db.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_cli_prints_the_url_last(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    done = _cli("--path", str(path))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"sqlite:///{path}"
    assert path.is_file()


def test_cli_loads_into_a_url_and_prints_it_last(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    done = _cli("--url", url)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == url
    assert _rows(url, "SELECT COUNT(*) FROM plans") == [(24,)]


def test_cli_builds_in_the_data_dir_by_default(tmp_path: Path) -> None:
    done = _cli(env={**os.environ, "QUARRY_DATA_DIR": str(tmp_path)})

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"sqlite:///{tmp_path / 'demo.sqlite'}"


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "oracle://scott@127.0.0.1/orcl",
        "mysql+nosuchdriver://root@127.0.0.1/demo",
        "mysql+pymysql://root@127.0.0.1:3306/",
        "mysql+pymysql://root:secret@127.0.0.1:1/demo",
        "postgresql+psycopg2://postgres@127.0.0.1:1/demo",
    ],
)
def test_cli_refuses_a_bad_or_unreachable_url(url: str) -> None:
    done = _cli("--url", url)

    assert done.returncode == 2
    assert done.stderr.startswith("FAILED: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "secret" not in done.stderr
