"""The run shape every loss-log reader returns, and how raw columns become it.

A ``Run`` holds named ``Series`` of (step, value) points plus what the file
states about the training. ``series_name`` gives each log key its canonical
name, and ``finish_run`` turns the columns a reader gathered into a ``Run``:
a resumed run keeps its later segment, and the learning-rate peak and the
epochs done are derived from the curves.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from core.errors import LogFormatError

# Keys that describe the logging itself rather than the model; they never become series.
_BOOKKEEPING = re.compile(
    r"(^|_)(runtime|samples_per_second|steps_per_second|total_flos|num_tokens|"
    r"num_input_tokens_seen|total_steps|percentage|remaining_time|throughput|"
    r"total_tokens|timestamp|wall_time|elapsed_time|relative_time)$"
)
_ALIASES = {
    "loss": "train_loss",
    "training_loss": "train_loss",
    "loss_train": "train_loss",
    "lr": "learning_rate",
    "train_lr": "learning_rate",
    "train_learning_rate": "learning_rate",
    "train_grad_norm": "grad_norm",
    "gradnorm": "grad_norm",
    "accuracy": "train_accuracy",
    "acc": "train_accuracy",
    "train_acc": "train_accuracy",
    "mean_token_accuracy": "train_accuracy",
    "train_mean_token_accuracy": "train_accuracy",
    "eval_mean_token_accuracy": "eval_accuracy",
    "eval_acc": "eval_accuracy",
    "loss_eval": "eval_loss",
    "loss_val": "eval_loss",
    "full_eval_loss": "eval_full_loss",
    "full_eval_mean_token_accuracy": "eval_full_accuracy",
    "full_valid_loss": "eval_full_loss",
    "full_valid_mean_token_accuracy": "eval_full_accuracy",
}
_EVAL_PREFIX = re.compile(r"^(val|valid|validation)_")


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """One logged quantity: values at strictly increasing steps.

    ``epochs`` and ``times`` (seconds since the run started) are parallel to
    ``steps`` when the log has them. Values may be NaN or infinite where the
    trainer logged that.
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray | None = None
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def finite(self) -> np.ndarray:
        return np.isfinite(self.values)

    def non_finite_steps(self) -> list[int]:
        return [int(s) for s in self.steps[~self.finite]]

    @property
    def is_loss(self) -> bool:
        return self.name.endswith("loss")


@dataclasses.dataclass(eq=False)
class Run:
    """A training run as read from one log file."""

    format: str
    series: dict[str, Series]
    hyperparameters: dict[str, Any]
    warnings: list[str]
    source: str
    # The closing summary some trainers write (mean train loss, runtime); not a curve.
    summary: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def loss(self) -> Series | None:
        """The main loss curve: the train loss, else the first loss series."""
        if "train_loss" in self.series:
            return self.series["train_loss"]
        return next((s for s in self.series.values() if s.is_loss), None)

    @property
    def points(self) -> int:
        main = self.loss
        return len(main) if main is not None else 0

    @property
    def eval_losses(self) -> list[Series]:
        return [s for name, s in self.series.items() if name.startswith("eval_") and s.is_loss]


def series_name(key: str) -> str | None:
    """The canonical series name for a log key, or None for bookkeeping keys.

    >>> series_name("loss"), series_name("eval/loss"), series_name("valid_loss")
    ('train_loss', 'eval_loss', 'eval_loss')
    """
    name = re.sub(r"[^0-9a-z]+", "_", key.strip().lower()).strip("_")
    if not name or _BOOKKEEPING.search(name):
        return None
    name = _EVAL_PREFIX.sub("eval_", name)
    name = _ALIASES.get(name, name)
    if name.startswith("eval_") and name.endswith("_mean_token_accuracy"):
        name = name[: -len("_mean_token_accuracy")] + "_accuracy"
    return name


class Points:
    """Collects (step, value, epoch, time) per series in file order."""

    def __init__(self) -> None:
        self._rows: dict[str, list[tuple[float, float, float, float]]] = {}

    def add(self, name: str, step: float, value: float, epoch: float, time: float) -> None:
        self._rows.setdefault(name, []).append((step, value, epoch, time))

    def names(self) -> list[str]:
        return list(self._rows)

    def arrays(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        for name, rows in self._rows.items():
            table = np.asarray(rows, dtype=np.float64)
            yield name, table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def _build_series(
    columns: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]],
    warnings: list[str],
) -> dict[str, Series]:
    """Series from raw columns in file order; a resumed run keeps its later segment."""
    series: dict[str, Series] = {}
    repeats: dict[str, list[str]] = {}
    for name, steps, values, epochs, times in columns:
        keep = _later_segment(steps)
        if keep.all():
            keep = slice(None)  # a view, not a copy of a million points
        else:
            for span in _spans(steps[~keep]):
                repeats.setdefault(span, []).append(name)
        series[name] = Series(
            name=name,
            steps=steps[keep].astype(np.int64),
            values=np.asarray(values[keep], dtype=np.float64),
            epochs=_optional(epochs, keep),
            times=_optional(times, keep),
        )
    for span, names in repeats.items():
        warnings.append(
            f"Steps {span} appear twice ({', '.join(names)}): the run was resumed from an "
            "earlier checkpoint; the later values are kept."
        )
    return series


def _later_segment(steps: np.ndarray) -> np.ndarray:
    """Mask of points no later point overrides: a point stays only if every later step is larger."""
    keep = np.ones(len(steps), dtype=bool)
    if len(steps) < 2 or np.all(steps[1:] > steps[:-1]):
        return keep
    later_min = np.minimum.accumulate(steps[::-1])[::-1]
    keep[:-1] = steps[:-1] < later_min[1:]
    return keep


def _spans(steps: np.ndarray) -> list[str]:
    """Dropped steps as "30–50" spans, one span per block the resume repeated."""
    order = np.sort(np.unique(steps))
    if len(order) == 0:
        return []
    gap = np.median(np.diff(order)) if len(order) > 1 else 1
    breaks = np.flatnonzero(np.diff(order) > gap) + 1
    return [
        f"{int(b[0])}–{int(b[-1])}" if len(b) > 1 else f"{int(b[0])}"
        for b in np.split(order, breaks)
    ]


def _optional(column: np.ndarray | None, keep: np.ndarray | slice) -> np.ndarray | None:
    if column is None:
        return None
    kept = np.asarray(column[keep], dtype=np.float64)
    return kept if np.isfinite(kept).any() else None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def relative_times(times: np.ndarray | None) -> np.ndarray | None:
    """Times from the run's start; absolute clock readings (Unix seconds) are shifted."""
    if times is None or not np.isfinite(times).any():
        return None
    first = np.nanmin(times)
    return times - first if first > 1e8 else times


NO_LOSS_HINT = 'Name the loss column with a mapping such as {"step": "step", "loss": "<column>"}.'


def finish_run(
    fmt: str,
    columns: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]],
    *,
    hyperparameters: dict[str, Any],
    warnings: list[str],
    source: str,
    keys: list[str],
    summary: dict[str, float] | None = None,
) -> Run:
    """The Run for columns of (name, steps, values, epochs, times) in file order.

    Raises LogFormatError naming the file's `keys` when no series is a loss.
    """
    series = _build_series(columns, warnings)
    if not any(s.is_loss for s in series.values()):
        raise LogFormatError(
            f"No column holds a loss: the columns found are {', '.join(keys)}, and none of "
            "them is named like a loss.",
            hint=NO_LOSS_HINT,
            path=source,
        )
    lr = series.get("learning_rate")
    if lr is not None and lr.finite.any():
        hyperparameters["peak_learning_rate"] = float(np.max(lr.values[lr.finite]))
    ends = [float(np.nanmax(s.epochs)) for s in series.values() if s.epochs is not None]
    if ends:
        hyperparameters["epochs_done"] = round(max(ends), 4)
    return Run(fmt, series, hyperparameters, warnings, source, summary or {})
