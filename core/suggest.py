"""Example questions for a connected database that the engine really answers.

Candidates come from the schema's shape (counts of the largest tables, a
grouping by a low-cardinality column, an average of a measure, a count along
a foreign key, a filter on a frequent value, a superlative); each is run
through the offline engine and the database, and only those that return rows
are offered. A new user's first click then always shows a real answer.
"""

from __future__ import annotations

import logging

from core import offline_engine
from core.errors import QuarryError
from core.execute import run_query
from core.glossary import Glossary
from core.guard import check_sql
from core.naming import humanize, plural, singular, split_identifier
from core.schema import Table
from core.target import Target

logger = logging.getLogger(__name__)


def _noun(table: Table, many: bool = True) -> str:
    words = humanize(table.name).split()
    if words:
        # Table names come singular ("Track") or plural ("circuits") alike.
        words[-1] = plural(singular(words[-1])) if many else singular(words[-1])
    return " ".join(words)


def _is_key(table: Table, column: str) -> bool:
    return (
        column in table.primary_key
        or any(column in fk.columns for fk in table.foreign_keys)
        or (split_identifier(column)[-1:] == ["id"])
    )


def _is_junction(table: Table) -> bool:
    return all(_is_key(table, c.name) or c.kind in ("date", "datetime") for c in table.columns)


def _has_label(table: Table) -> bool:
    return any(c.kind == "text" and not _is_key(table, c.name) for c in table.columns)


def _candidates(target: Target) -> list[str]:
    """Candidate questions, interleaved by kind so the first few show variety."""
    values = target.values()
    tables = [
        t
        for t in target.schema.main_tables
        if t.kind == "table" and t.columns and not _is_junction(t)
    ]
    tables.sort(key=lambda t: (not _has_label(t), -(t.row_count or 0)))
    counts, by_parent, by_category, filters, averages, tops = [], [], [], [], [], []
    for table in tables:
        counts.append(f"How many {_noun(table)} are there?")
        parents = [target.schema.table(fk.ref_table) for fk in table.foreign_keys]
        # Group by a parent with few rows (a genre, a plan): bars a person can read.
        parents = [
            p
            for p in parents
            if p is not None
            and p.name != table.name
            and _has_label(p)
            and (p.row_count or 0) <= 100
        ]
        parents.sort(key=lambda p: p.row_count or 0)
        for parent in parents[:1]:
            by_parent.append(f"How many {_noun(table)} are there in each {_noun(parent, False)}?")
        categories = [
            c
            for c in table.columns
            if c.kind == "text"
            and "name" not in c.name.lower()
            and 2 <= (values.distinct.get((table.name, c.name)) or 0) <= 30
        ]
        categories.sort(key=lambda c: values.distinct.get((table.name, c.name)) or 0)
        for column in categories[:1]:
            by_category.append(f"How many {_noun(table)} are there per {humanize(column.name)}?")
            top = values.top_values(table.name, column.name, 1)
            if top and 0 < len(top[0][0].strip()) <= 24 and top[0][0][0].isalnum():
                filters.append(
                    f"How many {_noun(table)} have {humanize(column.name)} '{top[0][0]}'?"
                )
        measures = [c for c in table.columns if c.is_numeric and not _is_key(table, c.name)]
        for column in measures[:1]:
            averages.append(f"What is the average {humanize(column.name)} of {_noun(table)}?")
            if _has_label(table):
                tops.append(f"Which 5 {_noun(table)} have the highest {humanize(column.name)}?")
    buckets = [by_parent, counts, by_category, averages, filters, tops]
    # Each kind starts at a different table, so the first round spans kinds and tables.
    buckets = [b[i % len(b) :] + b[: i % len(b)] if b else b for i, b in enumerate(buckets)]
    out: list[str] = []
    for round_ in range(max((len(b) for b in buckets), default=0)):
        for bucket in buckets:
            if round_ < len(bucket):
                out.append(bucket[round_])
    return list(dict.fromkeys(out))


def suggest_questions(
    target: Target, *, glossary: Glossary | None = None, limit: int = 6, timeout_s: float = 5.0
) -> list[str]:
    """Up to `limit` questions the offline engine answers with rows on `target`."""
    kept: list[str] = []
    lexicon = target.lexicon(glossary)
    for question in _candidates(target):
        if len(kept) >= limit:
            break
        try:
            answer = offline_engine.generate(
                question,
                target.schema,
                lexicon,
                target.values(),
                glossary=glossary,
                dialect=target.dialect,
            )
            checked = check_sql(answer.sql, target.schema, dialect=target.dialect, row_cap=50)
            result = run_query(
                target.engine,
                checked.exec_sql,
                server=target.server,
                row_cap=50,
                timeout_s=timeout_s,
            )
        except QuarryError as exc:
            logger.debug("Suggestion %r dropped: %s", question, exc.message)
            continue
        if result.rows and any(v is not None for v in result.rows[0]):
            kept.append(question)
    return kept
