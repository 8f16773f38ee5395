"""Whether a training run converged, and what to do about it if not.

``diagnose(run)`` reads the curves of a ``Run`` and returns a ``Diagnosis``:
verdicts (converged, still falling, fluctuating, spikes, divergence and
non-finite values, overfitting per eval set, memorising repeated epochs, a
loss of exactly zero), each with the steps and values behind it, and advice
phrased in those terms.

The thresholds are relative or robust so that one rule fits a loss of 2.0 and
one of 0.002: changes are measured against the loss level over a tail window,
noise against a running median, spikes in robust standard deviations
(1.4826 x MAD) of the points before them. They were checked against the
real logs described in shared/data/training-logs/SOURCES.md.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections import Counter
from typing import Literal

import numpy as np
from scipy.stats import theilslopes

from core.losslog import Run, Series

logger = logging.getLogger(__name__)

TAIL_FRACTION = 0.25  # the tail window: the last quarter of the logged points
FLAT = 0.01  # a tail that moves less than 1% of its level is flat
SLOW = 0.05  # under 5% per tail window counts as converged but still falling slowly
NOISE_LEVEL = 0.10  # noise sigma of 10% of the loss level or more is fluctuation
SPIKE_SIGMAS = 5.0
SPIKE_SHARE = 0.4  # a spike also climbs back by 40% of the starting loss or more
EVAL_RISE = 0.01  # an eval loss 1% above its minimum, sustained, is a rise
MANY_EPOCHS = 20
HIGH_LR = 1e-3
MAD_TO_SIGMA = 1.4826
MEAN_ABS_TO_SIGMA = 1.2533  # sqrt(pi / 2): mean absolute deviation to sigma for normal noise


@dataclasses.dataclass(frozen=True)
class Trend:
    """The tail's robust (Theil-Sen) slope, as a share of the tail's level."""

    kind: Literal["flat", "falling slowly", "falling", "rising"]
    change: float  # relative change over the tail window; negative means falling
    from_step: int
    to_step: int
    level: float


@dataclasses.dataclass(frozen=True)
class Spike:
    step: int
    value: float
    baseline: float  # median of the points before it
    recovered: bool

    @property
    def size(self) -> float:
        return self.value - self.baseline


@dataclasses.dataclass(frozen=True)
class EvalMinimum:
    series: str
    step: int
    value: float
    epoch: float | None
    last_value: float
    evals_after: int
    overfitting: bool
    first: bool  # the minimum is the first eval, so the best point may lie earlier

    @property
    def rise(self) -> float:
        return (self.last_value - self.value) / abs(self.value) if self.value else math.inf


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    converged: bool
    trend: Trend | None
    fluctuating: bool
    noise: float  # noise sigma in the tail as a share of the loss level
    spikes: list[Spike]
    non_finite: dict[str, list[int]]
    diverging: bool
    overfitting: bool
    eval_minima: list[EvalMinimum]
    eval_min_step: int | None
    zero_steps: list[int]
    memorising_after_epoch: int | None
    findings: list[str]
    advice: list[str]

    @property
    def non_finite_steps(self) -> list[int]:
        return sorted({s for steps in self.non_finite.values() for s in steps})


def diagnose(run: Run) -> Diagnosis:
    """Verdicts and advice for one run; a run without a loss gets an empty diagnosis."""
    loss = run.loss
    non_finite = {n: s.non_finite_steps() for n, s in run.series.items() if not s.finite.all()}
    if loss is None or not loss.finite.any():
        return Diagnosis(
            False, None, False, 0.0, [], non_finite, False, False, [], None, [], None, [], []
        )

    steps, values = loss.steps[loss.finite], loss.values[loss.finite]
    trend = tail_trend(steps, values)
    noise, fluctuating = _fluctuation(values)
    spikes = find_spikes(steps, values)
    diverging = trend.kind == "rising" or not np.isfinite(loss.values[-1])
    minima = [_eval_minimum(s, loss) for s in run.eval_losses if len(s) >= 2]
    minima = [m for m in minima if m is not None]
    zero_steps = [int(s) for s in steps[values == 0.0]]
    memorising = _memorising_after(loss)

    diagnosis = Diagnosis(
        converged=trend.kind in ("flat", "falling slowly"),
        trend=trend,
        fluctuating=fluctuating,
        noise=noise,
        spikes=spikes,
        non_finite=non_finite,
        diverging=bool(diverging),
        overfitting=any(m.overfitting for m in minima),
        eval_minima=minima,
        eval_min_step=_main_minimum_step(minima),
        zero_steps=zero_steps,
        memorising_after_epoch=memorising,
        findings=[],
        advice=[],
    )
    _explain(diagnosis, run, loss)
    logger.debug("Diagnosis of %s: %s", run.source, diagnosis.findings)
    return diagnosis


def tail_trend(steps: np.ndarray, values: np.ndarray) -> Trend:
    """How much the loss still moves over the tail window, relative to its level."""
    size = max(5, math.ceil(len(values) * TAIL_FRACTION))
    tail_steps, tail_values = steps[-size:], values[-size:]
    level = float(np.median(tail_values))
    if len(tail_values) < 2 or np.ptp(tail_steps) == 0:
        return Trend("flat", 0.0, int(steps[0]), int(steps[-1]), level)
    slope = theilslopes(tail_values, tail_steps.astype(np.float64))[0]
    moved = slope * float(tail_steps[-1] - tail_steps[0])
    scale = max(abs(level), float(np.mean(np.abs(tail_values))))
    change = moved / scale if scale > 0 else 0.0
    if abs(change) < FLAT:
        kind = "flat"
    elif change < 0:
        kind = "falling slowly" if -change < SLOW else "falling"
    else:
        kind = "flat" if change < SLOW else "rising"
    return Trend(kind, float(change), int(tail_steps[0]), int(tail_steps[-1]), level)


def _window(n: int) -> int:
    """Points in a running window: a twentieth of the run, odd, at least five."""
    return max(5, n // 20) | 1


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median; near the ends the window shrinks to what exists."""
    half = window // 2
    padded = np.pad(values.astype(np.float64), half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.nanmedian(windows, axis=1)


def _resolution(values: np.ndarray) -> float:
    """The logging precision: the smallest gap between distinct logged values."""
    distinct = np.unique(values)
    return float(np.min(np.diff(distinct))) if len(distinct) > 1 else 0.0


def _fluctuation(values: np.ndarray) -> tuple[float, bool]:
    """Noise sigma around the running median in the last third, relative to the level.

    Fluctuating: that noise is at least NOISE_LEVEL of the level and has not
    shrunk to under half of what it was in the first third. A level within a
    few units of the logging precision is rounding, not noise.
    """
    n = len(values)
    if n < 9:
        return 0.0, False
    deviation = np.abs(values - running_median(values, _window(n)))
    third = n // 3

    def relative(part: slice) -> float:
        level = float(np.mean(np.abs(values[part])))
        return MEAN_ABS_TO_SIGMA * float(np.mean(deviation[part])) / level if level else 0.0

    head, tail = relative(slice(0, third)), relative(slice(n - third, n))
    tail_level = float(np.mean(np.abs(values[n - third :])))
    precise = tail_level >= 20 * _resolution(values)
    return tail, bool(precise and tail >= NOISE_LEVEL and tail >= 0.5 * head)


def find_spikes(steps: np.ndarray, values: np.ndarray) -> list[Spike]:
    """Points far above the median of the points before them.

    A spike climbs more than SPIKE_SIGMAS robust sigmas above the running
    median of the previous window and by at least SPIKE_SHARE of the run's
    starting loss, so per-step noise and wobbles at a tiny loss do not count.
    It recovered when the next window's median is back within that band.
    """
    n = len(values)
    window = max(5, min(50, n // 20))
    if n <= window + 1:
        return []
    start = float(np.median(values[: max(3, n // 50)]))
    before = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
    baseline = np.median(before, axis=1)
    mad = np.median(np.abs(before - baseline[:, None]), axis=1)
    sigma = np.maximum(MAD_TO_SIGMA * mad, 0.01 * abs(start))
    candidate = values[window:]
    jump = candidate - baseline
    hits = np.flatnonzero((jump > SPIKE_SIGMAS * sigma) & (jump >= SPIKE_SHARE * abs(start)))

    spikes = []
    for hit in hits:
        i = hit + window
        after = values[i + 1 : i + 1 + window]
        band = baseline[hit] + SPIKE_SIGMAS * sigma[hit]
        recovered = bool(len(after) == 0 or float(np.median(after)) <= band)
        spikes.append(Spike(int(steps[i]), float(values[i]), float(baseline[hit]), recovered))
    return spikes


def _epoch_at(loss: Series, step: int) -> float | None:
    if loss.epochs is None:
        return None
    known = np.isfinite(loss.epochs)
    return float(np.interp(step, loss.steps[known], loss.epochs[known]))


def _eval_minimum(series: Series, loss: Series) -> EvalMinimum | None:
    """The eval minimum, and whether eval rose after it while train loss kept falling."""
    finite = series.finite
    steps, values = series.steps[finite], series.values[finite]
    if len(values) < 2:
        return None
    best = int(np.argmin(values))
    after = len(values) - 1 - best
    rose = after >= 2 and values[-1] >= values[best] * (1 + EVAL_RISE)
    train_falling = _train_fell_after(loss, int(steps[best]))
    epoch = series.epochs[finite][best] if series.epochs is not None else None
    if epoch is None or not np.isfinite(epoch):
        epoch = _epoch_at(loss, int(steps[best]))
    return EvalMinimum(
        series=series.name,
        step=int(steps[best]),
        value=float(values[best]),
        epoch=float(epoch) if epoch is not None else None,
        last_value=float(values[-1]),
        evals_after=after,
        overfitting=bool(rose and train_falling),
        first=best == 0,
    )


def _train_fell_after(loss: Series, step: int) -> bool:
    """True when the train loss after `step` sits below its level around `step`."""
    finite = loss.finite
    steps, values = loss.steps[finite], loss.values[finite]
    later = values[steps > step]
    if len(later) == 0:
        return False
    span = max(1, len(values) // 20)
    at = int(np.searchsorted(steps, step))
    around = values[max(0, at - span) : at + span + 1]
    return float(np.median(later)) < float(np.median(around))


def _main_minimum_step(minima: list[EvalMinimum]) -> int | None:
    """eval_loss's minimum, else the step where most eval sets bottom out (earliest on a tie)."""
    if not minima:
        return None
    for m in minima:
        if m.series == "eval_loss":
            return m.step
    counts = Counter(m.step for m in minima)
    return min(counts, key=lambda s: (-counts[s], s))


def _memorising_after(loss: Series) -> int | None:
    """The epoch after which the train loss first steps down at a boundary: memorisation.

    At each epoch boundary compare the median loss just before and just after
    it (a tenth of an epoch each) with the drift over the tenth before that.
    A drop more than three times that drift and over 5% of the level means
    the model does better on examples because it has seen them.
    """
    if loss.epochs is None:
        return None
    finite = loss.finite & np.isfinite(loss.epochs)
    values, epochs = loss.values[finite], loss.epochs[finite]
    if len(values) < 2 or epochs[-1] < 2:
        return None
    per_epoch = len(values) / epochs[-1]
    if per_epoch < 30:
        return None
    block = max(3, int(per_epoch * 0.1))
    for boundary in range(1, int(math.floor(epochs[-1] - 1e-9)) + 1):
        i = int(np.searchsorted(epochs, boundary, side="right"))
        if i - 2 * block < 0 or i + block > len(values):
            continue
        earlier = np.median(values[i - 2 * block : i - block])
        before = np.median(values[i - block : i])
        after = np.median(values[i : i + block])
        drop, drift = before - after, max(earlier - before, 0.0)
        if drop > 3 * drift and drop > 0.05 * abs(before):
            return boundary
    return None


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _epoch_text(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return f"{round(epoch):d}" if abs(epoch - round(epoch)) < 0.02 else f"{epoch:.1f}"


def _steps_text(steps: list[int], most: int = 8) -> str:
    shown = ", ".join(str(s) for s in steps[:most])
    return shown + (f" and {len(steps) - most} more" if len(steps) > most else "")


def _explain(d: Diagnosis, run: Run, loss: Series) -> None:
    """Findings (what the curves show, with numbers) and advice, into the diagnosis's lists."""
    peak_lr = run.hyperparameters.get("peak_learning_rate")
    _explain_trend(d)
    _explain_health(d, loss, peak_lr)
    stop = _explain_evals(d)
    _explain_metrics(d, run)
    stop = _explain_epochs(d, loss, run.hyperparameters.get("epochs_done"), stop) or stop
    if peak_lr and peak_lr >= HIGH_LR:
        d.findings.append(
            f"The peak learning rate {_fmt(peak_lr)} is far above the usual 1e-5 to 5e-4 of full "
            "or LoRA fine-tuning; only prompt or prefix tuning is run that high."
        )
    _explain_progress(d, stop)


def _explain_trend(d: Diagnosis) -> None:
    trend = d.trend
    assert trend is not None
    span = f"steps {trend.from_step}–{trend.to_step}"
    if trend.kind == "falling":
        d.findings.append(f"The loss is still falling: {-trend.change:.0%} over {span}.")
    elif trend.kind == "falling slowly":
        d.findings.append(
            f"The loss has flattened and is still falling slowly: {-trend.change:.1%} over {span}."
        )
    elif trend.kind == "flat":
        d.findings.append(f"The loss is flat at about {_fmt(trend.level)} over {span}.")
    else:
        d.findings.append(f"The loss rises at the end: {trend.change:+.0%} over {span}.")


def _explain_health(d: Diagnosis, loss: Series, peak_lr: float | None) -> None:
    """Non-finite values, divergence, fluctuation, spikes and exact zeros."""
    find, advise = d.findings.append, d.advice.append
    trend = d.trend
    assert trend is not None
    for name, steps in d.non_finite.items():
        find(f"{name} is not finite at step{'s' if len(steps) > 1 else ''} {_steps_text(steps)}.")
    if d.non_finite:
        where = "; ".join(
            f"{name} at step{'s' if len(steps) > 1 else ''} {_steps_text(steps)}"
            for name, steps in d.non_finite.items()
        )
        advise(
            f"Values are not finite ({where}): lower the learning rate, or train in bf16 rather "
            "than fp16, whose range overflows."
        )
    if d.diverging:
        advise(
            f"The loss rises at the end ({trend.change:+.0%} over steps {trend.from_step}–"
            f"{trend.to_step}): lower the learning rate and resume from a checkpoint before "
            f"step {trend.from_step}."
        )
    if d.fluctuating:
        find(
            f"The loss scatters by about {d.noise:.0%} of its level around its running median "
            "at the end, and the scatter has not shrunk."
        )
        lr = f" (peak {_fmt(peak_lr)})" if peak_lr else ""
        advise(
            f"Lower the learning rate{lr} or raise the effective batch size: the loss fluctuates."
        )
    if d.spikes:
        largest = max(d.spikes, key=lambda s: s.size)
        find(
            f"{len(d.spikes)} spike{'s' if len(d.spikes) > 1 else ''} at steps "
            f"{_steps_text([s.step for s in d.spikes])}; the largest at step {largest.step} "
            f"({_fmt(largest.baseline)} to {_fmt(largest.value)})."
        )
        lasting = [s.step for s in d.spikes if not s.recovered]
        if lasting:
            advise(
                f"The loss jumped at step {_steps_text(lasting)} and did not come back: lower the "
                "learning rate or clip gradients (max_grad_norm)."
            )
    if d.zero_steps:
        advise(
            f"The loss is exactly 0 at {len(d.zero_steps)} of {len(loss)} steps (first at step "
            f"{d.zero_steps[0]}), which is suspicious: check that the labels are not masked "
            "away, that the logged loss is not rounded to zero, and whether the model has "
            "memorised the examples."
        )


def _explain_evals(d: Diagnosis) -> bool:
    """Each eval set's minimum; returns True when it advised where to stop."""
    for m in d.eval_minima:
        at = f"step {m.step}" + (f" (epoch {_epoch_text(m.epoch)})" if m.epoch is not None else "")
        if m.overfitting:
            d.findings.append(
                f"{m.series} is lowest at {at}, {_fmt(m.value)}, and rises to "
                f"{_fmt(m.last_value)} by the end ({m.rise:+.1%}) while the train loss falls: "
                "overfitting."
            )
        elif m.evals_after == 0:
            d.findings.append(
                f"{m.series} is still falling at the last eval, {at}: {_fmt(m.value)}."
            )
        else:
            d.findings.append(
                f"{m.series} is lowest at {at}, {_fmt(m.value)}, with no sustained rise after."
            )
    overfit = [m for m in d.eval_minima if m.overfitting]
    if not overfit:
        return False
    main = next((m for m in overfit if m.step == d.eval_min_step), overfit[0])
    stop = f"; stop at epoch {_epoch_text(main.epoch)}" if main.epoch is not None else ""
    d.advice.append(
        f"The eval minimum is at step {main.step}: keep the checkpoint from there{stop}."
    )
    if main.first:
        d.advice.append(
            f"Evaluate more often: the first eval (step {main.step}) is already the lowest, "
            "so the best point may lie earlier."
        )
    return True


# Eval metrics where lower is better; any other (accuracy, f1, rouge, bleu…) is higher.
_LOWER_IS_BETTER = re.compile(r"(wer|cer|error|perplexity|ppl|mae|mse|rmse)$")
_NOT_METRICS = re.compile(r"(gen_len|_len|epoch|step)$")


def _explain_metrics(d: Diagnosis, run: Run) -> None:
    """When eval loss says stop early but a task metric (WER, accuracy) kept improving,
    say so: which checkpoint to keep depends on which of the two matters."""
    minima = {m.series: m for m in d.eval_minima if m.overfitting}
    later: list[tuple[str, float, int, float, int]] = []
    for name, series in run.series.items():
        if not name.startswith("eval_") or series.is_loss or _NOT_METRICS.search(name):
            continue
        # the loss of the metric's own eval set: eval_g1_accuracy goes with eval_g1_loss
        owners = [n for n in minima if name.startswith(n[: -len("loss")])]
        if not owners:
            continue
        minimum = minima[max(owners, key=len)]
        finite = series.finite
        steps, values = series.steps[finite], series.values[finite]
        upto = np.flatnonzero(steps <= minimum.step)
        if len(values) < 3 or len(upto) == 0:
            continue
        best = int(np.argmin(values) if _LOWER_IS_BETTER.search(name) else np.argmax(values))
        if int(steps[best]) > minimum.step:
            at = upto[-1]
            later.append(
                (name, float(values[at]), int(steps[at]), float(values[best]), int(steps[best]))
            )
    if not later:
        return
    d.findings.append(
        "Task metrics kept improving after the eval-loss minimum: "
        + "; ".join(
            f"{name} {_fmt(then)} at step {step_then}, best {_fmt(best)} at step {step_best}"
            for name, then, step_then, best, step_best in later
        )
        + "."
    )
    where = ", ".join(f"{name} at step {step_best}" for name, _, _, _, step_best in later[:4])
    d.advice.append(
        "If the task metric matters more than the eval loss (which measures confidence, "
        f"not answers), keep the checkpoint where the metric is best: {where}"
        + (f" and {len(later) - 4} more" if len(later) > 4 else "")
        + "."
    )


def _explain_epochs(
    d: Diagnosis, loss: Series, epochs_done: float | None, stop_advised: bool
) -> bool:
    """Memorised epochs, or many epochs without an eval; True when it advised a stop."""
    if d.memorising_after_epoch is not None:
        k = d.memorising_after_epoch
        d.findings.append(
            f"The train loss steps down at the start of epoch {k + 1} and after: the model does "
            "better on examples it has already seen (memorising)."
        )
        if stop_advised:
            return False
        d.advice.append(
            f"Stop at epoch {k}, or hold out an eval set to choose the epoch: later epochs "
            "memorise the training data."
        )
        return True
    if not epochs_done or epochs_done < MANY_EPOCHS or d.eval_minima:
        return False
    d.findings.append(f"{epochs_done:.0f} epochs over the same data, with no eval set.")
    epoch, step = _most_progress(loss)
    if epoch is None:
        return False
    d.advice.append(
        f"Stop at epoch {_epoch_text(epoch)} (step {step}), where 95% of the loss decrease "
        "was done; the remaining epochs memorise the data. Hold out an eval set to check."
    )
    return True


def _explain_progress(d: Diagnosis, stop_advised: bool) -> None:
    """Where the train loss is heading, and the advice that follows when nothing else did."""
    trend = d.trend
    assert trend is not None
    if stop_advised or d.zero_steps:
        return
    if trend.kind == "falling":
        d.advice.append("Train for longer: the loss has not levelled off yet.")
    elif not d.advice and d.eval_minima:
        last = max(d.eval_minima, key=lambda m: m.step)
        d.advice.append(
            "Nothing to fix: the train loss levels off and the eval loss does not rise; the "
            f"checkpoint at step {last.step} is the best one evaluated."
        )
    elif not d.advice and trend.kind == "falling slowly":
        d.advice.append("More steps would gain little: the loss has nearly levelled off.")


def _most_progress(loss: Series) -> tuple[float | None, int]:
    """Epoch and step by which the running median made 95% of its total decrease."""
    finite = loss.finite
    steps, values = loss.steps[finite], loss.values[finite]
    trend = running_median(values, _window(len(values)))
    start, end = trend[0], float(np.median(values[-max(3, len(values) // 20) :]))
    reached = int(np.argmax(trend <= end + 0.05 * (start - end)))
    return _epoch_at(loss, int(steps[reached])), int(steps[reached])
