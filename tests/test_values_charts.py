"""Values made safe for display, and the chart chosen from a result's shape."""

from __future__ import annotations

import datetime as dt
import decimal

import pandas as pd
import pytest

from core.charts import build_figure, choose_chart
from core.values import MYSQL_BIT, csv_bytes, display_frame, unique_names


def test_awkward_values_are_converted_for_display():
    rows = [
        (
            decimal.Decimal("1.10"),
            b"\x01",
            b"\x00\xff\x10",
            "0000-00-00",
            {"a": 1},
            2**70,
            dt.timedelta(hours=1),
        )
    ]
    frame = display_frame(
        ["d", "bit", "blob", "day", "doc", "big", "time"],
        rows,
        [246, MYSQL_BIT, 252, 10, 245, 8, 11],
    )
    assert frame["d"].dtype == float and frame["d"][0] == pytest.approx(1.1)
    assert frame["bit"][0] == 1
    assert frame["blob"][0].startswith("0x00ff10")
    assert pd.isna(frame["day"][0])
    assert frame["doc"][0] == '{"a": 1}'
    assert frame["big"][0] == str(2**70)
    assert frame["time"][0] == "1:00:00"
    frame.to_json()  # Arrow and plotly take what pandas can serialise


def test_mixed_columns_become_text_and_duplicate_names_unique():
    frame = display_frame(["x", "x"], [(1, "a"), ("b", "c")])
    assert list(frame.columns) == ["x", "x (2)"]
    assert frame["x"].tolist() == ["1", "b"]
    assert unique_names(["", ""]) == ["?column?", "?column? (2)"]


def test_csv_keeps_exact_values():
    data = csv_bytes(
        ["amount", "when"], [(decimal.Decimal("0.10000000000000000001"), dt.date(2024, 1, 2))]
    ).decode()
    assert "0.10000000000000000001" in data and "2024-01-02" in data


@pytest.mark.parametrize(
    "columns, rows, kind",
    [
        (["n"], [(5,)], "metric"),
        (["n"], [(decimal.Decimal("2.50"),)], "metric"),
        (["name"], [("x",)], "table"),
        (["country", "n"], [("USA", 3), ("France", 2)], "bar"),
        (["GenreId", "n"], [(1, 3), (2, 2)], "bar"),
        (["day", "total"], [(dt.date(2024, 1, 1), 3), (dt.date(2024, 1, 2), 4)], "line"),
        (["a", "b"], [(1.0, 2.0), (2.0, 3.5)], "scatter"),
        (["a", "b", "c"], [("x", "y", "z")], "table"),
        (["n"], [], "table"),
        (["country", "n"], [("USA", None), ("France", None)], "table"),
        (["n"], [(None,)], "table"),
    ],
)
def test_chart_choice_follows_the_shape(columns, rows, kind):
    frame = display_frame(columns, rows)
    choice = choose_chart(frame)
    assert choice.kind == kind
    figure = build_figure(frame, choice)
    assert (figure is not None) == (kind in ("bar", "line", "scatter"))


def test_many_categories_show_the_top_bars():
    rows = [(f"c{i}", i) for i in range(80)]
    frame = display_frame(["c", "n"], rows)
    figure = build_figure(frame, choose_chart(frame))
    assert len(figure.data[0].x) == 50 and "top 50 of 80" in figure.layout.title.text


def test_two_rows_with_one_label_stay_two_bars():
    frame = display_frame(["name", "n"], [("Smith", 3), ("Jones", 2), ("Smith", 1)])
    figure = build_figure(frame, choose_chart(frame))
    assert list(figure.data[0].x) == ["Smith", "Jones", "Smith (2)"]
    assert list(figure.data[0].y) == [3, 2, 1]


@pytest.mark.parametrize(
    "value, text",
    [
        (1100, "1,100"),
        (5571504.23, "5,571,504.23"),
        (5.651942, "5.652"),
        (None, "—"),
        (float("nan"), "—"),
        (decimal.Decimal("2.50"), "2.5"),
        (0.000123, "0.000123"),
    ],
)
def test_a_metric_reads_as_a_person_writes_it(value, text):
    from core.values import metric_text

    assert metric_text(value) == text
