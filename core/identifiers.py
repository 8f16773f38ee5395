"""Quote table and column names the way each dialect needs.

Generated SQL (the offline engine, profiling queries, the prompt's schema)
quotes a name only when it must: when it is a reserved word, holds
characters outside [A-Za-z0-9_], starts with a digit, or (PostgreSQL) has
upper-case letters that an unquoted name would lose.
"""

from __future__ import annotations

import functools
import re

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXTRA_RESERVED = {"user", "offset", "limit", "window", "current_date", "current_time", "end"}


@functools.cache
def _reserved() -> frozenset[str]:
    mysql = Dialect.get_or_raise("mysql").generator_class.RESERVED_KEYWORDS
    return frozenset({w.lower() for w in mysql} | _EXTRA_RESERVED)


def needs_quotes(name: str, dialect: str) -> bool:
    if not _PLAIN.match(name) or name.lower() in _reserved():
        return True
    return dialect in ("postgres", "postgresql") and name != name.lower()


def identifier(name: str, dialect: str, *, always: bool = False) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=always or needs_quotes(name, dialect))


def quote(name: str, dialect: str, *, always: bool = False) -> str:
    """The name as it must be written in `dialect`; with `always`, quoted regardless.

    >>> quote("Customer", "mysql"), quote("order", "mysql"), quote("Customer", "postgres")
    ('Customer', '`order`', '"Customer"')
    >>> quote("Customer", "mysql", always=True)
    '`Customer`'
    """
    return identifier(name, dialect, always=always).sql(dialect=dialect)


def column(name: str, table: str | None, dialect: str) -> exp.Column:
    return exp.Column(
        this=identifier(name, dialect),
        table=identifier(table, dialect) if table else None,
    )


def table(
    name: str, dialect: str, alias: str | None = None, schema: str | None = None
) -> exp.Table:
    node = exp.Table(
        this=identifier(name, dialect), db=identifier(schema, dialect) if schema else None
    )
    if alias:
        node.set("alias", exp.TableAlias(this=identifier(alias, dialect)))
    return node
