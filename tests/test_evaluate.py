"""Result comparison for execution accuracy."""

from __future__ import annotations

import decimal

import pytest

from core.errors import BadInput
from core.evaluate import is_ordered, load_cases, results_match


@pytest.mark.parametrize(
    "gold, pred, ordered, expected",
    [
        ([(1,), (2,)], [(2,), (1,)], False, True),
        ([(1,), (2,)], [(2,), (1,)], True, False),
        ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),  # multisets, not sets
        ([("a", 1)], [(1, "a")], False, True),  # any column order
        ([("a", 1)], [(7, "a", 1.0000001)], False, True),  # extra columns allowed
        ([("a", 1)], [("a", 1.001)], False, False),  # beyond 1e-6
        ([(decimal.Decimal("5.651942"),)], [(5.651942,)], False, True),
        ([(None, "x")], [("x", None)], False, True),
        ([("a", 1)], [("a",)], False, False),  # a gold column missing
        ([], [], False, True),
        ([(1,)], [], False, False),
        ([("a", 1), ("b", 2)], [("a", 2), ("b", 1)], False, False),  # columns match, rows do not
    ],
)
def test_results_match(gold, pred, ordered, expected):
    assert results_match(gold, pred, ordered=ordered) is expected


def test_order_matters_only_when_the_gold_orders_and_limits():
    assert is_ordered("SELECT a FROM t ORDER BY a DESC LIMIT 5", "mysql")
    assert not is_ordered("SELECT a FROM t ORDER BY a", "mysql")
    assert not is_ordered("SELECT a FROM t LIMIT 5", "mysql")


def test_a_malformed_cases_file_names_the_line(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": 1, "question": "q", "sql": "SELECT 1"}\n{broken\n')
    with pytest.raises(BadInput, match="Line 2"):
        load_cases(path)
    with pytest.raises(BadInput, match="No cases file"):
        load_cases(tmp_path / "absent.jsonl")
    path.write_text('{"id": 1, "question": "q", "ambiguous": "maybe"}\n')
    with pytest.raises(BadInput, match="'ambiguous': 'maybe'"):
        load_cases(path)
