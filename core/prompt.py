"""The text-to-SQL prompt: a template with named placeholders, rendered to chat messages.

Placeholders: ``{dialect}`` (MySQL, MariaDB, SQLite, PostgreSQL),
``{server_version}``, ``{schema}`` (the selected tables as DDL),
``{glossary}`` (value synonyms and business terms; column meanings travel in
the DDL comments), ``{examples}`` (question and SQL pairs) and
``{question}``. A template is split at the line ``---`` into a system part
and a user part; without that line the whole template is the user message.
"""

from __future__ import annotations

import dataclasses
import string

from core.connections import ServerInfo
from core.glossary import Glossary

DEFAULT_TEMPLATE = """\
You translate questions into SQL for a {dialect} {server_version} database.
Write exactly one read-only SELECT query (WITH and UNION are fine) in {dialect} syntax.
Use only the tables and columns in the schema below; quote identifiers as the schema does.
Return the query in a ```sql fenced block and nothing else. If the schema cannot answer
the question, say so in one sentence and write no SQL.

Schema:
{schema}

{glossary}
{examples}
---
Question: {question}
"""

PLACEHOLDERS = ("dialect", "server_version", "schema", "glossary", "examples", "question")


@dataclasses.dataclass(frozen=True)
class Example:
    question: str
    sql: str


def glossary_text(glossary: Glossary | None) -> str:
    if not glossary or not (glossary.synonyms or glossary.terms):
        return ""
    lines = ["Glossary:"]
    for s in glossary.synonyms:
        lines.append(f"- In {s.table}.{s.column}, '{s.synonym}' means the value '{s.value}'.")
    for t in glossary.terms:
        where = f" (table {t.table})" if t.table else ""
        lines.append(f'- "{t.term}"{where} means: {t.definition}')
    return "\n".join(lines) + "\n"


def examples_text(examples: list[Example]) -> str:
    if not examples:
        return ""
    lines = ["Examples:"]
    for e in examples:
        lines.append(f"Question: {e.question}\n```sql\n{e.sql}\n```")
    return "\n".join(lines) + "\n"


def template_fields(template: str) -> list[str]:
    """The placeholders a template uses, in order of first use."""
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    return list(dict.fromkeys(names))


def render(
    template: str,
    *,
    server: ServerInfo,
    schema_text: str,
    question: str,
    glossary: Glossary | None = None,
    examples: list[Example] | None = None,
) -> list[dict[str, str]]:
    """The chat messages for one question."""
    values = {
        "dialect": server.description.split(" ")[0],
        "server_version": server.version,
        "schema": schema_text,
        "glossary": glossary_text(glossary),
        "examples": examples_text(examples or []),
        "question": question,
    }
    unknown = [f for f in template_fields(template) if f not in values]
    for name in unknown:
        values[name] = "{" + name + "}"
    text = template.format(**values)
    if "\n---\n" in text:
        system, user = text.split("\n---\n", 1)
        return [
            {"role": "system", "content": system.strip()},
            {"role": "user", "content": user.strip()},
        ]
    return [{"role": "user", "content": text.strip()}]


def repair_message(sql: str, error: str) -> dict[str, str]:
    """The follow-up that sends a rejected query back to the model."""
    return {
        "role": "user",
        "content": (
            f"That query failed:\n```sql\n{sql}\n```\nError: {error}\n"
            "Return a corrected query in a ```sql fenced block."
        ),
    }
