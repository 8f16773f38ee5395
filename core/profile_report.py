"""A ydata-profiling report of one table, on a sample drawn in SQL.

The sample is drawn by the database (``RAND(seed) < p`` on MySQL/MariaDB,
``TABLESAMPLE BERNOULLI … REPEATABLE`` on PostgreSQL tables, ``RANDOM()`` on
SQLite), capped at ``profile_sample_rows`` rows, checked by the guard and run
read-only like every query. Values the profiler would mistype are converted
first, and each conversion is reported: exact decimals to floats (noting
where digits were lost), dates to datetimes, zero dates and far-future
sentinels (9999-12-31) and anything pandas cannot hold to missing, BIT to
bool, bytes to their length, JSON documents to text.

The profiling package is heavy (seconds to import), so it is imported only
when a report is built. Its telemetry is switched off before that import:
Quarry never calls out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import html
import json
import logging
import os
import re
import time
import uuid
from typing import Any

from core import identifiers
from core.errors import QuarryError
from core.execute import run_query
from core.guard import check_sql
from core.schema import Table
from core.settings import Settings
from core.target import Target

logger = logging.getLogger(__name__)

SEED = 42
MYSQL_BIT = 16
MYSQL_DATE_CODES = {7, 10, 12, 14}
# pandas holds datetimes from 1677 to 2262 only; the rest become missing.
_EARLIEST, _LATEST = dt.datetime(1678, 1, 1), dt.datetime(2262, 1, 1)


class ReportFailed(QuarryError):
    hint_default = "Try a smaller sample (QUARRY_PROFILE_SAMPLE_ROWS) or the minimal report."


@dataclasses.dataclass(frozen=True)
class Alert:
    column: str
    kind: str  # ydata-profiling's alert type: MISSING, CONSTANT, UNIQUE, SKEWED …
    text: str


@dataclasses.dataclass
class ProfileReportResult:
    table: str
    html: str
    sampled: int
    total: int | None
    minimal: bool
    alerts: list[Alert]
    conversions: list[str]
    duration_ms: float
    estimated: bool = False  # `total` is the server's estimate, not a count

    @property
    def size_mb(self) -> float:
        return len(self.html.encode("utf-8")) / 1_000_000

    @property
    def caption(self) -> str:
        about = "about " if self.estimated else ""
        of = f" of {about}{self.total:,}" if self.total is not None else ""
        return f"profiled {self.sampled:,}{of} rows"


def sample_sql(table: Table, dialect: str, rows: int, total: int | None) -> str:
    """A random sample of about `rows` rows, drawn by the database, at most `rows`."""
    columns = ", ".join(identifiers.quote(c.name, dialect) for c in table.columns) or "*"
    source = identifiers.table(table.name, dialect).sql(dialect=dialect)
    if total is not None and total <= rows:
        return f"SELECT {columns} FROM {source} LIMIT {rows}"
    # A little over the share asked for, so the LIMIT, not chance, decides the size.
    share = min(1.0, rows * 1.1 / total) if total else 1.0
    if dialect == "mysql":
        where = f"WHERE RAND({SEED}) < {share:.6f}"
    elif dialect == "postgres" and table.kind == "table":
        source += f" TABLESAMPLE BERNOULLI ({share * 100:.4f}) REPEATABLE ({SEED})"
        where = ""
    elif dialect == "postgres":
        where = f"WHERE RANDOM() < {share:.6f}"
    else:
        where = f"WHERE ABS(RANDOM()) % 1000000 < {int(share * 1_000_000)}"
    return f"SELECT {columns} FROM {source} {where} LIMIT {rows}".replace("  ", " ")


def _datetime(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


def _parse_date(text: str) -> Any:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return text


def convert_column(
    name: str, values: list[Any], *, kind: str = "", type_code: Any = None
) -> tuple[list[Any], list[str]]:
    """The column's values as the profiler should see them, and what was converted."""
    notes: list[str] = []
    counts: dict[str, int] = {}

    def bump(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    out: list[Any] = []
    dates = kind in ("date", "datetime") or type_code in MYSQL_DATE_CODES
    for value in values:
        if dates and isinstance(value, str):
            value = _parse_date(value)  # SQLite keeps dates as text
        if value is None:
            out.append(None)
        elif isinstance(value, decimal.Decimal):
            number = float(value)
            if value.is_finite() and decimal.Decimal(repr(number)) != value:
                bump("precision")
            bump("decimal")
            out.append(number)
        elif type_code == MYSQL_BIT and isinstance(value, (bytes, bytearray)):
            bump("bit")
            number = int.from_bytes(bytes(value), "big")
            out.append(bool(number) if len(value) == 1 else number)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            bump("bytes")
            out.append(len(bytes(value)))
        elif isinstance(value, (dict, list)):
            bump("json")
            out.append(json.dumps(value, ensure_ascii=False, default=str))
        elif isinstance(value, (dt.date, dt.datetime)):
            moment = _datetime(value)
            if moment.year >= 9999 or not (_EARLIEST <= moment < _LATEST):
                bump("sentinel date")
                out.append(None)
            else:
                if not isinstance(value, dt.datetime):
                    bump("date")
                out.append(moment)
        elif dates and isinstance(value, str):
            bump("zero date")  # '0000-00-00', which the MySQL driver leaves as text
            out.append(None)
        elif isinstance(value, (dt.time, dt.timedelta)):
            bump("time")
            out.append(
                value.total_seconds()
                if isinstance(value, dt.timedelta)
                else value.hour * 3600 + value.minute * 60 + value.second
            )
        elif isinstance(value, uuid.UUID):
            out.append(str(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            bump("big int")
            out.append(float(value))
        else:
            out.append(value)
    wording = {
        "decimal": "{n} exact decimals became floats",
        "precision": "{n} of them lost digits doing so",
        "bit": "{n} BIT values became booleans",
        "bytes": "{n} binary values became their length in bytes",
        "json": "{n} JSON documents became text",
        "date": "{n} dates became datetimes",
        "sentinel date": "{n} far-future or out-of-range dates (such as 9999-12-31) became missing",
        "zero date": "{n} zero dates (0000-00-00) became missing",
        "time": "{n} times became seconds",
        "big int": "{n} integers too large for 64 bits became floats",
    }
    for key, n in counts.items():
        notes.append(f"{name}: " + wording[key].format(n=n))
    return out, notes


def sample_frame(target: Target, table: Table, settings: Settings, rows: int, total: int | None):
    """The sample as a DataFrame, with the conversions made; raises QueryFailed and kin."""
    import pandas as pd

    sql = sample_sql(table, target.dialect, rows, total)
    checked = check_sql(sql, target.schema, dialect=target.dialect, row_cap=rows)
    result = run_query(
        target.engine,
        checked.exec_sql,
        server=target.server,
        row_cap=rows,
        timeout_s=settings.profile_timeout_s,
    )
    kinds = {c.name: c.kind for c in table.columns}
    codes = result.type_codes or [None] * len(result.columns)
    data: dict[str, list[Any]] = {}
    notes: list[str] = []
    for i, name in enumerate(result.columns):
        values, converted = convert_column(
            name, [r[i] for r in result.rows], kind=kinds.get(name, ""), type_code=codes[i]
        )
        data[name] = values
        notes += converted
    frame = pd.DataFrame(data, columns=result.columns)
    for name in frame.columns:
        if kinds.get(name) in ("date", "datetime"):
            frame[name] = pd.to_datetime(frame[name], errors="coerce")
    return frame, notes


def _profiler():
    os.environ["YDATA_PROFILING_NO_ANALYTICS"] = "True"
    try:
        from data_profiling import ProfileReport
    except ImportError:  # the older distribution names only the ydata_profiling package
        from ydata_profiling import ProfileReport
    return ProfileReport


def build_report(
    target: Target,
    table: Table,
    settings: Settings,
    *,
    sample_rows: int | None = None,
    minimal: bool | None = None,
    total: int | None = None,
) -> ProfileReportResult:
    """The report's HTML and alerts for a sample of `table` (minimal above the column limit)."""
    started = time.perf_counter()
    rows = sample_rows or settings.profile_sample_rows
    # MySQL's and PostgreSQL's row counts are the server's estimates; SQLite's are counted.
    estimated = total is None and table.row_count is not None and target.dialect != "sqlite"
    total = total if total is not None else table.row_count
    minimal = bool(minimal) or len(table.columns) > settings.profile_minimal_columns
    frame, notes = sample_frame(target, table, settings, rows, total)
    profile_report = _profiler()
    # The report escapes values but writes column names and the title as they are: a
    # name such as "<script>…" would run in the page. Names are escaped here instead.
    frame.columns = [html.escape(str(name)) for name in frame.columns]
    try:
        report = profile_report(
            frame,
            title=re.sub(r"[<>&\"']", "", table.name),  # the title is written unescaped
            minimal=minimal,
            progress_bar=False,
            explorative=False,
        )
        description = report.get_description()
        page = report.to_html()
    except Exception as exc:  # the profiler's own failures are many and undocumented
        raise ReportFailed(
            f"ydata-profiling could not profile {table.name}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        ) from exc
    alerts = [
        Alert(html.unescape(str(a.column_name or "")), a.alert_type.name, html.unescape(str(a)))
        for a in description.alerts
    ]
    duration = (time.perf_counter() - started) * 1000
    logger.info(
        "Profiling report of %s: %d rows, %d alerts, %.1f MB in %.0f ms",
        table.name,
        len(frame),
        len(alerts),
        len(page) / 1e6,
        duration,
    )
    return ProfileReportResult(
        table=table.name,
        html=page,
        sampled=len(frame),
        total=total,
        minimal=minimal,
        alerts=alerts,
        conversions=notes,
        duration_ms=duration,
        estimated=estimated,
    )
