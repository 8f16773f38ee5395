"""Take the SQL query out of a model's answer.

Models wrap SQL in markdown fences, in JSON, in prose before and after, or
follow it with their own imagined result. Candidates are gathered from the
answer's structure (JSON fields, fenced blocks, then the lines of the text),
and a candidate is taken first when sqlglot parses it, whole, as one query.
When none does but the answer marks some text as SQL all the same (a ``sql``
fence, a fence that starts with a statement keyword, a JSON ``sql`` field),
that text is returned as written: the guard then says what is wrong with it
(a DROP, a syntax error) and the model can be asked to repair it. An answer
with no SQL at all yields None: it is shown as text and nothing runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_JSON_KEYS = ("sql", "query", "SQL", "Query", "statement")
_QUERY_START = re.compile(r"\b(select|with)\b", re.IGNORECASE)
_SQL_LABELS = ("sql", "mysql", "mariadb", "postgresql", "postgres", "sqlite", "")
_STATEMENT_START = re.compile(
    r"^\s*(select|with|insert|update|delete|replace|merge|drop|create|alter|truncate|rename|"
    r"grant|revoke|set|call|do|load|lock|unlock|show|explain|describe|handler|values|table)\b",
    re.IGNORECASE,
)


def _parse_query(text: str, dialect: str) -> bool:
    """True when `text` is exactly one SELECT-like query in `dialect`."""
    try:
        statements = [s for s in sqlglot.parse(text, dialect=dialect) if s is not None]
    except (ParseError, TokenError, ValueError):
        return False
    if len(statements) != 1:
        return False
    tree = statements[0]
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        return False
    # Prose can parse as a lone "SELECT word": demand a FROM or a function call.
    return tree.find(exp.From) is not None or tree.find(exp.Func) is not None


def _clean(text: str) -> str:
    return text.strip().rstrip(";").strip()


def _json_candidates(answer: str) -> Iterator[str]:
    start = answer.find("{")
    if start < 0:
        return
    try:
        data, _ = json.JSONDecoder().raw_decode(answer[start:])
    except ValueError:
        return
    if isinstance(data, dict):
        for key in _JSON_KEYS:
            if isinstance(data.get(key), str):
                yield data[key]


def _longest_query_from(lines: list[str], dialect: str) -> str | None:
    """The longest run of lines, from the first, that parses as one query."""
    best = None
    for end in range(1, len(lines) + 1):
        chunk = "\n".join(lines[:end])
        head = chunk.split(";", 1)[0] if ";" in chunk else chunk
        if _parse_query(_clean(head), dialect):
            best = _clean(head)
        if ";" in chunk:
            break
    return best


def _text_candidates(answer: str, dialect: str) -> Iterator[str]:
    lines = answer.splitlines()
    for index, line in enumerate(lines):
        for match in _QUERY_START.finditer(line):
            first = line[match.start() :]
            found = _longest_query_from([first, *lines[index + 1 :]], dialect)
            if found:
                yield found


def extract_sql(answer: str, dialect: str = "mysql") -> str | None:
    """The query in `answer`, as the model wrote it (no trailing ';'), or None.

    >>> extract_sql("Here you go:\\n```sql\\nSELECT COUNT(*) FROM Track;\\n```")
    'SELECT COUNT(*) FROM Track'
    >>> extract_sql("The Track table stores one row per song.") is None
    True
    """
    if not answer or not answer.strip():
        return None
    for candidate in _json_candidates(answer):
        if _parse_query(_clean(candidate), dialect):
            return _clean(candidate)
    for match in _FENCE.finditer(answer):
        block = match.group(2)
        if _parse_query(_clean(block), dialect):
            return _clean(block)
        for found in _text_candidates(block, dialect):
            return found
    for found in _text_candidates(answer, dialect):
        return found
    return _marked_as_sql(answer)


def _marked_as_sql(answer: str) -> str | None:
    """Text the answer presents as SQL although it is no single query."""
    for candidate in _json_candidates(answer):
        if _clean(candidate):
            return _clean(candidate)
    for match in _FENCE.finditer(answer):
        label, block = match.group(1).lower(), _clean(match.group(2))
        if block and label in _SQL_LABELS and (label or _STATEMENT_START.match(block)):
            return block
    return None
