"""The schema part of a prompt: the tables a question needs, whole, within a budget.

Tables are ranked by the words of the question they carry: every word of a
table's name, its columns' names and the glossary's meanings counts, weighted
by how rare it is across the schema (a word found in one table out of 800
says far more than "name", found in half of them), and values the question
names add the tables that hold them. A table then inherits part of the score
of the tables it shares a foreign key with, since a question about singers in
concerts needs the table that links the two. Tables scoring well below the
best are not relevant. Relevant tables are taken best first, each with the
tables on the shortest foreign-key path to those already taken, until the
token budget is spent; a schema that fits the budget whole is shown whole.

Each table is rendered whole as DDL in the target's dialect (never cut in the
middle), with its keys, the glossary's meanings as comments and a few example
values of low-cardinality columns; the join paths between the chosen tables
follow as comments. The context records which relevant tables were left out.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import weakref
from collections import defaultdict, deque

from core import identifiers
from core.glossary import Glossary
from core.linking import STOPWORDS, Lexicon, link, tokenize
from core.offline_engine import label_columns
from core.schema import Schema, Table
from core.tokens import count_tokens
from core.value_index import ValueIndex

EXAMPLE_VALUES = 4
LOW_CARDINALITY = 30

TABLE_WORD = 1.0  # a question word in the table's own name
COLUMN_WORD = 0.6  # ... in a column's name or its glossary meaning
TERM_WORD = 1.0  # a business term of the glossary tied to the table
NEIGHBOUR_SHARE = 0.5  # what a table inherits from a table it shares a foreign key with
RELEVANCE_CUT = 0.2  # tables scoring below this share of the best are not relevant
MAX_PATH = 3  # longest foreign-key path added to connect a table to the chosen ones
MAX_JOIN_LINES = 12


@dataclasses.dataclass
class SchemaContext:
    text: str
    tables: list[str]
    left_out: list[str]  # relevant to the question, but past the budget
    tokens: int
    budget: int = 0
    unrelated: int = 0  # tables the question does not point at, not shown
    joins: list[str] = dataclasses.field(default_factory=list)

    @property
    def note(self) -> str:
        parts = []
        if self.left_out:
            parts.append(
                f"{len(self.left_out)} more table(s) that share words with the question "
                f"did not fit the {self.budget:,}-token budget: "
                + ", ".join(self.left_out[:20])
                + (" …" if len(self.left_out) > 20 else "")
            )
        if self.unrelated:
            parts.append(f"{self.unrelated:,} table(s) unrelated to the question not shown")
        return "; ".join(parts) + ("." if parts else "")


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

    labels = {c.name for c in label_columns(table)}
    parts: list[tuple[str, str]] = []  # (definition, comment)
    for column in table.columns:
        notes = []
        meaning = glossary.meaning(table.name, column.name) if glossary else None
        if meaning or column.comment:
            notes.append(meaning or column.comment)
        if values is not None and column.kind == "text":
            distinct = values.distinct.get((table.name, column.name))
            if distinct is not None and distinct <= LOW_CARDINALITY:
                top = values.top_values(table.name, column.name, EXAMPLE_VALUES)
                examples = [v for v, _ in top]
                # Values that never repeat (emails, phones) are not categories, unless
                # they name the rows of a lookup table (media types, genres).
                if examples and (top[0][1] > 1 or column.name in labels):
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


@dataclasses.dataclass
class _Index:
    """What ranking needs from a schema, built once per lexicon."""

    words: dict[str, dict[str, float]]  # word -> table -> weight
    idf: dict[str, float]
    links: dict[str, dict[str, list[str]]]  # table -> neighbour -> join conditions
    table_count: int
    rendered: dict[tuple, tuple[str, int]] = dataclasses.field(default_factory=dict)

    def rarity(self, tables: int) -> float:
        return math.log(1 + self.table_count / max(tables, 1))


_INDEXES: weakref.WeakKeyDictionary[Lexicon, _Index] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def _build_index(schema: Schema, lexicon: Lexicon) -> _Index:
    words: dict[str, dict[str, float]] = defaultdict(dict)
    for phrase, elements in lexicon.entries.items():
        for element, candidate in elements.items():
            if candidate.source == "head":
                continue  # the last word alone is already part of the column's phrase
            weight = TABLE_WORD if element.kind == "table" else COLUMN_WORD
            for word in phrase:
                if word in STOPWORDS or word == "id":
                    continue
                if words[word].get(element.table, 0.0) < weight:
                    words[word][element.table] = weight
    tables = {t.name: t for t in schema.main_tables}
    links: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for t in tables.values():
        for fk in t.foreign_keys:
            if fk.ref_table not in tables or fk.ref_table == t.name:
                continue
            on = " AND ".join(
                f"{t.name}.{c} = {fk.ref_table}.{r}"
                for c, r in zip(fk.columns, fk.ref_columns, strict=False)
            )
            links[t.name].setdefault(fk.ref_table, []).append(on)
            links[fk.ref_table].setdefault(t.name, []).append(on)
    index = _Index(words=dict(words), idf={}, links=dict(links), table_count=len(tables))
    index.idf = {w: index.rarity(len(ts)) for w, ts in words.items()}
    return index


def _index(schema: Schema, lexicon: Lexicon) -> _Index:
    with _INDEX_LOCK:
        found = _INDEXES.get(lexicon)
        if found is None:
            found = _INDEXES[lexicon] = _build_index(schema, lexicon)
        return found


def _direct_scores(
    question: str,
    index: _Index,
    lexicon: Lexicon,
    values: ValueIndex | None,
    glossary: Glossary | None,
) -> dict[str, float]:
    scores: dict[str, float] = defaultdict(float)
    tokens = tokenize(question)
    for word in {t.norm for t in tokens if not t.quoted and t.lower not in STOPWORDS}:
        for table, weight in index.words.get(word, {}).items():
            scores[table] += index.idf[word] * weight
    if values is not None:
        for mention in link(question, lexicon, values, tokens=tokens).mentions:
            holders = {hit.table for hit in mention.values}
            for table in holders:
                scores[table] += COLUMN_WORD * index.rarity(len(holders))
    lowered = question.lower()
    for term in glossary.terms if glossary else []:
        if term.table and term.term.lower() in lowered:
            scores[term.table] += TERM_WORD * index.rarity(1)
    return scores


def rank_tables(
    question: str,
    schema: Schema,
    lexicon: Lexicon,
    values: ValueIndex | None = None,
    glossary: Glossary | None = None,
) -> list[tuple[str, float]]:
    """The tables the question points at, with their scores, best first."""
    index = _index(schema, lexicon)
    direct = _direct_scores(question, index, lexicon, values, glossary)
    scores = dict(direct)
    for name, score in direct.items():
        for other in index.links.get(name, {}):
            scores[other] = scores.get(other, 0.0) + NEIGHBOUR_SHARE * score
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _path_to(start: str, chosen: set[str], links: dict[str, dict[str, list[str]]]) -> list[str]:
    """The tables between `start` and the nearest chosen table (shortest FK path)."""
    came_from: dict[str, str | None] = {start: None}
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    while queue:
        node, depth = queue.popleft()
        if node in chosen and node != start:
            between = []
            step = came_from[node]
            while step is not None and step != start:
                between.append(step)
                step = came_from[step]
            return between
        if depth == MAX_PATH:
            continue
        for nxt in sorted(links.get(node, {})):
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append((nxt, depth + 1))
    return []


def _join_lines(chosen: list[str], links: dict[str, dict[str, list[str]]]) -> list[str]:
    lines = []
    for i, name in enumerate(chosen):
        for other in chosen[i + 1 :]:
            lines.extend(f"-- {on}" for on in links.get(name, {}).get(other, []))
    if len(lines) > MAX_JOIN_LINES:
        lines = lines[:MAX_JOIN_LINES] + [f"-- … {len(lines) - MAX_JOIN_LINES} more"]
    return (["-- Join paths:"] + lines) if lines else []


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
    index = _index(schema, lexicon)
    glossary_key = (
        (tuple(glossary.meanings), tuple(glossary.synonyms), tuple(glossary.terms))
        if glossary
        else ()
    )

    def rendered(name: str) -> tuple[str, int]:
        key = (name, dialect, glossary_key, id(values))
        if key not in index.rendered:
            table = schema.table(name)
            text = render_table(table, dialect, glossary, values) if table else ""
            index.rendered[key] = (text, count_tokens(text) + 2)
        return index.rendered[key]

    ranked = rank_tables(question, schema, lexicon, values, glossary)
    best = ranked[0][1] if ranked else 0.0
    relevant = [name for name, score in ranked if score >= RELEVANCE_CUT * best]
    everything = [t.name for t in schema.main_tables]
    if sum(rendered(n)[1] for n in everything) <= budget_tokens:
        order = relevant + [n for n in everything if n not in set(relevant)]
        relevant = order
    elif not relevant:
        # Nothing in the question names the schema: the best-connected tables say most.
        relevant = sorted(everything, key=lambda n: (-len(index.links.get(n, {})), n))

    chosen: list[str] = []
    used = 0
    for name in relevant:
        if name in chosen:
            continue
        group = [n for n in _path_to(name, set(chosen), index.links) if n not in chosen]
        group.append(name)
        cost = sum(rendered(n)[1] for n in group)
        if used + cost > budget_tokens:
            group, cost = [name], rendered(name)[1]
            if used + cost > budget_tokens:
                continue
        chosen.extend(group)
        used += cost
    joins = _join_lines(chosen, index.links)
    while joins and used + count_tokens("\n".join(joins)) + 2 > budget_tokens:
        joins = joins[:-1] if len(joins) > 2 else []

    text = "\n\n".join([rendered(n)[0] for n in chosen] + (["\n".join(joins)] if joins else []))
    taken = set(chosen)
    left_out = [n for n in relevant if n not in taken]
    return SchemaContext(
        text=text,
        tables=chosen,
        left_out=left_out,
        tokens=count_tokens(text),
        budget=budget_tokens,
        unrelated=len(everything) - len(taken) - len(left_out),
        joins=joins[1:],
    )
