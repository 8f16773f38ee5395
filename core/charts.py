"""Pick a chart from a result's shape, and draw it with plotly.

The rules, first match wins:

- one row, one number        → a metric
- a date and a number        → a line over time
- a category and a number    → bars
- two numbers                → a scatter plot
- anything else              → the table alone

A column of identifiers (``GenreId``) next to a measure counts as a
category, not as a second number. Empty results, all-NULL columns and
Decimal values never raise; they fall back to the table.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import plotly.graph_objects as go

MAX_BARS = 50
# An identifier's name, also when made unique for display ("TrackId (2)").
# ("paid" or "valid" end in "id" but are no identifiers, so case matters here.)
_ID_NAME = re.compile(r"(^[Ii][Dd]|_[Ii][Dd]|[a-z]Id|[a-z]ID|_key|_code|_cd)( \(\d+\))?$")


@dataclasses.dataclass(frozen=True)
class ChartChoice:
    kind: str  # "metric", "line", "bar", "scatter" or "table"
    x: str | None = None
    y: str | None = None
    reason: str = ""


def _is_number(series: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
        and series.notna().any()
    )


def _is_date(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series) and series.notna().any()


def _looks_like_id(name: str, series: pd.Series) -> bool:
    """An identifier: an ID-like name over whole numbers (a NULL makes pandas use floats)."""
    if not _ID_NAME.search(name) or not pd.api.types.is_numeric_dtype(series):
        return False
    values = series.dropna()
    return bool(len(values)) and bool((values == values.round()).all())


def choose_chart(frame: pd.DataFrame) -> ChartChoice:
    """Decide how to draw `frame` (a frame from ``core.values.display_frame``)."""
    if frame.empty or frame.shape[1] == 0:
        return ChartChoice("table", reason="no rows")
    columns = list(frame.columns)
    numbers = [c for c in columns if _is_number(frame[c])]
    dates = [c for c in columns if _is_date(frame[c])]
    if frame.shape == (1, 1):
        if numbers:
            return ChartChoice("metric", y=columns[0], reason="one number")
        return ChartChoice("table", reason="one value that is not a number")
    measures = [c for c in numbers if not _looks_like_id(c, frame[c])]
    categories = [
        c for c in columns if c not in measures and c not in dates and frame[c].notna().any()
    ]
    if dates and measures:
        return ChartChoice("line", x=dates[0], y=measures[0], reason="a date and a number")
    if categories and measures and len(frame) > 1:
        return ChartChoice("bar", x=categories[0], y=measures[0], reason="a category and a number")
    if len(measures) >= 2 and len(frame) > 1:
        return ChartChoice("scatter", x=measures[0], y=measures[1], reason="two numbers")
    return ChartChoice("table", reason="no shape that a chart shows better than the table")


def build_figure(frame: pd.DataFrame, choice: ChartChoice) -> go.Figure | None:
    """The plotly figure for a line, bar or scatter choice; None otherwise."""
    if choice.kind not in ("line", "bar", "scatter"):
        return None
    data = frame[[choice.x, choice.y]].dropna()
    if data.empty:
        return None
    layout = dict(
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title=str(choice.x),
        yaxis_title=str(choice.y),
        height=380,
    )
    if choice.kind == "line":
        data = data.sort_values(choice.x)
        figure = go.Figure(go.Scatter(x=data[choice.x], y=data[choice.y], mode="lines+markers"))
        title = f"{choice.y} over {choice.x}"
    elif choice.kind == "bar":
        shown = data
        if len(data) > MAX_BARS:
            shown = data.nlargest(MAX_BARS, choice.y)
        labels = shown[choice.x].astype(str)
        # Two rows with one label would be drawn as one summed bar: number the repeats.
        repeat = labels.groupby(labels).cumcount()
        labels = labels.where(repeat == 0, labels + " (" + (repeat + 1).astype(str) + ")")
        figure = go.Figure(go.Bar(x=labels, y=shown[choice.y]))
        title = f"{choice.y} by {choice.x}"
        if len(shown) < len(data):
            title += f" (top {len(shown)} of {len(data)})"
        layout["xaxis_type"] = "category"
    else:
        figure = go.Figure(go.Scatter(x=data[choice.x], y=data[choice.y], mode="markers"))
        title = f"{choice.y} against {choice.x}"
    figure.update_layout(title=title, **layout)
    return figure
