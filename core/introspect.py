"""Read a target's schema: tables, views, columns, keys and row estimates.

On MySQL and MariaDB three ``information_schema`` queries read everything at
once; SQLAlchemy's inspector would issue a ``SHOW CREATE TABLE`` per table,
which costs a round trip each and adds up quickly across a network
(``bench/introspect.py`` measures both). Other backends use the inspector.
An object that cannot be read is recorded in ``Schema.errors`` and skipped.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa

from core.schema import Column, ForeignKey, ObjectError, Schema, Table

logger = logging.getLogger(__name__)

MYSQL_SYSTEM_SCHEMAS = ("information_schema", "mysql", "performance_schema", "sys")
PG_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")

_MYSQL_TABLES = """
SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS, TABLE_COMMENT
FROM information_schema.TABLES
WHERE TABLE_SCHEMA IN :schemas
"""

_MYSQL_COLUMNS = """
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_COMMENT
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA IN :schemas
ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
"""

_MYSQL_KEYS = """
SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME,
       REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA IN :schemas
  AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)
ORDER BY TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION
"""

_MYSQL_SCHEMAS = """
SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN :system
"""


def introspect(engine: sa.Engine, schemas: Sequence[str] | None = None) -> Schema:
    """Read the schema of a target database.

    `schemas` limits the read to those schemas. By default a MySQL URL that
    names a database reads that database alone (other databases on the server
    stay out of reach of the guard, the prompt and the checks); other backends
    and a server URL read every schema the user can see except the system ones.
    The URL's own database or schema becomes ``Schema.default_schema``.
    """
    started = time.perf_counter()
    if engine.dialect.name == "mysql":
        with engine.connect() as conn:
            schema = read_mysql_bulk(conn, schemas)
    else:
        schema = read_with_inspector(engine, schemas)
    logger.info(
        "Introspected %d objects (%d errors) on %s in %.0f ms",
        len(schema.tables),
        len(schema.errors),
        engine.dialect.name,
        (time.perf_counter() - started) * 1000,
    )
    return schema


def _in_clause(statement: str, name: str) -> sa.TextClause:
    return sa.text(statement).bindparams(sa.bindparam(name, expanding=True))


def read_mysql_bulk(conn: sa.Connection, schemas: Sequence[str] | None = None) -> Schema:
    """The whole schema in three information_schema queries (plus one for schema names)."""
    default = conn.execute(sa.text("SELECT DATABASE()")).scalar()
    if schemas is None and default:
        # A URL that names a database is a connection to that database alone.
        schemas = [default]
    if schemas is None:
        rows = conn.execute(
            _in_clause(_MYSQL_SCHEMAS, "system"), {"system": list(MYSQL_SYSTEM_SCHEMAS)}
        )
        schemas = sorted(r[0] for r in rows)
    schemas = list(schemas)
    result = Schema(backend="mysql", default_schema=default)
    if not schemas:
        return result
    params = {"schemas": schemas}

    tables: dict[tuple[str, str], Table] = {}
    view_problems: dict[tuple[str, str], str] = {}
    for sch, name, ttype, rows, comment in conn.execute(
        _in_clause(_MYSQL_TABLES, "schemas"), params
    ):
        if ttype == "VIEW":
            # A view's TABLE_COMMENT is 'VIEW', or MariaDB's reason when the view is broken.
            if comment and comment.upper() != "VIEW":
                view_problems[(sch, name)] = comment
            tables[(sch, name)] = Table(name=name, schema=sch, kind="view")
        else:
            count = int(rows) if rows is not None else None
            tables[(sch, name)] = Table(name, sch, "table", row_count=count, comment=comment or "")

    for sch, tname, cname, ctype, nullable, comment in conn.execute(
        _in_clause(_MYSQL_COLUMNS, "schemas"), params
    ):
        table = tables.get((sch, tname))
        if table is not None:
            table.columns.append(Column(cname, ctype, nullable == "YES", comment or ""))

    foreign: dict[tuple[str, str, str], list[tuple[str, str | None, str, str]]] = defaultdict(list)
    for sch, tname, constraint, cname, rsch, rtable, rcol in conn.execute(
        _in_clause(_MYSQL_KEYS, "schemas"), params
    ):
        table = tables.get((sch, tname))
        if table is None:
            continue
        if constraint == "PRIMARY":
            table.primary_key = (*table.primary_key, cname)
        else:
            foreign[(sch, tname, constraint)].append((cname, rsch, rtable, rcol))
    for (sch, tname, constraint), parts in foreign.items():
        rsch = parts[0][1]
        tables[(sch, tname)].foreign_keys.append(
            ForeignKey(
                columns=tuple(p[0] for p in parts),
                ref_table=parts[0][2],
                ref_columns=tuple(p[3] for p in parts),
                ref_schema=rsch if rsch != sch else None,
                name=constraint,
            )
        )

    for key, table in tables.items():
        if not table.columns:
            reason = view_problems.get(key, "its columns could not be read")
            result.errors.append(ObjectError(table.qualified_name, reason))
    result.tables = sorted(tables.values(), key=lambda t: (t.schema or "", t.name.lower()))
    return result


def _inspector_schemas(engine: sa.Engine, inspector: sa.Inspector) -> list[str | None]:
    if engine.dialect.name == "sqlite":
        return [None]
    names = inspector.get_schema_names()
    system = PG_SYSTEM_SCHEMAS if engine.dialect.name == "postgresql" else MYSQL_SYSTEM_SCHEMAS
    return [n for n in names if n not in system and not n.startswith("pg_temp")]


def _type_text(column: dict, dialect: sa.Dialect) -> str:
    try:
        return column["type"].compile(dialect=dialect)
    except Exception:  # a type the dialect cannot compile back is shown as Python sees it
        return str(column["type"])


def read_with_inspector(engine: sa.Engine, schemas: Sequence[str] | None = None) -> Schema:
    """The schema through SQLAlchemy's inspector, one object at a time."""
    inspector = sa.inspect(engine)
    default = inspector.default_schema_name if engine.dialect.name != "sqlite" else None
    wanted: list[str | None] = (
        list(schemas) if schemas is not None else _inspector_schemas(engine, inspector)
    )
    result = Schema(backend=engine.dialect.name, default_schema=default)
    for sch in wanted:
        objects = [(n, "table") for n in inspector.get_table_names(schema=sch)]
        objects += [(n, "view") for n in inspector.get_view_names(schema=sch)]
        for name, kind in objects:
            table = Table(name=name, schema=sch, kind=kind)
            try:
                table.columns = [
                    Column(
                        c["name"],
                        _type_text(c, engine.dialect),
                        bool(c.get("nullable", True)),
                        c.get("comment") or "",
                    )
                    for c in inspector.get_columns(name, schema=sch)
                ]
                if kind == "table":
                    pk = inspector.get_pk_constraint(name, schema=sch)
                    table.primary_key = tuple(pk.get("constrained_columns") or ())
                    table.foreign_keys = [
                        ForeignKey(
                            columns=tuple(fk["constrained_columns"]),
                            ref_table=fk["referred_table"],
                            ref_columns=tuple(fk["referred_columns"]),
                            ref_schema=fk.get("referred_schema")
                            if fk.get("referred_schema") != sch
                            else None,
                            name=fk.get("name"),
                        )
                        for fk in inspector.get_foreign_keys(name, schema=sch)
                    ]
            except sa.exc.SQLAlchemyError as exc:
                result.errors.append(ObjectError(table.qualified_name, _first_line(exc)))
                continue
            if sch is None and engine.dialect.name == "sqlite":
                table.schema = None
            result.tables.append(table)
    _estimate_rows(engine, result)
    return result


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _estimate_rows(engine: sa.Engine, schema: Schema) -> None:
    """Row estimates: PostgreSQL's planner statistics, SQLite's exact counts."""
    tables = [t for t in schema.tables if t.kind == "table"]
    if not tables:
        return
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                rows = conn.execute(
                    sa.text(
                        "SELECT n.nspname, c.relname, c.reltuples FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'"
                    )
                )
                estimates = {(r[0], r[1]): r[2] for r in rows}
                for t in tables:
                    value = estimates.get((t.schema, t.name))
                    t.row_count = int(value) if value is not None and value >= 0 else None
            elif engine.dialect.name == "sqlite":
                for t in tables:
                    quoted = engine.dialect.identifier_preparer.quote(t.name)
                    t.row_count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {quoted}")).scalar()
    except sa.exc.SQLAlchemyError as exc:
        schema.errors.append(ObjectError("row counts", _first_line(exc)))
