"""Taking the SQL out of a model's answer, by parsing."""

from __future__ import annotations

import pytest

from core.extract_sql import extract_sql
from tests.golden import cases, present


@pytest.mark.parametrize("case", cases("cases/sql-extraction.jsonl"))
def test_shared_extraction_cases(case):
    case = present(case)
    assert extract_sql(case["answer"]) == case["sql"]


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("```python\nprint('hi')\n```\n```sql\nSELECT 1 FROM t\n```", "SELECT 1 FROM t"),
        ("Try this: SELECT name FROM t\nIt returns names.", "SELECT name FROM t"),
        ("Select the best option from the list.", None),
        ("You could select with care.", None),
        ("", None),
        ('{"query": "SELECT a FROM b"}', "SELECT a FROM b"),
        # marked as SQL but no query: returned as written, for the guard to refuse
        ("```sql\nDELETE FROM t\n```", "DELETE FROM t"),
        ("```sql\nSELEC * FRM Track;\n```", "SELEC * FRM Track"),
        ("```\nDROP TABLE Genre\n```", "DROP TABLE Genre"),
        ("```\nnot sql at all\n```", None),
        ("```python\nprint(1)\n```", None),
    ],
)
def test_more_shapes_of_answers(answer, expected):
    assert extract_sql(answer) == expected
