"""Which values occur in which text columns, so questions can be linked to data.

"How many customers are from Brazil?" names no column; the index knows that
'Brazil' occurs in ``Customer.Country`` and ``Invoice.BillingCountry``. It is
built with one grouped query per text column of modest size, read-only and
time-limited like every query Quarry runs. Columns with more distinct values
than the index keeps are probed on demand (``probe``) for the proper nouns a
question contains.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlglot import exp

from core import identifiers
from core.connections import ServerInfo
from core.errors import QuarryError
from core.execute import run_query
from core.schema import Schema, Table

logger = logging.getLogger(__name__)

MAX_DISTINCT = 5000  # values kept per column
MAX_TABLE_ROWS = 2_000_000  # larger tables are only probed, never scanned whole
MAX_VALUE_LENGTH = 120


def normalize(value: str) -> str:
    """The form values are compared in: case and surrounding space ignored."""
    return " ".join(str(value).split()).lower()


@dataclasses.dataclass(frozen=True)
class ValueHit:
    table: str
    column: str
    value: str  # as stored
    count: int  # rows holding it
    distinct: int  # distinct values in the column (at least this many)


@dataclasses.dataclass
class ValueIndex:
    hits: dict[str, list[ValueHit]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    distinct: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    partial: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    errors: list[str] = dataclasses.field(default_factory=list)
    # The same hits by column, for top_values: every prompt renders examples of each table.
    _by_column: dict[tuple[str, str], list[ValueHit]] = dataclasses.field(
        default_factory=lambda: defaultdict(list), repr=False
    )

    def lookup(self, text: str) -> list[ValueHit]:
        return list(self.hits.get(normalize(text), ()))

    def add(self, hit: ValueHit) -> None:
        bucket = self.hits[normalize(hit.value)]
        if all((h.table, h.column, h.value) != (hit.table, hit.column, hit.value) for h in bucket):
            bucket.append(hit)
            self._by_column[(hit.table, hit.column)].append(hit)

    def near(self, text: str, table: str, cutoff: float = 80.0) -> list[ValueHit]:
        """Values of `table` spelled close to `text` ('Brazil' for "Brasil"), closest first;
        exact matches left out."""
        wanted = normalize(text)
        pool = [h for (t, _), hits in self._by_column.items() if t == table for h in hits]
        found = process.extract(
            wanted,
            [normalize(h.value) for h in pool],
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            limit=5,
        )
        return [pool[i] for _, _, i in found if normalize(pool[i].value) != wanted]

    def top_values(self, table: str, column: str, limit: int = 5) -> list[tuple[str, int]]:
        found = [(h.value, h.count) for h in self._by_column.get((table, column), ())]
        return sorted(found, key=lambda vc: -vc[1])[:limit]

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.hits.values())


def _text_columns(table: Table) -> list[str]:
    return [c.name for c in table.columns if c.kind == "text"]


def build_value_index(
    engine: sa.Engine,
    schema: Schema,
    server: ServerInfo,
    *,
    timeout_s: float = 10.0,
    max_distinct: int = MAX_DISTINCT,
) -> ValueIndex:
    """Read the distinct values of every text column of the main tables."""
    started = time.perf_counter()
    dialect = server.sqlglot_dialect
    index = ValueIndex()
    for table in schema.main_tables:
        if table.kind != "table" or (table.row_count or 0) > MAX_TABLE_ROWS:
            continue
        for name in _text_columns(table):
            col = identifiers.quote(name, dialect)
            src = identifiers.table(table.name, dialect, schema=None).sql(dialect=dialect)
            sql = (
                f"SELECT {col}, COUNT(*) FROM {src} WHERE {col} IS NOT NULL "
                f"GROUP BY {col} ORDER BY COUNT(*) DESC LIMIT {max_distinct + 1}"
            )
            try:
                result = run_query(
                    engine, sql, server=server, row_cap=max_distinct + 1, timeout_s=timeout_s
                )
            except QuarryError as exc:
                index.errors.append(f"{table.name}.{name}: {exc.message}")
                continue
            rows = result.rows
            if len(rows) > max_distinct:
                index.partial.add((table.name, name))
                rows = rows[:max_distinct]
            index.distinct[(table.name, name)] = len(result.rows)
            for value, count in rows:
                if isinstance(value, str) and 0 < len(value) <= MAX_VALUE_LENGTH:
                    index.add(ValueHit(table.name, name, value, int(count), len(result.rows)))
    logger.info(
        "Value index: %d values in %d columns in %.0f ms",
        index.size,
        len(index.distinct),
        (time.perf_counter() - started) * 1000,
    )
    return index


def probe(
    engine: sa.Engine,
    schema: Schema,
    server: ServerInfo,
    index: ValueIndex,
    text: str,
    *,
    timeout_s: float = 5.0,
) -> list[ValueHit]:
    """Look `text` up in the columns the index could not hold whole.

    Found values are added to the index, so a second question finds them at once.
    """
    dialect = server.sqlglot_dialect
    found: list[ValueHit] = []
    literal = exp.Literal.string(text).sql(dialect=dialect)
    candidates = [
        (t, c)
        for t in schema.main_tables
        if t.kind == "table"
        for c in _text_columns(t)
        if (t.name, c) in index.partial or (t.row_count or 0) > MAX_TABLE_ROWS
    ]
    for table, name in candidates:
        col = identifiers.quote(name, dialect)
        src = identifiers.table(table.name, dialect).sql(dialect=dialect)
        sql = f"SELECT {col}, COUNT(*) FROM {src} WHERE {col} = {literal} GROUP BY {col} LIMIT 5"
        try:
            result = run_query(engine, sql, server=server, row_cap=5, timeout_s=timeout_s)
        except QuarryError as exc:
            logger.debug("Probe of %s.%s failed: %s", table.name, name, exc.message)
            continue
        for value, count in result.rows:
            if isinstance(value, str):
                hit = ValueHit(
                    table.name,
                    name,
                    value,
                    int(count),
                    index.distinct.get((table.name, name), MAX_DISTINCT),
                )
                index.add(hit)
                found.append(hit)
    return found
