"""The demo's ground truth: which columns are cryptic and what they mean, and which warts were
planted where. The curation features are scored against it.

It is written from the schema (each cryptic column's ``info["meaning"]``) and from the values the
generator noted while planting, never by hand; ``python -m db.demo.truth`` rewrites the file.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from db.demo.generate import Demo, generate
from db.demo.schema import metadata

GROUND_TRUTH_PATH = Path(__file__).resolve().with_name("ground_truth.json")


def ground_truth(demo: Demo | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{"cryptic_columns": [{table, column, meaning}], "inconsistencies": [{table, column,
    kind, examples}]}``, both in the order of the schema."""
    demo = demo or generate()
    cryptic = [
        {"table": table.name, "column": column.name, "meaning": column.info["meaning"]}
        for table in metadata.tables.values()
        for column in table.columns
        if "meaning" in column.info
    ]
    positions = {
        (table.name, column.name): n
        for n, (table, column) in enumerate(
            (t, c) for t in metadata.tables.values() for c in t.columns
        )
    }
    warts = sorted(demo.planted, key=lambda w: (positions[w.table, w.column], w.kind))
    inconsistencies = [
        {
            "table": wart.table,
            "column": wart.column,
            "kind": wart.kind,
            "examples": [_as_json(value) for value in demo.planted[wart]],
        }
        for wart in warts
    ]
    return {"cryptic_columns": cryptic, "inconsistencies": inconsistencies}


def _as_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def load_ground_truth() -> dict[str, list[dict[str, Any]]]:
    """The ground truth as committed beside the generator."""
    return json.loads(GROUND_TRUTH_PATH.read_text(encoding="utf-8"))


def write_ground_truth(path: Path = GROUND_TRUTH_PATH) -> None:
    text = json.dumps(ground_truth(), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_ground_truth()
    print(GROUND_TRUTH_PATH)
