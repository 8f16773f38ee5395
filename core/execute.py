"""Run one checked query on a target: read-only, time-limited, row-capped.

The guard (``core.guard``) is the first line of defence; this module is the
second. Each query runs inside a transaction the server itself holds
read-only (MySQL/MariaDB ``START TRANSACTION READ ONLY``, PostgreSQL
``SET TRANSACTION READ ONLY``, SQLite a file opened read-only plus
``PRAGMA query_only``), under the server's own statement time limit, and at
most ``row_cap + 1`` rows are fetched so a cut-off result can be shown as one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from core.connections import ServerInfo, explain_connect_error, mask_text
from core.errors import QueryFailed, QueryTimeout

logger = logging.getLogger(__name__)

# Driver error codes that mean "the statement ran out of time".
_MYSQL_TIMEOUT_CODES = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
_MYSQL_CONNECTION_CODES = {2003, 2006, 2013, 2055}
_MYSQL_READ_ONLY_CODES = {1792, 1290}


STREAM_BATCH = 10_000


@dataclasses.dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    duration_ms: float
    # The driver's type code per column (MySQL protocol codes), used to tell
    # BIT values and zero dates apart from ordinary bytes and strings.
    type_codes: list[Any] = dataclasses.field(default_factory=list)

    @property
    def row_count(self) -> int:
        return len(self.rows)


def _mysql_prepare(conn: sa.Connection, server: ServerInfo, timeout_s: float) -> None:
    if server.flavor == "mariadb":
        conn.exec_driver_sql(f"SET SESSION max_statement_time = {float(timeout_s):.3f}")
    else:
        conn.exec_driver_sql(f"SET SESSION max_execution_time = {int(timeout_s * 1000)}")
    conn.exec_driver_sql("START TRANSACTION READ ONLY")


def _postgres_prepare(conn: sa.Connection, timeout_s: float) -> None:
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")


def _sqlite_prepare(conn: sa.Connection, timeout_s: float) -> None:
    conn.exec_driver_sql("PRAGMA query_only = ON")
    deadline = time.monotonic() + timeout_s
    raw = conn.connection.dbapi_connection
    # SQLite has no statement time limit; a progress handler returning
    # non-zero interrupts the running statement.
    raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)


def _sqlite_release(conn: sa.Connection) -> None:
    raw = conn.connection.dbapi_connection
    if raw is not None:
        raw.set_progress_handler(None, 0)


def _classify(exc: sa.exc.DBAPIError, server: ServerInfo, sql: str, timeout_s: float, url: str):
    orig = exc.orig
    code = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
    text = mask_text(str(orig.args[1] if code is not None and len(orig.args) > 1 else orig)).strip()
    lowered = text.lower()
    if code in _MYSQL_TIMEOUT_CODES or "statement timeout" in lowered or lowered == "interrupted":
        return QueryTimeout(timeout_s, sql=sql)
    if code in _MYSQL_CONNECTION_CODES or exc.connection_invalidated:
        return explain_connect_error(exc, url)
    if code in _MYSQL_READ_ONLY_CODES or "read-only" in lowered or "readonly" in lowered:
        return QueryFailed(
            f"The database refused to write: {text}",
            hint="Quarry opens every target read-only; only queries can run.",
            sql=sql,
        )
    first = text.splitlines()[0] if text else type(orig).__name__
    return QueryFailed(f"The database rejected the query: {first}", sql=sql)


def _abandon_stream(result: sa.CursorResult) -> None:
    """Tell PyMySQL not to read the rest of a streamed result we are about to drop.

    Without this its cursor, when garbage-collected after the connection is
    closed, tries to read the remaining rows from a socket that is gone.
    """
    unbuffered = getattr(getattr(result.cursor, "_result", None), "unbuffered_active", None)
    if unbuffered:
        result.cursor._result.unbuffered_active = False


def run_query(
    engine: sa.Engine,
    sql: str,
    *,
    server: ServerInfo,
    row_cap: int,
    timeout_s: float,
    consume: Callable[[list[tuple[Any, ...]]], None] | None = None,
) -> QueryResult:
    """Run `sql` (already checked by the guard) and fetch at most `row_cap` rows.

    Raises QueryTimeout, QueryFailed or ConnectionFailed; never returns a
    partial success. ``truncated`` is set when more than `row_cap` rows exist.
    With `consume`, every row is streamed to it in batches instead and none is
    kept: Quarry's own statistics read results larger than any row cap that way,
    in constant memory.
    """
    started = time.perf_counter()
    url = engine.url.render_as_string(hide_password=False)
    backend = server.backend
    try:
        conn = engine.connect()
    except sa.exc.DBAPIError as exc:
        raise explain_connect_error(exc, url) from None
    drained = True
    try:
        if backend == "mysql":
            _mysql_prepare(conn, server, timeout_s)
        elif backend == "postgresql":
            _postgres_prepare(conn, timeout_s)
        elif backend == "sqlite":
            _sqlite_prepare(conn, timeout_s)
        result = conn.execution_options(stream_results=True, no_parameters=True).exec_driver_sql(
            sql
        )
        columns = list(result.keys()) if result.returns_rows else []
        description = result.cursor.description if result.returns_rows else None
        codes = [d[1] for d in description] if description and backend == "mysql" else []
        if consume is not None and result.returns_rows:
            while batch := result.fetchmany(STREAM_BATCH):
                consume([tuple(r) for r in batch])
            rows = []
        else:
            rows = [tuple(r) for r in result.fetchmany(row_cap + 1)] if result.returns_rows else []
        truncated = len(rows) > row_cap
        if truncated:
            rows = rows[:row_cap]
            # Closing a streaming MySQL cursor reads every remaining row; for a
            # huge result it is far cheaper to drop the connection instead.
            drained = backend != "mysql"
        if drained:
            result.close()
        else:
            _abandon_stream(result)
    except sa.exc.DBAPIError as exc:
        drained = not exc.connection_invalidated
        raise _classify(exc, server, sql, timeout_s, url) from None
    finally:
        if backend == "sqlite":
            try:
                _sqlite_release(conn)
            except Exception:  # the connection may already be gone; nothing to release
                pass
        if drained:
            try:
                conn.rollback()
            except sa.exc.DBAPIError:
                conn.invalidate()
        else:
            conn.invalidate()
        conn.close()
    duration = (time.perf_counter() - started) * 1000
    logger.info(
        "Query on %s: %d rows%s in %.0f ms",
        server.flavor,
        len(rows),
        " (truncated)" if truncated else "",
        duration,
    )
    return QueryResult(
        sql=sql,
        columns=columns,
        rows=rows,
        truncated=truncated,
        duration_ms=duration,
        type_codes=codes,
    )
