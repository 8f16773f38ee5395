"""Questions and their SQL written from a schema's shape and the values in its data.

For each table: counts, filters on values the value index found, group-bys
by low-cardinality columns, averages, extremes and totals of measures, top 5
rows, counts per year of a date, and questions asked through each parent
table the table references by one foreign key. With a glossary, columns are
named by their recorded meaning ("state", not "st") and a value is sometimes
asked for by its synonym ("Texas" for 'TX'), so the examples teach what the
glossary says. The SQL is written from the
template's intent as a sqlglot tree in the target's dialect, so it needs no
model and no reading of the question; the training-data builder runs each one
before it keeps it. ``KINDS`` names the shapes, and ``sql_kind`` reads the
shape off any query.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator, Sequence

import sqlglot
from sqlglot import exp

from core import identifiers
from core.glossary import Glossary
from core.naming import humanize, plural, singular, split_identifier
from core.offline_engine import BOOKKEEPING_DATE, label_columns
from core.schema import Column, Table
from core.target import Target

KINDS = ("count", "aggregate", "filter", "group-by", "top-N", "join", "list")

CATEGORY_MAX = 30  # distinct values up to which a text column is a category
SMALL_TABLE = 100  # tables up to this many rows get a "list all" question
VALUES_PER_COLUMN = 2
_SUMMABLE = re.compile(r"amount|price|cost|charge|total|revenue|fee|quantity|qty|mrc|nrc|paid")


@dataclasses.dataclass(frozen=True)
class SyntheticQuestion:
    question: str
    sql: str
    kind: str  # one of KINDS
    template: str


_Questions = Iterator[SyntheticQuestion]


def sql_kind(sql: str, dialect: str) -> str:
    """The shape of a query, in the words of ``KINDS``; joins first, then grouping, and so on."""
    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except sqlglot.errors.SqlglotError:
        return "list"
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is None:
        return "list"
    if tree.find(exp.Join):
        return "join"
    if select.args.get("group"):
        return "group-by"
    if select.args.get("order") and select.args.get("limit"):
        return "top-N"
    if select.args.get("where"):
        return "filter"
    functions = [f for e in select.expressions for f in e.find_all(exp.AggFunc)]
    if functions:
        return "count" if all(isinstance(f, exp.Count) for f in functions) else "aggregate"
    return "list"


def _noun(table: Table, many: bool = True) -> str:
    words = humanize(table.name).split()
    if words:
        one = singular(words[-1])
        words[-1] = plural(one) if many else one
    return " ".join(words)


def _of(owner: str, words: str) -> str:
    """'circuit' and 'circuit status' read 'circuit status', not 'circuit circuit status'."""
    return words if words.startswith(owner + " ") else f"{owner} {words}"


def _is_key(table: Table, column: Column) -> bool:
    return (
        column.name in table.primary_key
        or any(column.name in fk.columns for fk in table.foreign_keys)
        or split_identifier(column.name)[-1:] == ["id"]
    )


def _usable_value(value: str) -> bool:
    return bool(value.strip()) and value[0].isalnum() and len(value) <= 40


class _Writer:
    """SQL in one target's dialect, quoted as the dialect needs, built as sqlglot trees."""

    def __init__(self, target: Target, glossary: Glossary | None = None) -> None:
        self.target = target
        self.dialect = target.dialect
        self.glossary = glossary or Glossary()

    def words(self, table: Table, column: Column) -> str:
        """How a question names the column: its glossary meaning's head, else its name."""
        return short_meaning(self.glossary.meaning(table.name, column.name)) or humanize(
            column.name
        )

    def spelling(self, table: Table, column: Column, value: str) -> str:
        """The value as a question writes it: the glossary's synonym for it, if one is
        recorded and reads as words (not a stray case variant)."""
        for synonym in self.glossary.synonyms:
            if (
                synonym.table.lower() == table.name.lower()
                and synonym.column.lower() == column.name.lower()
                and synonym.value == value
                and synonym.synonym.strip() == synonym.synonym
                and synonym.synonym.lower() != value.lower()
            ):
                return synonym.synonym
        return value

    def col(self, column: str, table: str | None = None) -> exp.Column:
        return identifiers.column(column, table, self.dialect)

    def table(self, name: str) -> exp.Table:
        return identifiers.table(name, self.dialect)

    def year(self, column: exp.Expression) -> exp.Expression:
        if self.target.server.backend == "sqlite":
            # SQLite has no date type and no YEAR(); its dates are ISO text.
            year = exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string("%Y"), column])
            return exp.Cast(this=year, to=exp.DataType.build("INTEGER"))
        return exp.Extract(this=exp.var("YEAR"), expression=column)

    def sql(self, query: exp.Expression) -> str:
        return query.sql(dialect=self.dialect)


def short_meaning(meaning: str | None) -> str:
    """The head of a recorded meaning, short enough to stand in a question:
    "circuit status: ACTV active, …" gives "circuit status"; "" when too long."""
    if not meaning:
        return ""
    head = re.split(r"[:;(,]| - | — ", meaning, maxsplit=1)[0].strip().rstrip(".")
    return head if 0 < len(head.split()) <= 5 else ""


def _equals(column: exp.Column, value: str) -> exp.EQ:
    return exp.EQ(this=column.copy(), expression=exp.Literal.string(value))


def _not_null(column: exp.Column) -> exp.Not:
    return exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null()))


def _copies(columns: Sequence[exp.Expression]) -> list[exp.Expression]:
    return [c.copy() for c in columns]


@dataclasses.dataclass
class _Shape:
    """What one table offers the templates.

    ``labels`` name a row to a person (a name, a first and last name, a reference) and
    are nearly unique; ``ids`` are the labels, or else the primary key.
    """

    table: Table
    labels: list[Column]
    ids: list[Column]
    categories: list[Column]
    measures: list[Column]
    dates: list[Column]

    def select_ids(self, w: _Writer, qualify: bool = False) -> list[exp.Column]:
        return [w.col(c.name, self.table.name if qualify else None) for c in self.ids]

    @property
    def label_words(self) -> str:
        return " and ".join(humanize(c.name) for c in self.labels)


def _shape(table: Table, target: Target) -> _Shape:
    values = target.values()

    def distinct(column: Column) -> int | None:
        return values.distinct.get((table.name, column.name))

    def nearly_unique(column: Column) -> bool:
        if (table.name, column.name) in values.partial or distinct(column) is None:
            return True  # too many values to index: unique enough
        return distinct(column) >= 0.5 * (table.row_count or 0)

    def category(column: Column) -> bool:
        top = values.top_values(table.name, column.name, 1)
        # A column whose every value occurs once groups nothing, however few values it has.
        return 2 <= (distinct(column) or 0) <= CATEGORY_MAX and bool(top) and top[0][1] >= 2

    named = label_columns(table)
    texts = [c for c in named if c.kind == "text" and not _is_key(table, c)]
    labels = texts if len(texts) == len(named) and any(nearly_unique(c) for c in texts) else []
    keys = [table.column(k) for k in table.primary_key]
    ids = labels or [k for k in keys if k is not None]
    categories = [
        c
        for c in table.columns
        if c.kind == "text" and c not in labels and not _is_key(table, c) and category(c)
    ]
    categories.sort(key=lambda c: distinct(c) or 0)
    measures = [
        c for c in table.columns if c.is_numeric and c.kind != "boolean" and not _is_key(table, c)
    ]
    dates = [
        c
        for c in table.columns
        if c.kind in ("date", "datetime") and not BOOKKEEPING_DATE.search(c.name)
    ]
    return _Shape(table, labels, ids, categories, measures, dates)


def _summable(column: Column) -> bool:
    return bool(_SUMMABLE.search(column.name.lower() + " " + humanize(column.name)))


def _top_values(target: Target, table: Table, column: Column, n: int) -> list[str]:
    found = target.values().top_values(table.name, column.name, n * 3)
    return [v for v, _ in found if _usable_value(v)][:n]


def _pair(
    question: str, w: _Writer, query: exp.Expression, kind: str, template: str
) -> SyntheticQuestion:
    return SyntheticQuestion(question, w.sql(query), kind, template)


def _counts(w: _Writer, shape: _Shape) -> _Questions:
    t, nouns = shape.table, _noun(shape.table)
    yield _pair(
        f"How many {nouns} are there?",
        w,
        exp.select("COUNT(*)").from_(w.table(t.name)),
        "count",
        "count",
    )
    if shape.labels and (t.row_count or 0) <= SMALL_TABLE:
        yield _pair(
            f"List all {nouns}.",
            w,
            exp.select(*shape.select_ids(w)).from_(w.table(t.name)),
            "list",
            "list all",
        )


def _categories(w: _Writer, shape: _Shape) -> _Questions:
    """Counts per category, the most common one, and filters on values found in the data."""
    t, nouns = shape.table, _noun(shape.table)
    for column in shape.categories[:2]:
        c, words = w.col(column.name), w.words(t, column)
        per = exp.select(c, "COUNT(*)").from_(w.table(t.name)).group_by(c.copy())
        yield _pair(
            f"How many {nouns} are there per {words}?",
            w,
            per.order_by("COUNT(*) DESC"),
            "group-by",
            "count per category",
        )
        yield _pair(
            f"Which {words} has the most {nouns}?",
            w,
            per.copy().order_by("COUNT(*) DESC").limit(1),
            "top-N",
            "most common category",
        )
        for value in _top_values(w.target, t, column, VALUES_PER_COLUMN):
            yield _pair(
                f"How many {nouns} have {words} '{w.spelling(t, column, value)}'?",
                w,
                exp.select("COUNT(*)").from_(w.table(t.name)).where(_equals(c, value)),
                "filter",
                "count with value",
            )
            if shape.labels:
                yield _pair(
                    f"List the {shape.label_words} of {nouns} with {words} '{value}'.",
                    w,
                    exp.select(*shape.select_ids(w))
                    .from_(w.table(t.name))
                    .where(_equals(c, value)),
                    "filter",
                    "list with value",
                )


def _measures(w: _Writer, shape: _Shape) -> _Questions:
    """Average, extremes and totals of numeric columns, top 5 rows, averages per category."""
    t, nouns, one = shape.table, _noun(shape.table), _noun(shape.table, False)
    for column in shape.measures[:2]:
        m, words = w.col(column.name), w.words(t, column)
        aggregates = [
            ("AVG", f"What is the average {words} of {nouns}?"),
            ("MAX", f"What is the highest {words} of any {one}?"),
            ("MIN", f"What is the lowest {words} of any {one}?"),
        ]
        if _summable(column):
            aggregates.append(("SUM", f"What is the total {words} of all {nouns}?"))
        for function, question in aggregates:
            query = exp.select(exp.func(function, m.copy())).from_(w.table(t.name))
            yield _pair(question, w, query, "aggregate", f"{function.lower()} of a measure")
        yield _pair(
            f"Which 5 {nouns} have the highest {words}?",
            w,
            exp.select(*shape.select_ids(w), m.copy())
            .from_(w.table(t.name))
            .where(_not_null(m))
            .order_by(exp.Ordered(this=m.copy(), desc=True))
            .limit(5),
            "top-N",
            "top 5 by a measure",
        )
        for category in shape.categories[:1]:
            c = w.col(category.name)
            yield _pair(
                f"What is the average {words} of {nouns} per {w.words(t, category)}?",
                w,
                exp.select(c, exp.func("AVG", m.copy()))
                .from_(w.table(t.name))
                .group_by(c.copy())
                .order_by(c.copy()),
                "group-by",
                "average per category",
            )


def _years(w: _Writer, shape: _Shape) -> _Questions:
    t = shape.table
    for column in shape.dates[:1]:
        c = w.col(column.name)
        year = w.year(c.copy())
        yield _pair(
            f"How many {_noun(t)} are there per year of {w.words(t, column)}?",
            w,
            exp.select(exp.alias_(year.copy(), "year"), "COUNT(*)")
            .from_(w.table(t.name))
            .where(_not_null(c))
            .group_by(year.copy())
            .order_by(year.copy()),
            "group-by",
            "count per year",
        )


def _joins(w: _Writer, shape: _Shape, parent: _Shape, on: exp.Expression) -> _Questions:
    """Questions about `shape`'s rows asked through one parent table they reference."""
    t, p = shape.table, parent.table
    nouns, one = _noun(t), _noun(p, False)
    ids = parent.select_ids(w, qualify=True)
    keys = [w.col(k, p.name) for k in p.primary_key]
    group = keys + [i for i in ids if i.name not in p.primary_key]

    def joined(*columns: exp.Expression | str) -> exp.Select:
        return exp.select(*columns).from_(w.table(t.name)).join(w.table(p.name), on=on.copy())

    per_parent = joined(*_copies(ids), "COUNT(*)").group_by(*_copies(group))
    yield _pair(
        f"How many {nouns} are there for each {one}?",
        w,
        per_parent.copy().order_by("COUNT(*) DESC"),
        "join",
        "count per parent",
    )
    yield _pair(
        f"Which {one} has the most {nouns}?",
        w,
        per_parent.copy().order_by("COUNT(*) DESC").limit(1),
        "join",
        "parent with the most",
    )
    if len(parent.labels) == 1:
        label = w.col(parent.labels[0].name, p.name)
        for value in _top_values(w.target, p, parent.labels[0], 1):
            yield _pair(
                f"How many {nouns} does the {one} '{value}' have?",
                w,
                joined("COUNT(*)").where(_equals(label, value)),
                "join",
                "count for a named parent",
            )
    for category in parent.categories[:1]:
        c, words = w.col(category.name, p.name), w.words(p, category)
        yield _pair(
            f"How many {nouns} are there per {_of(one, words)}?",
            w,
            joined(c, "COUNT(*)").group_by(c.copy()).order_by("COUNT(*) DESC"),
            "join",
            "count per parent category",
        )
        for value in _top_values(w.target, p, category, 1):
            yield _pair(
                f"How many {nouns} belong to {_noun(p)} with {words} "
                f"'{w.spelling(p, category, value)}'?",
                w,
                joined("COUNT(*)").where(_equals(c, value)),
                "join",
                "count for a parent value",
            )
    for measure in [m for m in shape.measures if _summable(m)][:1]:
        total = exp.func("SUM", w.col(measure.name, t.name))
        yield _pair(
            f"What is the total {w.words(t, measure)} of {nouns} for each {one}?",
            w,
            joined(*_copies(ids), total)
            .group_by(*_copies(group))
            .order_by(exp.Ordered(this=total.copy(), desc=True)),
            "join",
            "total per parent",
        )


def _along_keys(w: _Writer, shape: _Shape, shapes: dict[str, _Shape]) -> _Questions:
    """Joins to each parent the table references by exactly one foreign key."""
    t = shape.table
    references = Counter(fk.ref_table for fk in t.foreign_keys)
    for fk in t.foreign_keys:
        parent = shapes.get(fk.ref_table)
        if parent is None or parent.table.name == t.name or references[fk.ref_table] > 1:
            continue  # two keys to one table (from and to sites, say) leave "which" open
        if not parent.ids or len(fk.columns) != len(fk.ref_columns):
            continue
        on = exp.and_(
            *[
                exp.EQ(this=w.col(child, t.name), expression=w.col(ref, parent.table.name))
                for child, ref in zip(fk.columns, fk.ref_columns, strict=True)
            ]
        )
        yield from _joins(w, shape, parent, on)


def synthetic_questions(
    target: Target, glossary: Glossary | None = None
) -> list[SyntheticQuestion]:
    """Questions and SQL written from the schema's shape and the values in the data.

    Interleaved table by table, so that the first examples already cover every table.
    """
    w = _Writer(target, glossary)
    tables = [
        t
        for t in target.schema.main_tables
        if t.kind == "table" and t.columns and (t.row_count is None or t.row_count > 0)
    ]
    shapes = {t.name: _shape(t, target) for t in tables}
    per_table = [
        [
            *_counts(w, shape),
            *_categories(w, shape),
            *_measures(w, shape),
            *_years(w, shape),
            *_along_keys(w, shape, shapes),
        ]
        for shape in shapes.values()
    ]
    longest = max((len(p) for p in per_table), default=0)
    return [pairs[rank] for rank in range(longest) for pairs in per_table if rank < len(pairs)]
