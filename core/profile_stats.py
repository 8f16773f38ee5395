"""Column statistics computed in the database: exact, without loading the table.

For each table two kinds of statement run, each checked by the guard and run
read-only and time-limited by ``core.execute``:

1. one pass over the table for the row count and, per column, the non-null
   count, minimum and maximum (cheap aggregates: no per-column sets);
2. one grouped statement per column that gives, from the same groups, its
   distinct count (a window over the groups) and its most frequent values.

Three choices make this faster than one ``COUNT(DISTINCT …)`` of every column
(``bench/profile.py`` measures it): a column the schema declares unique (a
single-column primary key or unique index) needs no grouping at all; each
grouping is its own statement, so MariaDB keeps one set per statement instead
of one per column in a single scan, and the statements run on
``profile_workers`` connections at once; and on MySQL/MariaDB text is grouped
by its bytes, which is cheaper than collation-aware comparison and is what
curation needs anyway: 'tx' and 'tx ' and 'TX' are one value to a
case-insensitive, trailing-space-blind collation, and three to us (and to
pandas). Columns that may hold many distinct values are grouped by sorting
(``SQL_BIG_RESULT``) rather than in a hash table that spills to disk.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from core import identifiers
from core.errors import QuarryError
from core.execute import QueryResult, run_query
from core.guard import check_sql
from core.schema import Column, Table
from core.settings import Settings
from core.target import Target

logger = logging.getLogger(__name__)

TOP_VALUES = 10
MAX_VALUE_CHARS = 200
# Result columns per statement of the first pass; PostgreSQL allows 1664, SQLite 2000.
MAX_SELECT_ITEMS = 900
# Kinds whose values can be ordered, so MIN and MAX mean something.
_ORDERED_KINDS = ("integer", "number", "date", "datetime", "time", "text", "boolean")
# Below this many possible values a column is grouped in a hash table, above it by sorting.
FEW_VALUES = 100_000


@dataclasses.dataclass
class ColumnStats:
    name: str
    type: str
    kind: str
    rows: int
    nulls: int
    distinct: int | None  # None when not computed (binary columns)
    min: Any = None
    max: Any = None
    top: list[tuple[Any, int]] = dataclasses.field(default_factory=list)
    declared_unique: bool = False
    error: str | None = None

    @property
    def non_null(self) -> int:
        return self.rows - self.nulls

    @property
    def unique(self) -> bool:
        """Every non-null value occurs once."""
        return self.distinct is not None and self.non_null > 0 and self.distinct == self.non_null

    def to_json(self) -> dict[str, Any]:
        from core.ask import json_value

        return {
            "name": self.name,
            "type": self.type,
            "rows": self.rows,
            "nulls": self.nulls,
            "distinct": self.distinct,
            "min": json_value(self.min),
            "max": json_value(self.max),
            "top": [[json_value(v), n] for v, n in self.top],
            "unique": self.unique,
            "error": self.error,
        }


@dataclasses.dataclass
class TableStats:
    table: str
    kind: str
    rows: int | None
    columns: list[ColumnStats] = dataclasses.field(default_factory=list)
    statements: int = 0
    duration_ms: float = 0.0
    error: str | None = None  # why the table could not be profiled at all

    def column(self, name: str) -> ColumnStats | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    @property
    def problems(self) -> list[str]:
        found = [f"{self.table}: {self.error}"] if self.error else []
        return found + [f"{self.table}.{c.name}: {c.error}" for c in self.columns if c.error]

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "kind": self.kind,
            "rows": self.rows,
            "statements": self.statements,
            "duration_ms": round(self.duration_ms, 1),
            "error": self.error,
            "columns": [c.to_json() for c in self.columns],
        }


def _q(name: str, dialect: str) -> str:
    return identifiers.quote(name, dialect)


def _source(table: Table, dialect: str) -> str:
    return identifiers.table(table.name, dialect).sql(dialect=dialect)


def _minmax_expression(column: Column, dialect: str) -> str | None:
    kind = column.kind
    if kind not in _ORDERED_KINDS:
        return None
    name = _q(column.name, dialect)
    if dialect == "postgres" and kind == "boolean":
        return f"CAST({name} AS INT)"  # PostgreSQL has no MIN(boolean)
    if dialect == "postgres" and kind == "text":
        return f"CAST({name} AS TEXT)"  # uuid, citext and enums have no MIN either
    return name


def _group_key(column: Column, dialect: str) -> str:
    name = _q(column.name, dialect)
    if dialect == "mysql" and column.kind in ("text", "json"):
        return f"CAST({name} AS BINARY)"
    if dialect == "postgres" and column.kind in ("json", "other"):
        return f"CAST({name} AS TEXT)"  # json has no equality operator
    return name


def few_values(column: Column, low: Any = None, high: Any = None) -> bool:
    """Whether a column can hold only a few distinct values, judged from its type and range.

    Those are grouped in a hash table; the others by sorting, whose cost stays
    bounded however many values there are.
    """
    if column.kind in ("boolean", "date"):
        return True
    if column.kind == "integer" and isinstance(low, int) and isinstance(high, int):
        return high - low < FEW_VALUES
    match = re.match(r"^(?:var)?char\((\d+)\)|^(enum|set)\b", column.type.strip().lower())
    return bool(match) and (match.group(2) is not None or int(match.group(1)) <= 16)


def first_pass_sql(table: Table, columns: list[Column], dialect: str) -> str:
    """Row count, and per column the non-null count, minimum and maximum."""
    items = ["COUNT(*)"]
    for column in columns:
        name = _q(column.name, dialect)
        items.append(f"COUNT({name})")
        expression = _minmax_expression(column, dialect)
        if expression is not None:
            items += [f"MIN({expression})", f"MAX({expression})"]
    return f"SELECT {', '.join(items)} FROM {_source(table, dialect)}"


def grouped_sql(
    table: Table, column: Column, dialect: str, *, few: bool = True, top: int = TOP_VALUES
) -> str:
    """The most frequent values of one column, each row also carrying the distinct count."""
    key = _group_key(column, dialect)
    hint = "SQL_BIG_RESULT " if dialect == "mysql" and not few else ""
    inner = (
        f"SELECT {hint}{key} AS v, COUNT(*) AS n FROM {_source(table, dialect)} "
        f"WHERE {_q(column.name, dialect)} IS NOT NULL GROUP BY {key}"
    )
    return f"SELECT v, n, COUNT(*) OVER () AS d FROM ({inner}) AS g ORDER BY n DESC, v LIMIT {top}"


def _chunks(columns: list[Column]) -> list[list[Column]]:
    chunks: list[list[Column]] = [[]]
    size = 1
    for column in columns:
        width = 3 if column.kind in _ORDERED_KINDS else 1
        if size + width > MAX_SELECT_ITEMS and chunks[-1]:
            chunks.append([])
            size = 1
        chunks[-1].append(column)
        size += width
    return chunks


def declared_unique(engine: sa.Engine, table: Table) -> set[str]:
    """Columns a single-column primary key or unique index makes unique."""
    found = {table.primary_key[0].lower()} if len(table.primary_key) == 1 else set()
    if table.kind != "table":
        return found
    try:
        inspector = sa.inspect(engine)
        for index in inspector.get_indexes(table.name, schema=table.schema):
            names = [n for n in index.get("column_names") or [] if n]
            if index.get("unique") and len(names) == 1:
                found.add(names[0].lower())
        for constraint in inspector.get_unique_constraints(table.name, schema=table.schema):
            names = constraint.get("column_names") or []
            if len(names) == 1:
                found.add(names[0].lower())
    except (sa.exc.SQLAlchemyError, NotImplementedError) as exc:
        logger.debug("No index information for %s: %s", table.name, exc)
    return found


def _shown(value: Any, column: Column) -> Any:
    """Bytes of a text column grouped by its bytes become text again; long text is cut."""
    if isinstance(value, (bytes, bytearray)) and column.kind in ("text", "json"):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    return value


class _Runner:
    """Checks and runs the statements of one table; counts them."""

    def __init__(self, target: Target, settings: Settings) -> None:
        self.target = target
        self.settings = settings
        self.statements = 0
        self._lock = threading.Lock()

    def run(self, sql: str, row_cap: int = TOP_VALUES) -> QueryResult:
        checked = check_sql(sql, self.target.schema, dialect=self.target.dialect, row_cap=row_cap)
        with self._lock:
            self.statements += 1
        return run_query(
            self.target.engine,
            checked.exec_sql,
            server=self.target.server,
            row_cap=row_cap,
            timeout_s=self.settings.profile_timeout_s,
        )


def _first_pass(runner: _Runner, table: Table, stats: TableStats) -> None:
    dialect = runner.target.dialect
    for chunk in _chunks(table.columns):
        row = runner.run(first_pass_sql(table, chunk, dialect), row_cap=1).rows[0]
        stats.rows = int(row[0])
        position = 1
        for column in chunk:
            non_null = int(row[position] or 0)
            position += 1
            low = high = None
            if _minmax_expression(column, dialect) is not None:
                low, high = row[position], row[position + 1]
                position += 2
            stats.columns.append(
                ColumnStats(
                    name=column.name,
                    type=column.type,
                    kind=column.kind,
                    rows=stats.rows,
                    nulls=stats.rows - non_null,
                    distinct=None,
                    min=_shown(low, column),
                    max=_shown(high, column),
                )
            )


def _grouped(runner: _Runner, table: Table, column: Column, stats: ColumnStats) -> None:
    few = few_values(column, stats.min, stats.max)
    try:
        result = runner.run(grouped_sql(table, column, runner.target.dialect, few=few))
    except QuarryError as exc:
        stats.error = exc.message
        return
    stats.top = [(_shown(v, column), int(n)) for v, n, _ in result.rows]
    stats.distinct = int(result.rows[0][2]) if result.rows else 0


def table_stats(
    target: Target, table: Table, settings: Settings, *, workers: int | None = None
) -> TableStats:
    """The exact statistics of every column of `table`; a failure is kept in ``error``."""
    started = time.perf_counter()
    stats = TableStats(table=table.name, kind=table.kind, rows=table.row_count)
    if not table.columns:
        stats.error = "its columns could not be read"
        return stats
    runner = _Runner(target, settings)
    try:
        _first_pass(runner, table, stats)
    except QuarryError as exc:
        stats.error = exc.explanation
        stats.columns = []
        stats.statements = runner.statements
        return stats

    unique = declared_unique(target.engine, table)
    pending: list[tuple[Column, ColumnStats]] = []
    for column, column_stats in zip(table.columns, stats.columns, strict=True):
        if column.kind == "binary":
            continue  # grouping blobs costs much and tells little; nulls, rows are known
        if column.name.lower() in unique or column_stats.non_null == 0:
            column_stats.declared_unique = column.name.lower() in unique
            column_stats.distinct = column_stats.non_null
            continue
        pending.append((column, column_stats))
    count = max(1, min(workers or settings.profile_workers, len(pending) or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda job: _grouped(runner, table, *job), pending))

    stats.statements = runner.statements
    stats.duration_ms = (time.perf_counter() - started) * 1000
    logger.info(
        "Profiled %s: %s rows, %d columns, %d statements in %.0f ms",
        table.name,
        stats.rows,
        len(stats.columns),
        stats.statements,
        stats.duration_ms,
    )
    return stats


def profile_tables(
    target: Target,
    settings: Settings,
    tables: list[Table] | None = None,
    *,
    on_table: Callable[[int, int, str], None] | None = None,
) -> list[TableStats]:
    """Statistics of every table and view of the main schema (or of `tables`), in order.

    `on_table(index, count, name)` is called before each table, for a progress display.
    """
    chosen = tables if tables is not None else list(target.schema.main_tables)
    found: list[TableStats] = []
    for index, table in enumerate(chosen):
        if on_table is not None:
            on_table(index, len(chosen), table.name)
        found.append(table_stats(target, table, settings))
    problems = {e.object: e.message for e in target.schema.errors}
    for stats in found:
        if stats.error and stats.error == "its columns could not be read":
            stats.error = problems.get(_qualified(target, stats.table), stats.error)
    return found


def _qualified(target: Target, name: str) -> str:
    table = target.schema.table(name)
    return table.qualified_name if table is not None else name
