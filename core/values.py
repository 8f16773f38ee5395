"""Make query results safe to show, chart and download.

Drivers hand back values that pandas, Arrow (behind ``st.dataframe``) and
plotly handle badly or not at all: ``Decimal``, raw bytes, MySQL BIT values
as bytes, zero dates ('0000-00-00') left as strings, JSON documents as dicts,
integers beyond 64 bits, columns mixing types, duplicate column names.
``display_frame`` converts them for the screen only; ``csv_bytes`` keeps the
exact values for the download.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import uuid
from collections.abc import Sequence
from typing import Any

import pandas as pd

# MySQL protocol type codes (PyMySQL's FIELD_TYPE) that need special care.
MYSQL_BIT = 16
MYSQL_DATE_CODES = {7, 10, 12, 14}  # TIMESTAMP, DATE, DATETIME, NEWDATE
_INT64 = (-(2**63), 2**63 - 1)


def _bytes_text(value: bytes) -> str:
    shown = value[:16].hex()
    return f"0x{shown}{'…' if len(value) > 16 else ''} ({len(value)} bytes)"


def display_value(value: Any, *, bit: bool = False, date_column: bool = False) -> Any:
    """One value as it should be shown; see the module docstring."""
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if bit:
            return int.from_bytes(raw, "big")
        return _bytes_text(raw)
    if date_column and isinstance(value, str):
        return None  # a zero date ('0000-00-00') the driver could not convert
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.timedelta):
        return str(value)
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not (_INT64[0] <= value <= _INT64[1])
    ):
        return str(value)
    return value


def unique_names(columns: Sequence[str]) -> list[str]:
    """Column names made unique ('Name', 'Name (2)'), as Arrow requires."""
    seen: dict[str, int] = {}
    names = []
    for raw in columns:
        name = str(raw) if str(raw) else "?column?"
        count = seen.get(name, 0) + 1
        seen[name] = count
        names.append(name if count == 1 else f"{name} ({count})")
    return names


def _settle_column(series: pd.Series) -> pd.Series:
    """Give an object column one type: dates, numbers, or else text."""
    values = series.dropna()
    if values.empty:
        return series
    kinds = {type(v) for v in values}
    if kinds <= {dt.date, dt.datetime, pd.Timestamp}:
        return pd.to_datetime(series, errors="coerce")
    if kinds <= {int, float}:
        return pd.to_numeric(series, errors="coerce")
    if kinds <= {bool}:
        return series
    if len(kinds) > 1 or not kinds <= {str}:
        return series.map(lambda v: None if v is None else str(v))
    return series


def display_frame(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    type_codes: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """A DataFrame of the rows that st.dataframe, Arrow and plotly accept."""
    codes = list(type_codes) if type_codes else [None] * len(columns)
    bits = [c == MYSQL_BIT for c in codes]
    dates = [c in MYSQL_DATE_CODES for c in codes]
    converted = [
        tuple(display_value(v, bit=bits[i], date_column=dates[i]) for i, v in enumerate(row))
        for row in rows
    ]
    frame = pd.DataFrame.from_records(converted, columns=unique_names(columns), coerce_float=True)
    if frame.empty:
        return frame
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = _settle_column(frame[name])
    return frame


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value  # Decimal and int keep every digit through str()


def csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """The exact result as UTF-8 CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def metric_text(value: Any) -> str:
    """One number as a person reads it: 1,100 · 5,571,504.23 · 5.652 · —."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 1000:
        return f"{number:,.2f}"
    return f"{number:,.4g}"
