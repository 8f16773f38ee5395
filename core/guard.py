"""The guard: decide whether a statement may run on a target, and cap its rows.

Only one read-only query passes: a SELECT, a WITH … SELECT, or a set
operation (UNION, INTERSECT, EXCEPT) of those. The statement is parsed with
sqlglot in the connection's dialect and judged on its syntax tree, never by
keyword search, so a keyword inside a string or a comment is harmless while
a write hidden anywhere in the tree is found. What runs is generated from the
checked tree, so comments (MySQL's executable ``/*! … */`` among them) never
reach the server.

The database itself is the second line: ``core.execute`` runs the result in
a read-only transaction with a time limit.
"""

from __future__ import annotations

import dataclasses
import logging

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import Scope, traverse_scope

from core import identifiers
from core.errors import UnknownObject, UnsafeSQL
from core.schema import Schema, Table

logger = logging.getLogger(__name__)

# Functions that sleep, burn CPU, take locks, touch files or the network, or
# change server state. Matched by name, so a dialect sqlglot does not know
# them in is covered too.
DENIED_FUNCTIONS = frozenset(
    """
    SLEEP BENCHMARK GET_LOCK RELEASE_LOCK RELEASE_ALL_LOCKS IS_FREE_LOCK IS_USED_LOCK
    LOAD_FILE MASTER_POS_WAIT SOURCE_POS_WAIT MASTER_GTID_WAIT WAIT_FOR_EXECUTED_GTID_SET
    WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS SYS_EXEC SYS_EVAL SETVAL NEXTVAL LASTVAL
    PG_SLEEP PG_SLEEP_FOR PG_SLEEP_UNTIL PG_READ_FILE PG_READ_BINARY_FILE PG_LS_DIR
    PG_STAT_FILE LO_IMPORT LO_EXPORT LO_GET LO_PUT PG_ADVISORY_LOCK PG_ADVISORY_LOCK_SHARED
    PG_ADVISORY_XACT_LOCK PG_ADVISORY_XACT_LOCK_SHARED PG_TRY_ADVISORY_LOCK
    PG_TRY_ADVISORY_XACT_LOCK PG_TERMINATE_BACKEND PG_CANCEL_BACKEND PG_RELOAD_CONF
    PG_ROTATE_LOGFILE SET_CONFIG DBLINK DBLINK_EXEC DBLINK_CONNECT QUERY_TO_XML
    LOAD_EXTENSION READFILE WRITEFILE EDIT FTS3_TOKENIZER ZEROBLOB RANDOMBLOB LAST_INSERT_ID
    """.split()
)

# Functions whose output grows with a number argument: REPEAT('x', 1e9) fills memory.
AMPLIFIERS = frozenset(
    {
        "REPEAT",
        "LPAD",
        "RPAD",
        "PAD",
        "SPACE",
        "PRINTF",
        "FORMAT",
        "REPLICATE",
        "ZEROBLOB",
        "RANDOMBLOB",
        "GENERATE_SERIES",
    }
)
MAX_AMPLIFIER = 100_000

SYSTEM_SCHEMAS = frozenset(
    {
        "mysql",
        "information_schema",
        "performance_schema",
        "sys",
        "pg_catalog",
        "sqlite_master",
        "sqlite_schema",
        "sqlite_temp_master",
    }
)

_COMMANDS = {
    "CALL": ("call", "CALL runs a stored procedure, which may write."),
    "LOCK": ("lock", "LOCK TABLES takes locks."),
    "UNLOCK": ("lock", "UNLOCK TABLES changes locks."),
    "GRANT": ("privilege", "GRANT changes privileges."),
    "REVOKE": ("privilege", "REVOKE changes privileges."),
    "PREPARE": ("prepare", "PREPARE builds a statement from text, which the guard cannot check."),
    "EXECUTE": ("prepare", "EXECUTE runs a prepared statement the guard cannot check."),
    "DEALLOCATE": ("prepare", "DEALLOCATE manages prepared statements."),
    "HANDLER": ("handler", "HANDLER reads tables outside SQL's checks and holds them open."),
    "DO": ("do", "DO evaluates expressions for their side effects."),
    "REPLACE": ("write", "REPLACE writes rows."),
    "LOAD": ("write", "LOAD DATA writes rows."),
    "RENAME": ("ddl", "RENAME changes the schema."),
    "FLUSH": ("admin", "FLUSH changes server state."),
    "KILL": ("admin", "KILL stops other sessions."),
    "SHUTDOWN": ("admin", "SHUTDOWN stops the server."),
    "INSTALL": ("admin", "INSTALL changes the server."),
    "UNINSTALL": ("admin", "UNINSTALL changes the server."),
    "RESET": ("admin", "RESET changes server state."),
    "PURGE": ("admin", "PURGE removes server logs."),
    "OPTIMIZE": ("admin", "OPTIMIZE rebuilds tables."),
    "ANALYZE": ("admin", "ANALYZE updates table statistics."),
    "REPAIR": ("admin", "REPAIR changes tables."),
    "CHECKPOINT": ("admin", "CHECKPOINT changes server state."),
    "VACUUM": ("admin", "VACUUM rewrites the database."),
    "ATTACH": ("admin", "ATTACH opens another database file."),
    "DETACH": ("admin", "DETACH changes the open databases."),
    "PRAGMA": ("set", "PRAGMA reads or changes database settings."),
    "COPY": ("write", "COPY reads or writes files and tables."),
    "LISTEN": ("admin", "LISTEN changes session state."),
    "NOTIFY": ("admin", "NOTIFY sends messages to other sessions."),
    "BEGIN": ("transaction", "Transactions are managed by Quarry."),
    "START": ("transaction", "Transactions are managed by Quarry."),
    "COMMIT": ("transaction", "Transactions are managed by Quarry."),
    "ROLLBACK": ("transaction", "Transactions are managed by Quarry."),
    "SAVEPOINT": ("transaction", "Transactions are managed by Quarry."),
    "SHOW": ("not a query", "SHOW is not a SELECT; query information you need from the tables."),
    "DESCRIBE": ("not a query", "DESCRIBE is not a SELECT; the schema is shown in the sidebar."),
    "EXPLAIN": ("not a query", "EXPLAIN is not a SELECT."),
}

_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge)
_DDL = (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)


@dataclasses.dataclass(frozen=True)
class CheckedSQL:
    """A statement the guard let through.

    ``sql`` is what the user sees (with at most `row_cap` rows asked for);
    ``exec_sql`` is what runs: when the guard added or lowered the LIMIT it
    asks for one row more, so the caller can tell that rows were cut off.
    """

    sql: str
    exec_sql: str
    row_cap: int
    limit_note: str  # "", "added" or "lowered from N"
    tables: tuple[str, ...]

    @property
    def capped(self) -> bool:
        return self.sql != self.exec_sql


def _refuse(rule: str, message: str, sql: str, hint: str | None = None) -> UnsafeSQL:
    return UnsafeSQL(message, hint=hint, sql=sql, rule=rule)


def _check_comments(tokens, sql: str) -> None:
    for token in tokens:
        for comment in token.comments:
            text = comment.lstrip()
            if text.startswith("!") or text.upper().startswith("M!"):
                raise _refuse(
                    "executable comment",
                    "The query holds a MySQL executable comment (/*! … */), whose contents "
                    "the server runs as SQL.",
                    sql,
                    hint="Remove the /*! … */ comment; write what it holds as plain SQL.",
                )


def _statement_keyword(tokens) -> str:
    return tokens[0].text.upper() if tokens else ""


def _refuse_by_keyword(keyword: str, sql: str, tokens) -> None:
    if keyword in _COMMANDS:
        rule, message = _COMMANDS[keyword]
        raise _refuse(rule, message, sql)
    if keyword == "SELECT" and any(t.token_type.name == "INTO" for t in tokens):
        raise _refuse(
            "into", "SELECT … INTO writes the result to a file, a variable or a table.", sql
        )


def _keyword_of(node: exp.Expression) -> str:
    return "TRUNCATE" if isinstance(node, exp.TruncateTable) else node.key.upper()


def _refuse_statement(node: exp.Expression, sql: str) -> None:
    if isinstance(node, _WRITES):
        raise _refuse("write", f"{_keyword_of(node)} writes data; Quarry only reads.", sql)
    if isinstance(node, _DDL):
        raise _refuse("ddl", f"{_keyword_of(node)} changes the schema; Quarry only reads.", sql)
    if isinstance(node, exp.Set):
        raise _refuse("set", "SET changes server or session settings.", sql)
    if isinstance(node, exp.Command):
        keyword = str(node.this).split()[0].upper() if str(node.this).strip() else ""
        rule, message = _COMMANDS.get(keyword, ("not a query", f"{keyword} is not a SELECT."))
        raise _refuse(rule, message, sql)
    if not isinstance(node, (exp.Select, exp.SetOperation)):
        # Name the statement as written: EXPLAIN parses as DESCRIBE, BINLOG as an alias.
        written = sql.split(None, 1)[0].upper() if sql.split() else node.key.upper()
        rule, message = _COMMANDS.get(
            written, ("not a query", f"{written} is not a SELECT; only queries may run.")
        )
        raise _refuse(rule, message, sql)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        # `SLEEP`(1) names the function through a quoted identifier; it is still SLEEP.
        return node.name.upper()
    return node.sql_name().upper()


def _literal_number(node: exp.Expression) -> float | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def _refuse_inside(tree: exp.Expression, sql: str) -> None:
    for node in tree.walk():
        if isinstance(node, _WRITES + _DDL):
            raise _refuse(
                "write", f"The query contains {_keyword_of(node)}, which changes data.", sql
            )
        if isinstance(node, exp.Into):
            raise _refuse(
                "into", "SELECT … INTO writes the result to a file, a variable or a table.", sql
            )
        if isinstance(node, exp.Select) and node.args.get("locks"):
            raise _refuse(
                "lock",
                "FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE take row locks.",
                sql,
                hint="Remove the locking clause; a read needs no locks.",
            )
        if isinstance(node, exp.PropertyEQ):
            raise _refuse("set", "':=' assigns a session variable.", sql)
        if isinstance(node, exp.SessionParameter):
            raise _refuse(
                "server variable",
                f"{node.sql()} reads a server variable, which can tell more about the server "
                "than analysts need.",
                sql,
                hint="Query the tables; server settings are not available.",
            )
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in AMPLIFIERS and any(
                (_literal_number(a) or 0) > MAX_AMPLIFIER for a in node.iter_expressions()
            ):
                raise _refuse(
                    "function",
                    f"{name}() with a count above {MAX_AMPLIFIER:,} would build a huge value.",
                    sql,
                    hint=f"Use a smaller count with {name}().",
                )
            if name in DENIED_FUNCTIONS:
                raise _refuse(
                    "function",
                    f"{name}() may sleep, burn CPU, take locks or touch files, so it is not "
                    "allowed.",
                    sql,
                    hint=f"Remove {name}() from the query.",
                )


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def _resolve_tables(tree: exp.Expression, schema: Schema, sql: str) -> dict[int, Table]:
    """Map each table reference to the schema's table; unknown ones are refused."""
    ctes = _cte_names(tree)
    resolved: dict[int, Table] = {}
    unknown: list[str] = []
    for node in tree.find_all(exp.Table):
        if not isinstance(node.this, exp.Identifier):
            continue  # a table function such as UNNEST(...)
        name, db = node.name, node.db
        if not db and (name.lower() in ctes or name.lower() == "dual"):
            continue
        if (db and db.lower() in SYSTEM_SCHEMAS) or name.lower() in SYSTEM_SCHEMAS:
            unknown.append(f"{db}.{name}" if db else name)
            continue
        table = schema.table(name, db or None)
        if table is None:
            unknown.append(f"{db}.{name}" if db else name)
        else:
            resolved[id(node)] = table
    if unknown:
        names = ", ".join(dict.fromkeys(unknown))
        own = schema.default_schema
        elsewhere = [
            u for u in unknown if "." in u and own and u.split(".")[0].lower() != own.lower()
        ]
        raise UnknownObject(
            f"Unknown table{'s' if len(set(unknown)) > 1 else ''}: {names}."
            + (
                f" This connection reads the database {own} only; other databases on the "
                "server are not open to it."
                if elsewhere
                else ""
            ),
            sql=sql,
            tables=tuple(dict.fromkeys(unknown)),
        )
    return resolved


def _scope_outputs(scope: Scope) -> set[str] | None:
    """Column names a derived table or CTE offers; None when it selects '*'."""
    expression = scope.expression
    # "WITH t(a) AS (…)", "(…) AS t(a)": the names given in the alias are what it offers.
    holder = expression.parent
    while isinstance(holder, exp.SetOperation):  # a branch of "… UNION ALL …"
        holder = holder.parent
    alias = holder.args.get("alias") if holder is not None else None
    if isinstance(holder, exp.CTE | exp.Subquery) and isinstance(alias, exp.TableAlias):
        named = [c.name.lower() for c in alias.columns]
        if named:
            return set(named)
    if isinstance(expression, exp.SetOperation):
        expression = expression.left
        while isinstance(expression, exp.SetOperation):
            expression = expression.left
    if not isinstance(expression, exp.Select):
        return None
    if any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)
        for e in expression.expressions
    ):
        return None
    return {name.lower() for name in expression.named_selects}


def _check_columns(tree: exp.Expression, resolved: dict[int, Table], sql: str) -> None:
    """Refuse column names that no table, derived table or alias in the query offers."""
    all_columns: set[str] = set()
    for table in resolved.values():
        all_columns.update(c.name.lower() for c in table.columns)
    aliases = {a.alias.lower() for a in tree.find_all(exp.Alias)}
    unknown: list[str] = []
    for scope in traverse_scope(tree):
        sources: dict[str, set[str] | None] = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table):
                table = resolved.get(id(source))
                sources[alias.lower()] = (
                    {c.name.lower() for c in table.columns} if table is not None else None
                )
            elif isinstance(source, Scope):
                sources[alias.lower()] = _scope_outputs(source)
        for column in scope.columns:
            name = column.name.lower()
            if not name or column.is_star:
                continue
            qualifier = column.table.lower()
            if qualifier:
                offered = sources.get(qualifier)
                if qualifier in sources and offered is not None and name not in offered:
                    unknown.append(f"{column.table}.{column.name}")
                continue
            if any(v is None for v in sources.values()):
                continue  # a source of unknown shape may offer it
            local = (
                set().union(*[v for v in sources.values() if v is not None]) if sources else set()
            )
            if name not in local and name not in aliases and name not in all_columns:
                unknown.append(column.name)
    if unknown:
        names = ", ".join(dict.fromkeys(unknown))
        raise UnknownObject(
            f"Unknown column{'s' if len(set(unknown)) > 1 else ''}: {names}.",
            sql=sql,
            columns=tuple(dict.fromkeys(unknown)),
        )


def _canonical_case(tree: exp.Expression, resolved: dict[int, Table]) -> None:
    """Spell each table as the schema does: MySQL on Linux compares table names exactly."""
    for node in tree.find_all(exp.Table):
        table = resolved.get(id(node))
        if table is None:
            continue
        if node.name != table.name:
            ident = node.this
            node.set(
                "this", exp.Identifier(this=table.name, quoted=ident.args.get("quoted", False))
            )


def _literal_int(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def _one_row(tree: exp.Expression) -> bool:
    """An aggregate query without GROUP BY returns exactly one row; no LIMIT needed."""
    if not isinstance(tree, exp.Select) or tree.args.get("group") or tree.args.get("limit"):
        return False
    if tree.find(exp.Window) is not None or not tree.expressions:
        return False
    return all(e.find(exp.AggFunc) is not None for e in tree.expressions)


def _apply_limit(tree: exp.Expression, row_cap: int) -> tuple[exp.Expression, str]:
    """Return the tree to execute (cap + 1 rows when capped) and what was done."""
    if _one_row(tree):
        return tree, ""
    limit = tree.args.get("limit")
    asked = _literal_int(limit.expression) if isinstance(limit, exp.Limit) else None
    if limit is not None and asked is not None and asked <= row_cap:
        return tree, ""
    note = (
        "added"
        if limit is None
        else f"lowered from {asked if asked is not None else 'an expression'}"
    )
    tree.set("limit", exp.Limit(expression=exp.Literal.number(row_cap)))
    probe = tree.copy()
    probe.set("limit", exp.Limit(expression=exp.Literal.number(row_cap + 1)))
    return probe, note


_NAME_TOKENS = ("VAR", "IDENTIFIER")


def _token_text(text: str, token) -> str:
    return text[token.start : token.end + 1]


def _top_level_limit(tokens) -> tuple[int, int | None] | None:
    """Where the outermost LIMIT's count is: (index of the count token, index of an
    offset token or None); None when there is no outermost LIMIT. Raises ValueError
    for a LIMIT of a shape this function does not edit (an expression, say)."""
    depth, found = 0, None
    for i, token in enumerate(tokens):
        kind = token.token_type.name
        depth += kind == "L_PAREN"
        depth -= kind == "R_PAREN"
        if kind == "LIMIT" and depth == 0:
            found = i
    if found is None:
        return None
    rest = [t.token_type.name for t in tokens[found + 1 :] if t.token_type.name != "SEMICOLON"]
    if rest == ["NUMBER"]:
        return found + 1, None
    if rest == ["NUMBER", "COMMA", "NUMBER"]:
        return found + 3, found + 1
    if rest == ["NUMBER", "OFFSET", "NUMBER"]:
        return found + 1, found + 3
    raise ValueError("a LIMIT this guard does not rewrite")


def _as_written(text: str, tokens, dialect: str, respell: dict[str, str], count: int | None) -> str:
    """The statement as the user wrote it, comments dropped, table names respelled and
    the outermost LIMIT's count set to `count` (added when there is none).

    Running the checked text itself, not SQL regenerated from the tree, keeps every
    construct the server knows and the parser rewrites (REGEXP, MEDIAN, system-versioned
    tables) as the server expects it. Raises ValueError where that is not safe to do.
    """
    body = [t for t in tokens if t.token_type.name != "SEMICOLON"]
    if tokens and any(t.token_type.name == "SEMICOLON" for t in tokens[: len(body)]):
        raise ValueError("a semicolon inside the statement")
    limit = _top_level_limit(body)
    parts: list[str] = []
    for i, token in enumerate(body):
        if i:
            gap = text[body[i - 1].end + 1 : token.start]
            parts.append(gap if not gap.strip() else " ")  # a comment becomes a space
        piece = _token_text(text, token)
        if token.token_type.name in _NAME_TOKENS and token.text.lower() in respell:
            if dialect != "mysql":
                raise ValueError("respelling outside MySQL")
            canonical = respell[token.text.lower()]
            piece = identifiers.quote(canonical, dialect, always=piece.startswith("`"))
        if limit is not None and count is not None and i == limit[0]:
            piece = str(count)
        parts.append(piece)
    edited = "".join(parts)
    if limit is None and count is not None:
        edited += f"\nLIMIT {count}"
    return edited


def _parse_detail(exc: ParseError) -> str:
    """Where the parser stopped, in words a user can act on (not its internal classes)."""
    if not exc.errors:
        return "it is not valid SQL"
    error = exc.errors[0]
    near = (error.get("highlight") or "").strip()
    where = f"line {error.get('line')}, column {error.get('col')}"
    description = error.get("description") or ""
    if "<class" in description or "Required keyword" in description:
        description = "unexpected syntax"
    return f"{description} near {where}" + (f" ('{near}')" if near else "")


def check_sql(
    sql: str,
    schema: Schema | None,
    *,
    dialect: str = "mysql",
    row_cap: int = 1000,
    pretty: bool = True,
) -> CheckedSQL:
    """Let one read-only query through, or raise UnsafeSQL saying why not.

    With a `schema`, unknown tables and columns are refused before anything
    runs (system schemas count as unknown) and table names are respelled as
    the schema spells them.

    >>> check_sql("select name from genre limit 10, 5000", None, row_cap=100).sql
    'select name from genre limit 10, 100'
    """
    text = (sql or "").strip()
    if not text:
        raise _refuse("empty", "There is no SQL to run.", text)
    dialect_obj = Dialect.get_or_raise(dialect)
    try:
        tokens = dialect_obj.tokenize(text)
    except TokenError as exc:
        raise _refuse("parse", f"The SQL could not be read: {exc}.", text) from None
    _check_comments(tokens, text)
    keyword = _statement_keyword(tokens)
    try:
        statements = [s for s in sqlglot.parse(text, dialect=dialect) if s is not None]
    except RecursionError:
        raise _refuse(
            "parse", "The SQL is nested too deeply to check.", text, hint="Simplify the query."
        ) from None
    except ParseError as exc:
        _refuse_by_keyword(keyword, text, tokens)
        detail = _parse_detail(exc)
        raise _refuse(
            "parse",
            f"The SQL could not be parsed: {detail}.",
            text,
            hint="Check the syntax, or rewrite it as a plain SELECT.",
        ) from None
    if not statements:
        raise _refuse("empty", "There is no SQL to run.", text)
    if len(statements) > 1:
        raise _refuse(
            "several statements",
            f"The text holds {len(statements)} statements; one query runs at a time.",
            text,
            hint="Run the statements one by one.",
        )
    tree = statements[0]
    _refuse_statement(tree, text)
    _refuse_inside(tree, text)
    for select in tree.find_all(exp.Select):
        if not select.expressions:
            raise _refuse(
                "parse",
                "A SELECT names nothing to select.",
                text,
                hint="List the columns after SELECT, or use SELECT *.",
            )

    resolved: dict[int, Table] = {}
    respell: dict[str, str] = {}
    if schema is not None:
        resolved = _resolve_tables(tree, schema, text)
        _check_columns(tree, resolved, text)
        respell = {
            node.name.lower(): resolved[id(node)].name
            for node in tree.find_all(exp.Table)
            if id(node) in resolved and node.name != resolved[id(node)].name
        }
        _canonical_case(tree, resolved)
    had_limit = tree.args.get("limit") is not None
    probe, note = _apply_limit(tree, row_cap)
    own = (schema.default_schema or "").lower() if schema is not None else ""
    tables = tuple(
        dict.fromkeys(
            t.name if (t.schema or "").lower() in ("", own) else t.qualified_name
            for t in resolved.values()
        )
    )

    try:
        if (_top_level_limit(tokens) is not None) != had_limit:
            raise ValueError("the tokens and the tree disagree on the LIMIT")
        shown = _as_written(text, tokens, dialect, respell, row_cap if note else None)
        run = _as_written(text, tokens, dialect, respell, row_cap + 1) if note else shown
    except ValueError:
        # Odd shapes (a LIMIT expression, names to respell outside MySQL): the SQL is
        # generated from the checked tree instead.
        shown = tree.sql(dialect=dialect, pretty=pretty, comments=False)
        run = probe.sql(dialect=dialect, pretty=pretty, comments=False) if note else shown
    return CheckedSQL(sql=shown, exec_sql=run, row_cap=row_cap, limit_note=note, tables=tables)


def verdict(sql: str, schema: Schema | None, *, dialect: str = "mysql", row_cap: int = 1000):
    """("allow", the SQL that would run) or ("reject", the reason), for the CLI and tests."""
    try:
        checked = check_sql(sql, schema, dialect=dialect, row_cap=row_cap)
    except UnsafeSQL as exc:
        return "reject", exc.message
    return "allow", checked.sql
