"""Introspection: bulk information_schema reads on MariaDB, the inspector elsewhere."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from core.connections import make_target_engine
from core.introspect import introspect, read_mysql_bulk, read_with_inspector
from core.settings import Settings

SAMPLES = "data/sample-databases"


def _script_counts(path) -> dict:
    """Tables, columns, foreign keys and views as the SQL script declares them."""
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(r"CREATE TABLE .*?\)\s*(?:ENGINE[^;]*)?;", text, re.S)
    columns = 0
    for block in blocks:
        tree = sqlglot.parse_one(block, read="mysql")
        columns += sum(isinstance(e, exp.ColumnDef) for e in tree.this.expressions)
    return {
        "tables": len(blocks),
        "columns": columns,
        "foreign_keys": len(re.findall(r"FOREIGN KEY", text)),
        "views": len(re.findall(r"^CREATE\b[^;]*?\bVIEW\b", text, re.M)),
    }


def _schema_counts(schema, name: str) -> dict:
    tables = [t for t in schema.tables if t.schema == name and t.kind == "table"]
    return {
        "tables": len(tables),
        "columns": sum(len(t.columns) for t in tables),
        "foreign_keys": sum(len(t.foreign_keys) for t in tables),
        "views": sum(1 for t in schema.tables if t.schema == name and t.kind == "view"),
    }


@pytest.mark.mysql
def test_chinook_matches_its_script(chinook_target, shared_dir):
    expected = _script_counts(shared_dir / SAMPLES / "chinook/Chinook_MySql.sql")
    assert _schema_counts(chinook_target.schema, "Chinook") == expected
    invoice = chinook_target.schema.table("invoice")
    assert invoice.primary_key == ("InvoiceId",)
    assert invoice.foreign_keys[0].ref_table == "Customer"
    assert invoice.row_count and invoice.row_count > 100


@pytest.mark.mysql
def test_sakila_matches_its_script_views_included(sakila_target, shared_dir):
    expected = _script_counts(shared_dir / SAMPLES / "sakila/sakila-mv-schema.sql")
    assert _schema_counts(sakila_target.schema, "sakila") == expected
    assert sakila_target.schema.errors == []


@pytest.mark.mysql
def test_a_connection_to_one_database_reads_that_database_alone(chinook_target, sakila_url):
    from core.errors import UnknownObject
    from core.guard import check_sql

    schema = chinook_target.schema
    assert schema.default_schema == "Chinook"
    assert schema.schema_names == ["Chinook"], "sakila is on the server, not in this connection"
    assert schema.table("film") is None
    with pytest.raises(UnknownObject, match="reads the database Chinook only"):
        check_sql("SELECT * FROM sakila.film", schema, dialect="mysql", row_cap=10)
    check_sql("SELECT * FROM Chinook.Genre", schema, dialect="mysql", row_cap=10)


@pytest.mark.mysql
def test_a_server_url_reads_every_database(mysql_server_url, chinook_target, sakila_target):
    from core.settings import Settings
    from core.target import open_target

    target = open_target(mysql_server_url, Settings.load())
    try:
        assert {"Chinook", "sakila"} <= set(target.schema.schema_names)
        assert target.schema.default_schema is None
    finally:
        target.close()


@pytest.mark.mysql
def test_bulk_reader_agrees_with_the_inspector(chinook_target):
    with chinook_target.engine.connect() as conn:
        bulk = read_mysql_bulk(conn, ["Chinook"])
    slow = read_with_inspector(chinook_target.engine, ["Chinook"])

    def shape(s):
        return {
            t.name: (
                [c.name for c in t.columns],
                t.primary_key,
                sorted((fk.columns, fk.ref_table) for fk in t.foreign_keys),
            )
            for t in s.tables
        }

    assert shape(bulk) == shape(slow)


@pytest.mark.mysql
def test_a_broken_view_is_recorded_not_fatal(scratch_mysql):
    admin = sa.create_engine(scratch_mysql)
    with admin.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE base (id INT PRIMARY KEY, `order` INT, `key` TEXT)")
        conn.exec_driver_sql("CREATE TABLE `with space` (`naïve col` INT)")
        conn.exec_driver_sql("CREATE VIEW good AS SELECT id FROM base")
        conn.exec_driver_sql("CREATE TABLE doomed (x INT)")
        conn.exec_driver_sql("CREATE VIEW broken AS SELECT x FROM doomed")
        conn.exec_driver_sql("DROP TABLE doomed")
    admin.dispose()
    engine = make_target_engine(scratch_mysql, Settings.load())
    name = sa.engine.make_url(scratch_mysql).database
    schema = introspect(engine, [name])
    assert {t.name for t in schema.tables} == {"base", "with space", "good", "broken"}
    assert [e.object for e in schema.errors] == [f"{name}.broken"]
    assert schema.table("with space").columns[0].name == "naïve col"
    engine.dispose()


def test_sqlite_through_the_inspector(tmp_path):
    path = tmp_path / "t.db"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));"
        "CREATE VIEW v AS SELECT name FROM parent;"
        "INSERT INTO parent VALUES (1, 'a'), (2, 'b');"
    )
    con.close()
    engine = make_target_engine(f"sqlite:///{path}", Settings.load())
    schema = introspect(engine)
    assert {t.name: t.kind for t in schema.tables} == {
        "parent": "table",
        "child": "table",
        "v": "view",
    }
    assert schema.table("child").foreign_keys[0].ref_table == "parent"
    assert schema.table("parent").row_count == 2
    engine.dispose()


@pytest.mark.postgres
def test_postgres_through_the_inspector(pg_server_url):
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    name = f"quarry_t_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.engine.make_url(pg_server_url).set(database=name)
    try:
        setup = sa.create_engine(url)
        with setup.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "Parent" (id INT PRIMARY KEY, name TEXT)')
            conn.exec_driver_sql(
                'CREATE TABLE child (id INT PRIMARY KEY, parent_id INT REFERENCES "Parent"(id))'
            )
        setup.dispose()
        engine = make_target_engine(url.render_as_string(hide_password=False), Settings.load())
        schema = introspect(engine)
        assert schema.default_schema == "public"
        assert schema.table("child").foreign_keys[0].ref_table == "Parent"
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
