"""The schema part of a prompt: the tables a question needs, whole, within a budget.

Tables are ranked by what the question says (tables, columns and values it
links to), then the tables on the foreign-key paths between them are added,
then their neighbours. Each table is rendered whole as DDL in the target's
dialect, with its keys, the glossary's meanings as comments and a few example
values of low-cardinality columns. Tables that do not fit the token budget
are left out, and the context says which.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from core import identifiers
from core.glossary import Glossary
from core.linking import Lexicon, link
from core.schema import Schema, Table
from core.tokens import count_tokens
from core.value_index import ValueIndex

EXAMPLE_VALUES = 4
LOW_CARDINALITY = 30


@dataclasses.dataclass
class SchemaContext:
    text: str
    tables: list[str]
    left_out: list[str]
    tokens: int

    @property
    def note(self) -> str:
        if not self.left_out:
            return ""
        return (
            f"{len(self.left_out)} table(s) left out to fit the budget: "
            + ", ".join(self.left_out[:20])
            + (" …" if len(self.left_out) > 20 else "")
        )


def render_table(
    table: Table,
    dialect: str,
    glossary: Glossary | None = None,
    values: ValueIndex | None = None,
) -> str:
    """One table as CREATE TABLE text, meanings and example values as comments."""

    def q(name: str) -> str:
        # Quoted always, so the model sees (and copies) the dialect's quoting.
        return identifiers.quote(name, dialect, always=True)

    parts: list[tuple[str, str]] = []  # (definition, comment)
    for column in table.columns:
        notes = []
        meaning = glossary.meaning(table.name, column.name) if glossary else None
        if meaning or column.comment:
            notes.append(meaning or column.comment)
        if values is not None and column.kind == "text":
            distinct = values.distinct.get((table.name, column.name))
            if distinct is not None and distinct <= LOW_CARDINALITY:
                examples = [
                    v for v, _ in values.top_values(table.name, column.name, EXAMPLE_VALUES)
                ]
                if examples:
                    notes.append("e.g. " + ", ".join(repr(v) for v in examples))
        null = "" if column.nullable else " NOT NULL"
        parts.append((f"{q(column.name)} {column.type}{null}", "; ".join(notes)))
    if table.primary_key:
        parts.append((f"PRIMARY KEY ({', '.join(q(c) for c in table.primary_key)})", ""))
    for fk in table.foreign_keys:
        ref = q(fk.ref_table) if not fk.ref_schema else f"{q(fk.ref_schema)}.{q(fk.ref_table)}"
        parts.append(
            (
                f"FOREIGN KEY ({', '.join(q(c) for c in fk.columns)}) "
                f"REFERENCES {ref} ({', '.join(q(c) for c in fk.ref_columns)})",
                "",
            )
        )
    lines = []
    for i, (definition, comment) in enumerate(parts):
        comma = "," if i < len(parts) - 1 else ""
        lines.append(f"  {definition}{comma}" + (f" -- {comment}" if comment else ""))
    kind = "VIEW" if table.kind == "view" else "TABLE"
    return f"CREATE {kind} {q(table.name)} (\n" + "\n".join(lines) + "\n);"


def rank_tables(
    question: str,
    schema: Schema,
    lexicon: Lexicon,
    values: ValueIndex | None = None,
) -> list[tuple[str, float]]:
    """Tables of the main schema with how strongly the question points at each."""
    scores: dict[str, float] = defaultdict(float)
    linking = link(question, lexicon, values)
    for mention in linking.mentions:
        if mention.kind == "value":
            for hit in mention.values:
                scores[hit.table] += 2.0 / len(mention.values)
            continue
        share = len(mention.candidates)
        for candidate in mention.candidates:
            weight = 3.0 if candidate.element.kind == "table" else 2.0
            scores[candidate.element.table] += weight * candidate.score / share
    tables = {t.name: t for t in schema.main_tables}
    neighbours: dict[str, set[str]] = defaultdict(set)
    for t in schema.main_tables:
        for fk in t.foreign_keys:
            if fk.ref_table in tables:
                neighbours[t.name].add(fk.ref_table)
                neighbours[fk.ref_table].add(t.name)
    base = dict(scores)
    for name, score in base.items():
        for other in neighbours[name]:
            scores[other] += 0.25 * score
    for name in tables:
        scores.setdefault(name, 0.01 * len(neighbours[name]))
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def select_context(
    question: str,
    schema: Schema,
    lexicon: Lexicon,
    *,
    dialect: str,
    budget_tokens: int = 4000,
    glossary: Glossary | None = None,
    values: ValueIndex | None = None,
) -> SchemaContext:
    """The tables to show the model for `question`, rendered whole within the budget."""
    ranked = rank_tables(question, schema, lexicon, values)
    chosen: list[str] = []
    rendered: list[str] = []
    used = 0
    left_out: list[str] = []
    for name, _ in ranked:
        table = schema.table(name)
        if table is None:
            continue
        text = render_table(table, dialect, glossary, values)
        size = count_tokens(text) + 1
        if used + size > budget_tokens:
            left_out.append(name)
            continue
        chosen.append(name)
        rendered.append(text)
        used += size
    text = "\n\n".join(rendered)
    return SchemaContext(text=text, tables=chosen, left_out=left_out, tokens=count_tokens(text))
