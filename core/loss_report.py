"""The loss report: one training log read, diagnosed and summed up as plain data.

``loss_report(path)`` is what the CLI prints; ``python -m core.loss_report FILE
--json`` runs it now, and exits 2 with ``{"error": ...}`` for a file it cannot
read.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from core.diagnose import diagnose
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


def report_text(report: dict[str, Any]) -> str:
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
