"""The loss report: one training log read, diagnosed and summed up as plain data.

``loss_report(path)`` is what the CLI prints; ``python -m core.loss_report FILE
--json`` runs it now, and exits 2 with ``{"error": ...}`` for a file it cannot
read.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.diagnose import diagnose
from core.errors import LogFormatError
from core.losslog import read_run

logger = logging.getLogger(__name__)


def loss_report(path: str) -> dict[str, Any]:
    """Format, points, series names, hyperparameters, diagnosis and warnings of one log.

    Raises LogFormatError when the file cannot be read as a training log.
    """
    run = read_run(path)
    diagnosis = diagnose(run)
    return {
        "format": run.format,
        "points": run.points,
        "series": list(run.series),
        "hyperparameters": {k: _plain(v) for k, v in run.hyperparameters.items()},
        "diagnosis": {
            "converged": diagnosis.converged,
            "fluctuating": diagnosis.fluctuating,
            "overfitting": diagnosis.overfitting,
            "eval_min_step": diagnosis.eval_min_step,
            "spikes": [s.step for s in diagnosis.spikes],
            "non_finite_steps": diagnosis.non_finite_steps,
            "advice": list(diagnosis.advice),
        },
        "warnings": list(run.warnings),
    }


def _plain(value: Any) -> Any:
    """A JSON-safe value: numpy scalars unwrapped, NaN and infinities as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(report: dict[str, Any]) -> str:
    d = report["diagnosis"]
    lines = [
        f"format: {report['format']}, {report['points']} points",
        f"series: {', '.join(report['series'])}",
        "hyperparameters: "
        + (", ".join(f"{k}={v}" for k, v in report["hyperparameters"].items()) or "none stated"),
        f"converged: {'yes' if d['converged'] else 'no'}; fluctuating: "
        f"{'yes' if d['fluctuating'] else 'no'}; overfitting: "
        f"{'yes' if d['overfitting'] else 'no'}"
        + (f" (eval minimum at step {d['eval_min_step']})" if d["eval_min_step"] else ""),
    ]
    if d["spikes"]:
        lines.append(f"spikes at steps: {', '.join(map(str, d['spikes']))}")
    if d["non_finite_steps"]:
        lines.append(f"non-finite values at steps: {', '.join(map(str, d['non_finite_steps']))}")
    lines += [f"advice: {a}" for a in d["advice"]]
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loss-report", description="Read a training log and say whether the run converged."
    )
    parser.add_argument("file", help="trainer_state.json, trainer_log.jsonl, a CSV or event file")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    try:
        report = loss_report(args.file)
    except LogFormatError as exc:
        if args.json:
            print(json.dumps({"error": exc.message}))
        print(f"FAILED: {exc.explanation}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, allow_nan=False) if args.json else _text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
