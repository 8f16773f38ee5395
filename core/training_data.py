"""Fine-tuning examples for text-to-SQL, written as OpenAI chat JSONL.

Examples come from eval-set cases (``{"id", "question", "sql"}``), Ask runs
marked good, and synthetic pairs generated from the schema: counts, filters
on values that occur in the data, group-bys, aggregates, top-N and joins along
foreign keys, each SQL written from the template's intent. Every SQL passes
the guard and runs on the target read-only; only those that return rows
become examples. With a model, each question can also be paraphrased.

An example's messages are the ones Ask sends a model for that question
(``core.ask.prompt_messages``: instructions, the schema context and glossary
in the system message, the question in the user message), followed by the
SQL as the assistant's answer, fenced as the prompt asks. Questions are
de-duplicated, and the split into train and validation keeps every question
of one SQL on the same side, so the validation loss measures questions about
queries the model has not seen.

    data = build_training_data(target, settings, cases=cases, history=good_runs())
    data.jsonl("train"), data.jsonl("validation"), data.summary()
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlglot
from sqlglot import exp

from core import identifiers
from core.ask import prompt_messages
from core.errors import BadInput, ModelUnavailable, QuarryError
from core.evaluate import parse_jsonl
from core.execute import run_query
from core.generate_sql import complete
from core.glossary import Glossary
from core.guard import check_sql
from core.history import HistoryEntry
from core.naming import humanize, plural, singular, split_identifier
from core.offline_engine import label_columns
from core.prompt import DEFAULT_TEMPLATE
from core.schema import Column, Table
from core.settings import Settings
from core.target import Target

logger = logging.getLogger(__name__)

EVAL_SET = "eval set"
HISTORY = "history"
SYNTHETIC = "synthetic"
PARAPHRASE = "paraphrase"
SOURCES = (EVAL_SET, HISTORY, SYNTHETIC, PARAPHRASE)
KINDS = ("count", "aggregate", "filter", "group-by", "top-N", "join", "list")

CHECK_ROWS = 20  # rows fetched to see that a query answers; the rest is not needed
CATEGORY_MAX = 30  # distinct values up to which a text column is a category
SMALL_TABLE = 100  # tables up to this many rows get a "list all" question
VALUES_PER_COLUMN = 2
_SUMMABLE = re.compile(r"amount|price|cost|charge|total|revenue|fee|quantity|qty|mrc|nrc|paid")


@dataclasses.dataclass(frozen=True)
class Pair:
    """A question and its SQL before they are checked; `kind` empty means read it off the SQL."""

    question: str
    sql: str
    source: str
    kind: str = ""
    ref: str = ""  # the case id, the history run, or the template that wrote it


@dataclasses.dataclass
class Example:
    """A checked pair with the messages of one chat-format training line."""

    question: str
    sql: str
    source: str
    kind: str
    tables: tuple[str, ...]
    messages: list[dict[str, str]]

    def line(self) -> str:
        answer = {"role": "assistant", "content": f"```sql\n{self.sql}\n```"}
        return json.dumps({"messages": [*self.messages, answer]}, ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class Dropped:
    question: str
    sql: str
    source: str
    reason: str


@dataclasses.dataclass
class Checked:
    """What checking pairs gave: the examples, and the pairs dropped with the reason."""

    examples: list[Example] = dataclasses.field(default_factory=list)
    dropped: list[Dropped] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TrainingData:
    train: list[Example]
    validation: list[Example]
    dropped: list[Dropped]
    duplicates: int
    warnings: list[str]

    @property
    def examples(self) -> list[Example]:
        return self.train + self.validation

    def jsonl(self, part: str) -> bytes:
        """The train or validation file: one chat example per line."""
        examples = {"train": self.train, "validation": self.validation}[part]
        return "".join(e.line() + "\n" for e in examples).encode("utf-8")

    def by_source(self) -> dict[str, int]:
        counts = Counter(e.source for e in self.examples)
        return {s: counts[s] for s in SOURCES if counts[s]}

    def by_kind(self) -> dict[str, int]:
        counts = Counter(e.kind for e in self.examples)
        return {k: counts[k] for k in KINDS if counts[k]}

    def summary(self) -> list[dict[str, Any]]:
        """One row per table: examples using it, train and validation, and one column per kind.

        A join counts under each table it reads, so the rows add up to more than the examples.
        """
        rows: dict[str, dict[str, Any]] = {}
        for part, examples in (("train", self.train), ("validation", self.validation)):
            for e in examples:
                for table in e.tables:
                    row = rows.setdefault(
                        table,
                        {"table": table, "examples": 0, "train": 0, "validation": 0}
                        | {k: 0 for k in KINDS},
                    )
                    row["examples"] += 1
                    row[part] += 1
                    row[e.kind] += 1
        used = [k for k in KINDS if any(r[k] for r in rows.values())]
        ordered = sorted(rows.values(), key=lambda r: (-r["examples"], r["table"]))
        return [{k: v for k, v in r.items() if k not in KINDS or k in used} for r in ordered]


def read_cases(data: bytes, name: str = "upload") -> list[dict[str, Any]]:
    """Eval-set cases from the bytes of a JSONL upload, the ``python -m core eval`` format."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(
            f"{name} is not UTF-8 text.", hint="Upload the eval set as a UTF-8 .jsonl file."
        ) from None
    cases = parse_jsonl(text, name, "question", '{"id", "question", "sql"}')
    missing = [str(c["id"]) for c in cases if not str(c.get("sql") or "").strip()]
    if missing:
        raise BadInput(
            f"{len(missing)} case(s) in {name} have no SQL ({', '.join(missing[:5])}).",
            hint='Training examples need the gold SQL of each question; add a "sql" to each.',
        )
    if not cases:
        raise BadInput(f"{name} holds no cases.", hint='Each line is {"id", "question", "sql"}.')
    return cases


def pairs_from_cases(cases: Iterable[dict[str, Any]], source: str = EVAL_SET) -> list[Pair]:
    return [
        Pair(str(c["question"]).strip(), str(c["sql"]).strip(), source, ref=str(c.get("id", "")))
        for c in cases
        if str(c.get("question") or "").strip() and str(c.get("sql") or "").strip()
    ]


def pairs_from_history(entries: Iterable[HistoryEntry]) -> list[Pair]:
    """Good Ask runs that had a question (hand-written SQL without one teaches nothing)."""
    return [
        Pair(e.question.strip(), e.sql.strip(), HISTORY, ref=f"run {e.id}")
        for e in entries
        if e.question.strip() and (e.sql or "").strip()
    ]


def examples_from_cases(
    cases: Iterable[dict[str, Any]],
    target: Target,
    settings: Settings,
    *,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
) -> Checked:
    """Eval-set cases checked and run on `target`: the seam an eval-set store plugs into."""
    return check_pairs(
        pairs_from_cases(cases), target, settings, glossary=glossary, template=template
    )


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


def check_pairs(
    pairs: Iterable[Pair],
    target: Target,
    settings: Settings,
    *,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    progress: Callable[[int, str], None] | None = None,
) -> Checked:
    """Guard and run each pair's SQL; those that return rows become examples."""
    checked = Checked()
    for number, pair in enumerate(pairs, start=1):
        if progress is not None:
            progress(number, pair.question)
        try:
            guarded = check_sql(pair.sql, target.schema, dialect=target.dialect, row_cap=CHECK_ROWS)
            result = run_query(
                target.engine,
                guarded.exec_sql,
                server=target.server,
                row_cap=CHECK_ROWS,
                timeout_s=settings.query_timeout_s,
            )
        except QuarryError as exc:
            checked.dropped.append(Dropped(pair.question, pair.sql, pair.source, exc.message))
            continue
        if not result.rows or all(v is None for v in result.rows[0]):
            checked.dropped.append(
                Dropped(pair.question, pair.sql, pair.source, "The query returned no rows.")
            )
            continue
        checked.examples.append(_example(pair, guarded.tables, target, glossary, template))
    return checked


def _example(
    pair: Pair,
    tables: Sequence[str],
    target: Target,
    glossary: Glossary | None,
    template: str,
) -> Example:
    messages, _ = prompt_messages(pair.question, target, glossary=glossary, template=template)
    if [m["role"] for m in messages] != ["system", "user"]:
        raise BadInput(
            "The prompt template has no system part, so the examples would have no schema "
            "context of their own.",
            hint="Split the template with a line '---' between the system and the user part.",
        )
    return Example(
        question=pair.question,
        sql=pair.sql,
        source=pair.source,
        kind=pair.kind or sql_kind(pair.sql, target.dialect),
        tables=tuple(tables),
        messages=messages,
    )


# -- synthetic pairs -----------------------------------------------------------


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

    def __init__(self, target: Target) -> None:
        self.target = target
        self.dialect = target.dialect

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


# Timestamps a database keeps about its own rows say nothing an analyst asks about.
_BOOKKEEPING_DATE = re.compile(r"(^|_)(last_?)?(update|updated|modified|changed)(_|$)", re.I)


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
        if c.kind in ("date", "datetime") and not _BOOKKEEPING_DATE.search(c.name)
    ]
    return _Shape(table, labels, ids, categories, measures, dates)


def _summable(column: Column) -> bool:
    return bool(_SUMMABLE.search(column.name.lower() + " " + humanize(column.name)))


def _top_values(target: Target, table: Table, column: Column, n: int) -> list[str]:
    found = target.values().top_values(table.name, column.name, n * 3)
    return [v for v, _ in found if _usable_value(v)][:n]


def _pair(question: str, w: _Writer, query: exp.Expression, kind: str, template: str) -> Pair:
    return Pair(question, w.sql(query), SYNTHETIC, kind, template)


def _counts(w: _Writer, shape: _Shape) -> Iterator[Pair]:
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


def _categories(w: _Writer, shape: _Shape) -> Iterator[Pair]:
    """Counts per category, the most common one, and filters on values found in the data."""
    t, nouns = shape.table, _noun(shape.table)
    for column in shape.categories[:2]:
        c, words = w.col(column.name), humanize(column.name)
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
                f"How many {nouns} have {words} '{value}'?",
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


def _measures(w: _Writer, shape: _Shape) -> Iterator[Pair]:
    """Average, extremes and totals of numeric columns, top 5 rows, averages per category."""
    t, nouns, one = shape.table, _noun(shape.table), _noun(shape.table, False)
    for column in shape.measures[:2]:
        m, words = w.col(column.name), humanize(column.name)
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
                f"What is the average {words} of {nouns} per {humanize(category.name)}?",
                w,
                exp.select(c, exp.func("AVG", m.copy()))
                .from_(w.table(t.name))
                .group_by(c.copy())
                .order_by(c.copy()),
                "group-by",
                "average per category",
            )


def _years(w: _Writer, shape: _Shape) -> Iterator[Pair]:
    t = shape.table
    for column in shape.dates[:1]:
        c = w.col(column.name)
        year = w.year(c.copy())
        yield _pair(
            f"How many {_noun(t)} are there per year of {humanize(column.name)}?",
            w,
            exp.select(exp.alias_(year.copy(), "year"), "COUNT(*)")
            .from_(w.table(t.name))
            .where(_not_null(c))
            .group_by(year.copy())
            .order_by(year.copy()),
            "group-by",
            "count per year",
        )


def _joins(w: _Writer, shape: _Shape, parent: _Shape, on: exp.Expression) -> Iterator[Pair]:
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
        c, words = w.col(category.name, p.name), humanize(category.name)
        yield _pair(
            f"How many {nouns} are there per {_of(one, words)}?",
            w,
            joined(c, "COUNT(*)").group_by(c.copy()).order_by("COUNT(*) DESC"),
            "join",
            "count per parent category",
        )
        for value in _top_values(w.target, p, category, 1):
            yield _pair(
                f"How many {nouns} belong to {_noun(p)} with {words} '{value}'?",
                w,
                joined("COUNT(*)").where(_equals(c, value)),
                "join",
                "count for a parent value",
            )
    for measure in [m for m in shape.measures if _summable(m)][:1]:
        total = exp.func("SUM", w.col(measure.name, t.name))
        yield _pair(
            f"What is the total {humanize(measure.name)} of {nouns} for each {one}?",
            w,
            joined(*_copies(ids), total)
            .group_by(*_copies(group))
            .order_by(exp.Ordered(this=total.copy(), desc=True)),
            "join",
            "total per parent",
        )


def _along_keys(w: _Writer, shape: _Shape, shapes: dict[str, _Shape]) -> Iterator[Pair]:
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


def synthetic_pairs(target: Target) -> list[Pair]:
    """Questions and SQL written from the schema's shape and the values in the data.

    Interleaved table by table, so that the first examples already cover every table.
    """
    w = _Writer(target)
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


# -- paraphrases -----------------------------------------------------------------

PARAPHRASE_PROMPT = """\
You rewrite questions that analysts ask about a database. Write {n} different ways to ask
the question below, as a person would type them. Keep the meaning exactly: the same
filters, the same numbers, and every quoted value exactly as written, quotes included.
Answer with one question per line and nothing else."""

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.):]|\(\d+\))\s*")


def _question_key(question: str) -> str:
    return " ".join(question.casefold().split()).rstrip("?.! ")


def _clean_paraphrases(text: str, original: str, n: int) -> list[str]:
    """Lines of a model's answer that are questions keeping every quoted value of the original."""
    quoted = re.findall(r"'([^']+)'", original)
    seen = {_question_key(original)}
    kept = []
    for line in text.splitlines():
        candidate = _BULLET.sub("", line).strip().strip('"').strip()
        key = _question_key(candidate)
        if len(candidate.split()) < 3 or key in seen or "```" in candidate:
            continue
        if any(v.casefold() not in candidate.casefold() for v in quoted):
            continue
        seen.add(key)
        kept.append(candidate)
    return kept[:n]


def paraphrase_pairs(
    examples: Sequence[Example],
    client: Any,
    settings: Settings,
    *,
    per_question: int = 2,
    progress: Callable[[int, str], None] | None = None,
) -> tuple[list[Pair], list[str]]:
    """Paraphrases of each example's question with its SQL; a model failure stops early.

    Returns the pairs and warnings; what was paraphrased before a failure is kept.
    """
    pairs: list[Pair] = []
    for number, example in enumerate(examples, start=1):
        if progress is not None:
            progress(number, example.question)
        messages = [
            {"role": "system", "content": PARAPHRASE_PROMPT.format(n=per_question)},
            {"role": "user", "content": example.question},
        ]
        try:
            reply = complete(client, settings, messages)
        except ModelUnavailable as exc:
            done = f"{number - 1} of {len(examples)}"
            return pairs, [f"Paraphrasing stopped after {done} questions: {exc.explanation}"]
        for question in _clean_paraphrases(reply.text, example.question, per_question):
            pairs.append(Pair(question, example.sql, PARAPHRASE, example.kind, example.question))
    return pairs, []


# -- the whole build -------------------------------------------------------------


def deduplicate(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """The first example of each question (case, spacing and end punctuation ignored)."""
    kept: dict[str, Example] = {}
    duplicates = 0
    for example in examples:
        key = _question_key(example.question)
        if key in kept:
            duplicates += 1
            continue
        kept[key] = example
    return list(kept.values()), duplicates


def _sql_key(sql: str) -> str:
    return " ".join(sql.casefold().split()).rstrip("; ")


def split(
    examples: Sequence[Example], validation_share: float, *, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Train and validation examples; all questions of one SQL land on the same side.

    The side is chosen by a hash of the SQL, so a rebuild puts an example where it was.
    """
    if not 0.0 <= validation_share < 1.0:
        raise BadInput(
            f"The validation share must be at least 0 and below 1, not {validation_share:g}.",
            hint="0.2 puts a fifth of the examples in the validation file.",
        )
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(_sql_key(example.sql), []).append(example)

    def rank(key: str) -> str:
        return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()

    ordered = sorted(groups, key=rank)
    wanted = round(validation_share * len(examples))
    if validation_share > 0 and len(groups) > 1:
        wanted = max(wanted, 1)
    held: set[str] = set()
    count = 0
    for key in ordered:
        if count >= wanted or len(held) == len(groups) - 1:
            break
        held.add(key)
        count += len(groups[key])
    train = [e for e in examples if _sql_key(e.sql) not in held]
    validation = [e for e in examples if _sql_key(e.sql) in held]
    return train, validation


def build_training_data(
    target: Target,
    settings: Settings,
    *,
    cases: Iterable[dict[str, Any]] = (),
    history: Iterable[HistoryEntry] = (),
    synthetic: bool = True,
    paraphrases: int = 0,
    client: Any = None,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    validation_share: float | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> TrainingData:
    """Examples from every source, checked, de-duplicated and split into train and validation.

    ``paraphrases`` > 0 asks the model (``client``) for that many rewordings per question.
    """
    share = settings.validation_share if validation_share is None else validation_share
    glossary = glossary or Glossary()
    pairs = pairs_from_cases(cases) + pairs_from_history(history)
    if synthetic:
        pairs += synthetic_pairs(target)
    if not pairs:
        raise BadInput(
            "There is nothing to build examples from.",
            hint="Upload an eval set, mark good answers on the Ask page, or turn on synthetic "
            "questions.",
        )

    def report(number: int, question: str, total: int = len(pairs), what: str = "Checking") -> None:
        if progress is not None:
            progress(f"{what} {number} of {total}: {question}")

    checked = check_pairs(
        pairs, target, settings, glossary=glossary, template=template, progress=report
    )
    examples, duplicates = deduplicate(checked.examples)
    warnings: list[str] = []
    if paraphrases > 0 and examples:
        if client is None:
            raise BadInput(
                "Paraphrases need a model.", hint="Set OPENAI_API_KEY or OPENAI_BASE_URL."
            )
        extra, warnings = paraphrase_pairs(
            examples,
            client,
            settings,
            per_question=paraphrases,
            progress=lambda n, q: report(n, q, len(examples), "Paraphrasing"),
        )
        more = [_example(p, _tables_of(examples, p.sql), target, glossary, template) for p in extra]
        examples, again = deduplicate(examples + more)
        duplicates += again
    train, validation = split(examples, share, seed=seed)
    logger.info(
        "Training data: %d train, %d validation, %d dropped, %d duplicates",
        len(train),
        len(validation),
        len(checked.dropped),
        duplicates,
    )
    return TrainingData(train, validation, checked.dropped, duplicates, warnings)


def _tables_of(examples: Sequence[Example], sql: str) -> tuple[str, ...]:
    return next((e.tables for e in examples if e.sql == sql), ())
