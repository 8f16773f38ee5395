"""Column statistics computed in the database: exact, without loading the table.

Every statement is checked by the guard and run read-only and time-limited by
``core.execute``; they run on ``profile_workers`` connections at once:

- one cheap pass: the row count and, per column, the non-null count, minimum
  and maximum;
- a sample of the first rows, to tell the columns that look unique;
- per column, one grouping chosen by what the column looks like: a column the
  schema declares unique needs none (any ten values are its top ten); a column
  leading an index is counted and grouped along the index; a column of few
  values is grouped whole, which gives its distinct count and top values
  together; a column of many values is grouped by sorting and only the values
  that repeat are sent back, from which its distinct count follows (every other
  value occurs once) and its top values are read.

That is cheaper than one ``COUNT(DISTINCT …)`` of every column
(``bench/profile.py`` measures both), though it also gives top values: no
column is counted twice, the work spreads over several cores, and on
MySQL/MariaDB text is grouped by its bytes, which is cheaper than
collation-aware comparison and is what curation needs anyway: 'tx', 'tx ' and
'TX' are one value to a case-insensitive, trailing-space-blind collation, and
three to us (and to pandas).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import heapq
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


def first_pass_sql(
    table: Table,
    columns: list[Column],
    dialect: str,
    *,
    distinct: set[str] | frozenset = frozenset(),
) -> str:
    """Row count, and per column the non-null count, minimum, maximum and (for the
    columns named in `distinct`) the number of distinct values."""
    items = ["COUNT(*)"]
    for column in columns:
        name = _q(column.name, dialect)
        items.append(f"COUNT({name})")
        expression = _minmax_expression(column, dialect)
        if expression is not None:
            items += [f"MIN({expression})", f"MAX({expression})"]
        if column.name in distinct:
            items.append(f"COUNT(DISTINCT {_group_key(column, dialect)})")
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
    """Columns split so that no first-pass statement has too many result columns."""
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


def index_leaders(engine: sa.Engine, table: Table) -> tuple[set[str], set[str]]:
    """(unique, indexed): columns a single-column primary key or unique index makes
    unique, and columns that lead some index (lower-cased names)."""
    unique = {table.primary_key[0].lower()} if len(table.primary_key) == 1 else set()
    indexed = {table.primary_key[0].lower()} if table.primary_key else set()
    if table.kind != "table":
        return unique, indexed
    try:
        inspector = sa.inspect(engine)
        for index in inspector.get_indexes(table.name, schema=table.schema):
            names = [n for n in index.get("column_names") or [] if n]
            if names:
                indexed.add(names[0].lower())
            if index.get("unique") and len(names) == 1:
                unique.add(names[0].lower())
        for constraint in inspector.get_unique_constraints(table.name, schema=table.schema):
            names = constraint.get("column_names") or []
            if len(names) == 1:
                unique.add(names[0].lower())
    except (sa.exc.SQLAlchemyError, NotImplementedError) as exc:
        logger.debug("No index information for %s: %s", table.name, exc)
    return unique, indexed


def declared_unique(engine: sa.Engine, table: Table) -> set[str]:
    """Columns a single-column primary key or unique index makes unique."""
    return index_leaders(engine, table)[0]


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

    def run(self, sql: str, row_cap: int = TOP_VALUES, consume=None) -> QueryResult:
        checked = check_sql(sql, self.target.schema, dialect=self.target.dialect, row_cap=row_cap)
        with self._lock:
            self.statements += 1
        return run_query(
            self.target.engine,
            checked.exec_sql,
            server=self.target.server,
            row_cap=row_cap,
            timeout_s=self.settings.profile_timeout_s,
            consume=consume,
        )


# A column expected to hold few values is grouped whole: up to this many groups
# give its distinct count and its top values in one statement.
ALL_GROUPS = 20_000


def _not_null(column: Column, dialect: str) -> str:
    return f"{_q(column.name, dialect)} IS NOT NULL"


def groups_sql(
    table: Table,
    column: Column,
    dialect: str,
    *,
    limit: int,
    repeats_only: bool = False,
    by_sorting: bool = False,
) -> str:
    """Values of one column with their counts, most frequent first."""
    key = _group_key(column, dialect)
    hint = "SQL_BIG_RESULT " if by_sorting and dialect == "mysql" else ""
    having = " HAVING COUNT(*) > 1" if repeats_only else ""
    return (
        f"SELECT {hint}{key} AS v, COUNT(*) AS n FROM {_source(table, dialect)} "
        f"WHERE {_not_null(column, dialect)} GROUP BY {key}{having} "
        f"ORDER BY n DESC, v LIMIT {limit}"
    )


def _some_values_sql(table: Table, column: Column, dialect: str, limit: int) -> str:
    key = _group_key(column, dialect)
    return (
        f"SELECT DISTINCT {key} FROM {_source(table, dialect)} "
        f"WHERE {_not_null(column, dialect)} LIMIT {limit}"
    )


def _distinct_sql(table: Table, column: Column, dialect: str) -> str:
    key = _group_key(column, dialect)
    return f"SELECT COUNT(DISTINCT {key}) FROM {_source(table, dialect)}"


def _whole_groups(runner: _Runner, table: Table, column: Column) -> tuple[int | None, list]:
    """(distinct count, top values) from grouping the whole column, for few-valued columns.

    When the column turns out to hold more than ALL_GROUPS values, its top values are
    still exact (the statement orders before it limits) and its count is read apart.
    """
    dialect = runner.target.dialect
    rows = runner.run(
        groups_sql(table, column, dialect, limit=ALL_GROUPS + 1), row_cap=ALL_GROUPS + 1
    ).rows
    top = [(v, int(n)) for v, n in rows[:TOP_VALUES]]
    if len(rows) <= ALL_GROUPS:
        return len(rows), top
    return int(runner.run(_distinct_sql(table, column, dialect), row_cap=1).rows[0][0]), top


def _indexed(runner: _Runner, table: Table, column: Column) -> tuple[int | None, list]:
    """A column that leads an index: both statements walk the index, not the table."""
    dialect = runner.target.dialect
    distinct = int(runner.run(_distinct_sql(table, column, dialect), row_cap=1).rows[0][0])
    rows = runner.run(groups_sql(table, column, dialect, limit=TOP_VALUES)).rows
    return distinct, [(v, int(n)) for v, n in rows]


def _top_after_count(
    runner: _Runner, table: Table, column: Column, stats: ColumnStats
) -> list[tuple[Any, int]]:
    """Top values of a column whose distinct count is known."""
    dialect = runner.target.dialect
    if stats.unique:
        # Every value occurs once, so any ten are a top ten.
        rows = runner.run(_some_values_sql(table, column, dialect, TOP_VALUES)).rows
        return [(v, 1) for (v,) in rows]
    if (stats.distinct or 0) <= FEW_VALUES or dialect != "mysql":
        rows = runner.run(groups_sql(table, column, dialect, limit=TOP_VALUES)).rows
        return [(v, int(n)) for v, n in rows]
    # Many values: group by sorting and keep the ones that repeat, a far smaller result.
    rows = runner.run(
        groups_sql(table, column, dialect, limit=TOP_VALUES, repeats_only=True, by_sorting=True)
    ).rows
    top = [(v, int(n)) for v, n in rows]
    if len(top) < TOP_VALUES:
        # Fewer values repeat than the list holds: every other value occurs once.
        seen = {v for v, _ in top}
        wanted = TOP_VALUES + len(top)
        more = runner.run(_some_values_sql(table, column, dialect, wanted), row_cap=wanted).rows
        top += [(v, 1) for (v,) in more if v not in seen][: TOP_VALUES - len(top)]
    return top


def _guarded(job):
    """Run one statistics job; a failure becomes its error text, not the table's end."""
    try:
        return job(), None
    except QuarryError as exc:
        return None, exc.message


SAMPLE_ROWS = 5000
# Kinds an index orders the way COUNT(DISTINCT) and GROUP BY can use it.
_INDEX_KINDS = ("integer", "date", "datetime", "boolean")
# Above this share of distinct values in the sample a column is taken to be unique.
NEARLY_UNIQUE = 0.98


def _sample_ratios(runner: _Runner, table: Table, columns: list[Column]) -> dict[str, float]:
    """Share of distinct values per column among the table's first rows (a cheap read)."""
    if not columns:
        return {}
    dialect = runner.target.dialect
    keys = ", ".join(_group_key(c, dialect) for c in columns)
    rows = runner.run(
        f"SELECT {keys} FROM {_source(table, dialect)} LIMIT {SAMPLE_ROWS}", row_cap=SAMPLE_ROWS
    ).rows
    ratios = {}
    for i, column in enumerate(columns):
        values = [r[i] for r in rows if r[i] is not None]
        ratios[column.name] = len(set(values)) / len(values) if len(values) >= 100 else 0.0
    return ratios


# A repeated-values statement reads at most this many groups; more than that (only
# in tables of tens of millions of rows) and the distinct count is asked for apart.
MAX_REPEATS = 5_000_000


def _repeats(runner: _Runner, table: Table, column: Column, stats: ColumnStats):
    """A column with many values: one grouping that sends only the values that repeat.

    Every value not sent occurs once, so the distinct count is the non-null count less
    what the repeats add beyond one each, and the top values are the most repeated:
    no COUNT(DISTINCT …) pass is needed. Grouping is by sorting, whose cost stays
    bounded however many values there are.
    """
    dialect = runner.target.dialect
    key = _group_key(column, dialect)
    hint = "SQL_BIG_RESULT " if dialect == "mysql" else ""
    sql = (
        f"SELECT {hint}{key} AS v, COUNT(*) AS n FROM {_source(table, dialect)} "
        f"WHERE {_not_null(column, dialect)} GROUP BY {key} HAVING COUNT(*) > 1"
    )
    extra = 0
    heap: list[tuple[int, Any]] = []

    def consume(batch: list[tuple[Any, ...]]) -> None:
        nonlocal extra
        for value, n in batch:
            extra += int(n) - 1
            heap.append((-int(n), value))
        if len(heap) > 4 * TOP_VALUES:
            heap[:] = heapq.nsmallest(TOP_VALUES, heap, key=_heap_key)

    runner.run(sql, row_cap=MAX_REPEATS, consume=consume)
    top = [(v, -n) for n, v in heapq.nsmallest(TOP_VALUES, heap, key=_heap_key)]
    stats.distinct = stats.non_null - extra
    if len(top) < TOP_VALUES:
        seen = {v for v, _ in top}
        wanted = TOP_VALUES + len(top)
        more = runner.run(_some_values_sql(table, column, dialect, wanted), row_cap=wanted).rows
        top += [(v, 1) for (v,) in more if v not in seen][: TOP_VALUES - len(top)]
    return stats.distinct, top


def _heap_key(item: tuple[int, Any]) -> tuple:
    # Most frequent first, then by value, as ORDER BY n DESC, v would; None sorts first.
    n, value = item
    return (n, value is not None, value)


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
    count = max(1, workers or settings.profile_workers)
    dialect = target.dialect
    unique, indexed = index_leaders(target.engine, table)
    candidates = [c for c in table.columns if c.kind != "binary" and c.name.lower() not in unique]
    results: dict[str, tuple] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
        # The cheap pass runs beside the groupings that do not need its figures.
        first = [
            (
                chunk,
                pool.submit(
                    lambda c=chunk: runner.run(first_pass_sql(table, c, dialect), row_cap=1).rows[0]
                ),
            )
            for chunk in _chunks(table.columns)
        ]
        try:
            ratios = _sample_ratios(runner, table, candidates)
        except QuarryError as exc:
            stats.error = exc.explanation
            stats.statements = runner.statements
            return stats
        early: dict[str, Callable] = {}
        later: dict[str, Callable] = {}
        for column in candidates:
            if column.name.lower() in indexed and column.kind in _INDEX_KINDS:
                early[column.name] = lambda c=column: _indexed(runner, table, c)
            elif ratios.get(column.name, 0.0) >= NEARLY_UNIQUE:
                later[column.name] = column
            else:
                early[column.name] = lambda c=column: _whole_groups(runner, table, c)
        # Dearest first (most distinct values in the sample), so no worker is left with
        # a long grouping at the end.
        order = sorted(early, key=lambda name: -ratios.get(name, 0.0))
        futures = {name: pool.submit(_guarded, early[name]) for name in order}
        try:
            by_name = _merge_counts(
                [(chunk, future.result()) for chunk, future in first], dialect, set(), unique
            )
        except QuarryError as exc:
            stats.error = exc.explanation
            stats.statements = runner.statements
            return stats
        for column in table.columns:
            column_stats = by_name[column.name]
            if column.kind == "binary" or column_stats.non_null == 0:
                futures.pop(column.name, None)
            elif column.name.lower() in unique:
                futures[column.name] = pool.submit(
                    _guarded,
                    lambda c=column, s=column_stats: (
                        s.distinct,
                        _top_after_count(runner, table, c, s),
                    ),
                )
            elif column.name in later:
                futures[column.name] = pool.submit(
                    _guarded, lambda c=column, s=column_stats: _repeats(runner, table, c, s)
                )
        results = {name: future.result() for name, future in futures.items()}

    for column in table.columns:
        column_stats = by_name[column.name]
        value, error = results.get(column.name, (None, None))
        if error:
            column_stats.error = error
        elif value is not None:
            column_stats.distinct, top = value
            column_stats.top = [(_shown(v, column), n) for v, n in top]
        stats.columns.append(column_stats)
    stats.rows = stats.columns[0].rows if stats.columns else stats.rows
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


def _merge_counts(counting, dialect: str, counted: set[str], unique: set[str]):
    """ColumnStats from first-pass rows: (columns, row) pairs, in statement order."""
    found: dict[str, ColumnStats] = {}
    for chunk, row in counting:
        rows = int(row[0])
        position = 1
        for column in chunk:
            non_null = int(row[position] or 0)
            position += 1
            low = high = None
            if _minmax_expression(column, dialect) is not None:
                low, high = row[position], row[position + 1]
                position += 2
            distinct = None
            if column.name in counted:
                distinct = int(row[position] or 0)
                position += 1
            elif column.name.lower() in unique or non_null == 0:
                distinct = non_null
            found[column.name] = ColumnStats(
                name=column.name,
                type=column.type,
                kind=column.kind,
                rows=rows,
                nulls=rows - non_null,
                distinct=distinct,
                min=_shown(low, column),
                max=_shown(high, column),
                declared_unique=column.name.lower() in unique,
            )
    return found


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
