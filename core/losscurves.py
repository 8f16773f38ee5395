"""Loss curves for display: smoothing, axis preparation, downsampling, figures.

Everything here changes what is drawn, never the run's data: smoothing is
TensorBoard's debiased moving average, outlier clipping only picks a y range,
and downsampling returns indices into the full series.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from pathlib import PurePath

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.signal import lfilter
from tsdownsample import MinMaxDownsampler, MinMaxLTTBDownsampler

from core.losslog import Run, Series

logger = logging.getLogger(__name__)

DEFAULT_SMOOTHING = 0.6
DEFAULT_MAX_POINTS = 2000


def smooth(values: np.ndarray | Sequence[float], weight: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """TensorBoard's scalar smoothing: a debiased exponential moving average.

    Non-finite values pass through unchanged and do not feed the average; a
    constant series is returned as it is. Same result as TensorBoard's
    ``resmoothDataset``:

    >>> smooth([1.0, 2.0, float("nan"), 3.0], 0.5).round(4).tolist()
    [1.0, 1.6667, nan, 2.4286]
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"smoothing weight must be between 0 and 1, not {weight}")
    raw = np.asarray(values, dtype=np.float64)
    if raw.size == 0 or np.all(raw == raw[0]):
        return raw.copy()
    finite = np.isfinite(raw)
    every = bool(finite.all())
    # last = last * w + (1 - w) * x, starting from 0, is a first-order IIR filter.
    ema = lfilter([1.0 - weight], [1.0, -weight], raw if every else raw[finite])
    if 0.0 < weight < 1.0:
        # 1 - w**k rounds to exactly 1.0 once w**k < 2**-54, so later points need no division.
        terms = min(ema.size, math.ceil(-54 * math.log(2) / math.log(weight)) + 1)
        ema[:terms] /= 1.0 - weight ** np.arange(1, terms + 1, dtype=np.float64)
    if every:
        return ema
    out = raw.copy()
    out[finite] = ema
    return out


@dataclasses.dataclass(frozen=True)
class LogView:
    """Which points a log-scale axis can show; zero and negative values cannot."""

    keep: np.ndarray
    left_out: int


def log_axis(values: np.ndarray) -> LogView:
    """Mask of the finite positive values, and how many finite values were left out."""
    finite = np.isfinite(values)
    keep = finite & (values > 0)
    return LogView(keep=keep, left_out=int(np.count_nonzero(finite & ~keep)))


@dataclasses.dataclass(frozen=True)
class YRange:
    """A y range for the view that leaves the top outliers off; the data stay as they are."""

    low: float
    high: float
    hidden: int  # points above `high`

    def for_axis(self, log: bool) -> list[float]:
        return [math.log10(self.low), math.log10(self.high)] if log else [self.low, self.high]


def clip_range(values: np.ndarray, *, quantile: float = 0.99, log: bool = False) -> YRange | None:
    """The y range from the lowest value up to the `quantile` of the values, plus a margin.

    The minimum is kept because a loss curve's floor is what one reads off;
    the early values and spikes above the quantile are the ones that squash it.
    """
    finite = values[np.isfinite(values)]
    if log:
        finite = finite[finite > 0]
    if finite.size == 0:
        return None
    scale = np.log10(finite) if log else finite
    low, high = float(np.min(scale)), float(np.quantile(scale, quantile))
    margin = 0.05 * (high - low) or 0.05 * abs(high) or 1.0
    hidden = int(np.count_nonzero(scale > high + margin))
    low, high = low - margin, high + margin
    if log:
        return YRange(10**low, 10**high, hidden)
    return YRange(low, high, hidden)


def downsample(
    x: np.ndarray,
    y: np.ndarray,
    max_points: int = DEFAULT_MAX_POINTS,
    *,
    method: str = "minmaxlttb",
) -> np.ndarray:
    """Indices of at most `max_points` finite points to draw, ascending.

    MinMaxLTTB (the default) or MinMax from tsdownsample keep each bucket's
    highest and lowest point, so spikes and the floor survive. Non-finite
    points are never among the indices; draw them separately.
    """
    usable = np.flatnonzero(np.isfinite(y) & np.isfinite(x))
    if usable.size <= max_points:
        return usable
    xs = np.ascontiguousarray(x[usable], dtype=np.float64)
    ys = np.ascontiguousarray(y[usable], dtype=np.float64)
    if method == "minmax":
        chosen = MinMaxDownsampler().downsample(xs, ys, n_out=max_points - max_points % 2)
    elif method == "minmaxlttb":
        chosen = MinMaxLTTBDownsampler().downsample(xs, ys, n_out=max_points)
    else:
        raise ValueError(f"unknown downsampling method {method!r}; use minmaxlttb or minmax")
    return usable[np.sort(chosen.astype(np.int64))]


def accumulation_note(runs: Sequence[Run]) -> str | None:
    """A warning when overlaid runs accumulate gradients differently, so a step differs."""
    known = {
        _label(run): run.hyperparameters["gradient_accumulation_steps"]
        for run in runs
        if "gradient_accumulation_steps" in run.hyperparameters
    }
    if len(set(known.values())) < 2:
        return None
    listed = ", ".join(f"{label}: {value}" for label, value in known.items())
    unknown = [_label(r) for r in runs if _label(r) not in known]
    tail = f" (unknown for {', '.join(unknown)})" if unknown else ""
    return (
        f"The runs use different gradient accumulation ({listed}){tail}: one step covers a "
        "different number of examples, so compare them by epoch or by examples, not by step."
    )


AXES = ("step", "epoch", "time")
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
_WEBGL_FROM = 5000  # above this many points a trace is drawn with WebGL


@dataclasses.dataclass
class Chart:
    """A figure plus what a page should print under it."""

    figure: go.Figure
    shown: int  # points drawn, over all traces of raw values
    total: int  # points logged, over the same traces
    notes: list[str]

    @property
    def caption(self) -> str:
        return f"Showing {self.shown:,} of {self.total:,} points."


def loss_chart(
    runs: Run | Sequence[Run],
    *,
    x: str = "step",
    smoothing: float = DEFAULT_SMOOTHING,
    max_points: int | None = DEFAULT_MAX_POINTS,
    log_y: bool = False,
    clip: bool = False,
) -> Chart:
    """Train and eval losses of one or more runs against step, epoch or time.

    The raw curve is drawn faded under its smoothed one; eval losses are
    drawn as they are (a fixed eval set is not noisy enough to need it, and
    smoothing would move the minimum). ``max_points=None`` draws every point.
    """
    runs = [runs] if isinstance(runs, Run) else list(runs)
    axis, notes = _axis_for(runs, x)
    figure = go.Figure()
    shown = total = 0
    drawn: list[np.ndarray] = []
    for number, run in enumerate(runs):
        prefix = f"{_label(run)} · " if len(runs) > 1 else ""
        for index, series in enumerate(_loss_series(run)):
            is_train = not series.name.startswith(("eval_", "predict_"))
            # One run: a colour per curve. Several: a colour per run, eval curves dashed.
            colour = _COLOURS[(index if len(runs) == 1 else number) % len(_COLOURS)]
            counts = _add_series(
                figure,
                series,
                axis=axis,
                name=prefix + series.name,
                colour=colour,
                smoothing=smoothing if is_train else None,
                max_points=max_points,
                log_y=log_y,
                notes=notes,
                dash=None if is_train or len(runs) == 1 else "dash",
            )
            shown, total = shown + counts[0], total + counts[1]
            drawn.append(series.values)
    if runs:
        _mark_epochs(figure, runs[0], axis, notes, several=len(runs) > 1)
    note = accumulation_note(runs)
    if note:
        notes.append(note)
    if clip and drawn:
        view = clip_range(np.concatenate(drawn), log=log_y)
        if view is not None:
            figure.update_yaxes(range=view.for_axis(log_y))
            if view.hidden:
                notes.append(f"{view.hidden} points above the view are cut off (data unchanged).")
    figure.update_layout(
        template="plotly_white",
        xaxis_title=axis.title,
        yaxis_title="loss",
        yaxis_type="log" if log_y else "linear",
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 30, "r": 10},
    )
    notes.insert(0, f"Showing {shown:,} of {total:,} points.")
    return Chart(figure, shown, total, notes)


def schedule_chart(
    runs: Run | Sequence[Run],
    *,
    x: str = "step",
    smoothing: float = DEFAULT_SMOOTHING,
    max_points: int | None = DEFAULT_MAX_POINTS,
) -> Chart:
    """Learning rate (top) and grad norm (bottom) of one or more runs."""
    runs = [runs] if isinstance(runs, Run) else list(runs)
    axis, notes = _axis_for(runs, x)
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, subplot_titles=("learning rate", "grad norm")
    )
    shown = total = 0
    for number, run in enumerate(runs):
        colour = _COLOURS[number % len(_COLOURS)]
        prefix = f"{_label(run)} · " if len(runs) > 1 else ""
        for row, name, smooth_weight in ((1, "learning_rate", None), (2, "grad_norm", smoothing)):
            series = run.series.get(name)
            if series is None:
                continue
            counts = _add_series(
                figure,
                series,
                axis=axis,
                name=prefix + name,
                colour=colour,
                smoothing=smooth_weight,
                max_points=max_points,
                log_y=False,
                notes=notes,
                row=row,
            )
            shown, total = shown + counts[0], total + counts[1]
    if total == 0:
        notes.append("No learning rate or grad norm was logged.")
    figure.update_layout(template="plotly_white", legend={"orientation": "h", "y": -0.2})
    figure.update_xaxes(title_text=axis.title, row=2, col=1)
    notes.insert(0, f"Showing {shown:,} of {total:,} points.")
    return Chart(figure, shown, total, notes)


def _label(run: Run) -> str:
    return PurePath(run.source).name or run.source


def _loss_series(run: Run) -> list[Series]:
    return [s for s in run.series.values() if s.is_loss]


@dataclasses.dataclass(frozen=True)
class _Axis:
    """What the x axis shows: step, epoch, or time since the start in a readable unit."""

    name: str = "step"
    seconds_per_unit: float = 1.0
    unit: str = "s"

    @property
    def title(self) -> str:
        return f"time since start ({self.unit})" if self.name == "time" else self.name

    def of(self, series: Series) -> np.ndarray:
        if self.name == "epoch" and series.epochs is not None:
            return series.epochs
        if self.name == "time" and series.times is not None:
            return series.times / self.seconds_per_unit
        return series.steps.astype(np.float64)


def _axis_for(runs: Sequence[Run], wanted: str) -> tuple[_Axis, list[str]]:
    if wanted not in AXES:
        raise ValueError(f"x must be one of {', '.join(AXES)}, not {wanted!r}")
    if wanted == "step":
        return _Axis(), []
    attribute = "epochs" if wanted == "epoch" else "times"
    missing = [
        _label(r) for r in runs if any(getattr(s, attribute) is None for s in _loss_series(r))
    ]
    if missing:
        return _Axis(), [f"No {wanted} logged in {', '.join(missing)}: drawn against step."]
    if wanted == "epoch":
        return _Axis("epoch"), []
    longest = max(float(np.nanmax(s.times)) for r in runs for s in _loss_series(r))
    if longest >= 3 * 3600:
        return _Axis("time", 3600.0, "h"), []
    if longest >= 180:
        return _Axis("time", 60.0, "min"), []
    return _Axis("time"), []


def _add_series(
    figure: go.Figure,
    series: Series,
    *,
    axis: _Axis,
    name: str,
    colour: str,
    smoothing: float | None,
    max_points: int | None,
    log_y: bool,
    notes: list[str],
    row: int | None = None,
    dash: str | None = None,
) -> tuple[int, int]:
    """Add one series' traces; returns (points drawn, points logged)."""
    where = {"row": row, "col": 1} if row else {}
    xs, values = axis.of(series), series.values
    visible = np.isfinite(values)
    if log_y:
        view = log_axis(values)
        visible = view.keep
        if view.left_out:
            notes.append(f"{name}: {view.left_out} values ≤ 0 left out of the log axis.")
    bad = np.flatnonzero(~np.isfinite(values))

    if max_points is None:
        picked = np.flatnonzero(visible)
    else:
        picked = np.flatnonzero(visible)[downsample(xs[visible], values[visible], max_points)]
    # Non-finite points go back in as NaN so the line breaks where they were.
    order = np.union1d(picked, bad)
    y_raw = np.where(np.isin(order, picked), values[order], np.nan)
    scatter = go.Scattergl if order.size > _WEBGL_FROM else go.Scatter
    many = smoothing is not None and len(series) > 1

    figure.add_trace(
        scatter(
            x=xs[order],
            y=y_raw,
            name=name + (" (raw)" if many else ""),
            legendgroup=name,
            mode="lines" if many or len(series) > 50 else "lines+markers",
            line={"color": colour, "width": 1 if many else 2, "dash": dash},
            opacity=0.3 if many else 1.0,
            showlegend=not many,
        ),
        **where,
    )
    if many:
        smoothed = smooth(values, smoothing)
        smoothed[~visible] = np.nan
        keep = np.flatnonzero(np.isfinite(smoothed))
        if max_points is not None:
            keep = keep[downsample(xs[keep], smoothed[keep], max_points)]
        figure.add_trace(
            scatter(
                x=xs[keep],
                y=smoothed[keep],
                name=name,
                legendgroup=name,
                mode="lines",
                line={"color": colour, "width": 2},
            ),
            **where,
        )
    if bad.size:
        _mark_non_finite(figure, series, xs, bad, name, where)
        notes.append(
            f"{name}: {bad.size} non-finite value{'s' if bad.size > 1 else ''} skipped "
            f"(step {', '.join(str(int(s)) for s in series.steps[bad][:10])}), marked ×."
        )
    return int(picked.size), len(series)


def _mark_non_finite(
    figure: go.Figure, series: Series, xs: np.ndarray, bad: np.ndarray, name: str, where: dict
) -> None:
    """× markers where a value was NaN or infinite, at the height of the last finite value."""
    finite = np.flatnonzero(np.isfinite(series.values))
    if finite.size == 0:
        heights = np.zeros(bad.size)
    else:
        before = np.clip(np.searchsorted(finite, bad) - 1, 0, finite.size - 1)
        heights = series.values[finite[before]]
    labels = [
        f"{name} = {v} at step {int(s)}"
        for v, s in zip(series.values[bad], series.steps[bad], strict=True)
    ]
    figure.add_trace(
        go.Scatter(
            x=xs[bad],
            y=heights,
            mode="markers",
            name=f"{name} not finite",
            legendgroup=name,
            marker={"symbol": "x", "size": 10, "color": "#d62728"},
            hovertext=labels,
            hoverinfo="text",
        ),
        **where,
    )


def epoch_boundaries(series: Series) -> list[tuple[int, float]]:
    """(epoch, step) where each whole epoch ends inside the run, the step interpolated."""
    if series.epochs is None:
        return []
    known = np.isfinite(series.epochs)
    epochs, steps = series.epochs[known], series.steps[known].astype(np.float64)
    if epochs.size < 2 or np.any(np.diff(epochs) < 0):
        return []
    whole = range(max(1, math.ceil(epochs[0])), math.ceil(epochs[-1] - 1e-9))
    return [(epoch, float(np.interp(epoch, epochs, steps))) for epoch in whole]


def _mark_epochs(figure: go.Figure, run: Run, axis: _Axis, notes: list[str], several: bool) -> None:
    main = run.loss
    marks = epoch_boundaries(main) if main is not None else []
    if not marks:
        return
    every = max(1, math.ceil(len(marks) / 30))  # 131 epochs would hide the curve behind lines
    if axis.name == "epoch":
        positions = [float(epoch) for epoch, _ in marks]
    else:
        positions = np.interp([step for _, step in marks], main.steps, axis.of(main)).tolist()
    shown = [(epoch, x) for (epoch, _), x in zip(marks, positions, strict=True)][every - 1 :: every]
    line = {"dash": "dot", "width": 1, "color": "#999999"}
    # One layout update for all lines: add_vline per line re-validates the layout each time.
    figure.update_layout(
        shapes=[
            {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1}
            | {"line": line}
            for _, x in shown
        ],
        annotations=[
            {"x": x, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom"}
            | {"text": f"epoch {epoch}", "showarrow": False, "font": {"size": 9, "color": "#777"}}
            for epoch, x in shown
        ],
    )
    if every > 1:
        notes.append(
            f"One in {every} of the {len(marks)} epoch boundaries is marked, to keep the chart "
            "readable."
        )
    if several:
        notes.append(f"Epoch lines are those of {_label(run)}.")
