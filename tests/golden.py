"""Golden cases are data: one JSONL line per case, loaded here and parametrized.

A case added to a file is tested without writing a test function.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED, need


def cases(relative: str, where=None) -> list:
    """pytest params for every line of a shared JSONL file.

    When the file is missing there is one param, None, which ``present`` turns
    into a skip (or, in CI, a failure).
    """
    path = SHARED / relative
    if not path.is_file():
        return [pytest.param(None, id=f"missing-{Path(relative).name}")]
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    rows = [r for r in rows if where is None or where(r)]
    return [pytest.param(row, id=str(row.get("id", i))) for i, row in enumerate(rows)]


def local_cases(name: str) -> list:
    """pytest params for tests/cases/<name>; a case's id is its "id", else its file's tail."""
    path = Path(__file__).parent / "cases" / name
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return [
        pytest.param(row, id=str(row.get("id") or row.get("file", str(i)).split("__")[-1]))
        for i, row in enumerate(rows)
    ]


def present(case) -> dict:
    need(case is not None, f"shared test data not found under {SHARED}", "QUARRY_REQUIRE_SHARED")
    return case
