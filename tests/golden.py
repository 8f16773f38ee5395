"""Golden cases kept as JSONL under tests/cases, one case a line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CASES = Path(__file__).resolve().parent / "cases"


def cases(name: str) -> list[Any]:
    """The cases of tests/cases/<name> as pytest params, each with its file as id."""
    lines = (CASES / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [pytest.param(row, id=row["file"].split("__")[-1]) for row in rows]
