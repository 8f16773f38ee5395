"""The guard: one read-only query passes, everything else is refused with a reason."""

from __future__ import annotations

import pytest

from core.errors import UnknownObject, UnsafeSQL
from core.execute import run_query
from core.guard import check_sql, verdict
from core.schema import Column, Schema, Table
from tests.golden import cases, present

SCHEMA = Schema(
    backend="mysql",
    default_schema="shop",
    tables=[
        Table(
            "Customer",
            "shop",
            columns=[
                Column("CustomerId", "int"),
                Column("Name", "varchar(40)"),
                Column("Country", "varchar(40)"),
            ],
            primary_key=("CustomerId",),
        ),
        Table(
            "Invoice",
            "shop",
            columns=[
                Column("InvoiceId", "int"),
                Column("CustomerId", "int"),
                Column("Total", "decimal(10,2)"),
            ],
        ),
        Table("order", "shop", columns=[Column("key", "int")]),
    ],
)


def refused(sql: str, dialect: str = "mysql") -> UnsafeSQL:
    with pytest.raises(UnsafeSQL) as info:
        check_sql(sql, SCHEMA, dialect=dialect)
    return info.value


@pytest.mark.parametrize(
    "sql, rule",
    [
        ("SELECT /*! SLEEP(5) */ 1", "executable comment"),
        ("SELECT", "parse"),  # nothing selected: not sent to the server with a LIMIT added
        ("SELECT Name FROM Track WHERE GenreId IN (SELECT FROM Genre)", "parse"),
        ("SELECT /*!50000 Name */ FROM Customer", "executable comment"),
        ("SELECT 1 /*M!100000 , SLEEP(1) */", "executable comment"),
        ("SELECT Name INTO @x FROM Customer", "into"),
        ("SELECT Name FROM Customer INTO DUMPFILE '/tmp/x'", "into"),
        ("HANDLER Customer OPEN", "handler"),
        ("DO SLEEP(1)", "do"),
        ("PREPARE s FROM 'DELETE FROM Customer'", "prepare"),
        ("EXECUTE s", "prepare"),
        ("SET @a = 1", "set"),
        ("SELECT @a := 1", "set"),
        ("SELECT * FROM Customer LOCK IN SHARE MODE", "lock"),
        ("SELECT * FROM Customer FOR SHARE", "lock"),
        ("SELECT Name FROM Customer WHERE CustomerId IN (SELECT RELEASE_LOCK('x'))", "function"),
        ("SELECT pg_sleep(1)", "function"),
        ("SHOW TABLES", "not a query"),
        ("EXPLAIN SELECT 1", "not a query"),
        ("UPDATE Customer SET Name = 'x'; SELECT 1", "several statements"),
        ("", "empty"),
        ("   ;  ", "empty"),
        ("SELEC Name FROM Customer", "parse"),
    ],
)
def test_refuses_with_a_named_rule(sql, rule):
    assert refused(sql).rule == rule


def test_a_write_inside_a_cte_is_found_in_the_tree():
    error = refused(
        "WITH gone AS (DELETE FROM Customer RETURNING *) SELECT * FROM gone", "postgres"
    )
    assert error.rule == "write"


def test_keywords_inside_strings_and_comments_are_harmless():
    checked = check_sql("SELECT Name FROM Customer WHERE Name = 'DROP TABLE x' -- ; DELETE", SCHEMA)
    assert "DELETE" not in checked.sql and "'DROP TABLE x'" in checked.sql


def test_comments_never_reach_the_server():
    checked = check_sql("SELECT Name /* hidden */ FROM Customer", SCHEMA)
    assert "hidden" not in checked.exec_sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM mysql.user",
        "SELECT * FROM information_schema.TABLES",
        "SELECT * FROM performance_schema.threads",
    ],
)
def test_system_schemas_count_as_unknown(sql):
    error = refused(sql)
    assert isinstance(error, UnknownObject) and error.tables


def test_unknown_tables_and_columns_are_named():
    assert refused("SELECT Name FROM Nowhere").tables == ("Nowhere",)
    assert refused("SELECT Nickname FROM Customer").columns == ("Nickname",)
    assert refused("SELECT c.Nickname FROM Customer c").columns == ("c.Nickname",)


def test_aliases_ctes_and_derived_tables_are_known():
    check_sql("SELECT Country, COUNT(*) AS n FROM Customer GROUP BY Country ORDER BY n", SCHEMA)
    check_sql("WITH t AS (SELECT CustomerId AS id FROM Customer) SELECT id FROM t", SCHEMA)
    check_sql("SELECT x.total FROM (SELECT SUM(Total) AS total FROM Invoice) AS x", SCHEMA)
    check_sql("SELECT `key` FROM `order`", SCHEMA)


def test_table_names_are_respelled_as_the_schema_spells_them():
    checked = check_sql("select name from customer", SCHEMA)
    assert checked.sql.startswith("select name from Customer")


def test_what_runs_is_the_text_as_written_not_a_rewrite():
    """The parser would turn REGEXP into REGEXP_LIKE, which MariaDB does not have."""
    checked = check_sql("SELECT Name FROM Customer WHERE Name REGEXP '^A' /* note */", SCHEMA)
    assert checked.sql == "SELECT Name FROM Customer WHERE Name REGEXP '^A'\nLIMIT 1000"


@pytest.mark.parametrize(
    "sql, shown_limit, run_limit, note",
    [
        ("SELECT Name FROM Customer", "LIMIT 100", "LIMIT 101", "added"),
        ("SELECT Name FROM Customer LIMIT 5000", "LIMIT 100", "LIMIT 101", "lowered from 5000"),
        (
            "SELECT Name FROM Customer LIMIT 10, 5000",
            "LIMIT 10, 100",
            "LIMIT 10, 101",
            "lowered from 5000",
        ),
        (
            "SELECT Name FROM Customer LIMIT 5000 OFFSET 10",
            "LIMIT 100 OFFSET 10",
            "LIMIT 101 OFFSET 10",
            "lowered from 5000",
        ),
        ("SELECT Name FROM Customer LIMIT 7", "LIMIT 7", "LIMIT 7", ""),
        (
            "SELECT Name FROM Customer UNION SELECT Country FROM Customer",
            "LIMIT 100",
            "LIMIT 101",
            "added",
        ),
    ],
)
def test_limit_is_added_or_capped_on_the_tree(sql, shown_limit, run_limit, note):
    checked = check_sql(sql, SCHEMA, row_cap=100, pretty=False)
    assert checked.sql.endswith(shown_limit)
    assert checked.exec_sql.endswith(run_limit)
    assert checked.limit_note == note


def test_a_single_aggregate_row_needs_no_limit():
    checked = check_sql("SELECT COUNT(*), SUM(Total) FROM Invoice", SCHEMA, pretty=False)
    assert "LIMIT" not in checked.sql
    grouped = check_sql(
        "SELECT CustomerId, SUM(Total) FROM Invoice GROUP BY CustomerId", SCHEMA, pretty=False
    )
    assert "LIMIT" in grouped.sql


@pytest.mark.mysql
@pytest.mark.parametrize("case", cases("cases/sql-guard-chinook.jsonl"))
def test_guard_agrees_with_every_chinook_case(case, chinook_target):
    case = present(case)
    result, reason = verdict(case["sql"], chinook_target.schema, dialect="mysql")
    assert result == case["verdict"], f"{case['why']}: {reason}"


@pytest.mark.mysql
@pytest.mark.parametrize(
    "case", cases("cases/sql-guard-chinook.jsonl", where=lambda c: c["verdict"] == "allow")
)
def test_allowed_chinook_cases_run_on_the_server(case, chinook_target):
    """What the guard lets through must also run, as respelled, on the real server."""
    case = present(case)
    checked = check_sql(case["sql"], chinook_target.schema, dialect="mysql", row_cap=50)
    result = run_query(
        chinook_target.engine,
        checked.exec_sql,
        server=chinook_target.server,
        row_cap=50,
        timeout_s=10,
    )
    assert result.columns
    assert result.row_count <= 50


@pytest.mark.mysql
@pytest.mark.parametrize(
    "sql, runs",
    [
        ("WITH t(a) AS (SELECT 1) SELECT a FROM t", True),
        (
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
            "SELECT n FROM r",
            True,
        ),
        ("WITH t(a) AS (SELECT 1) SELECT b FROM t", False),
    ],
)
def test_the_column_names_a_cte_or_derived_table_declares(chinook_target, sql, runs):
    from core.ask import run_sql
    from core.settings import Settings

    result = run_sql(sql, chinook_target, Settings.load())
    assert result.ok is runs, result.error
    if not runs:
        assert "Unknown column: b" in result.error
