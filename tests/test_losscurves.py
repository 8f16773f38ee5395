from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from core.losscurves import (
    accumulation_note,
    clip_range,
    downsample,
    epoch_boundaries,
    log_axis,
    loss_chart,
    schedule_chart,
    smooth,
)
from core.losslog import Run, Series, read_run

BAD = "cases/training-logs-bad"
LOGS = "data/training-logs"


def _tensorboard_loop(values: list[float], weight: float) -> list[float]:
    """TensorBoard's resmoothDataset written out point by point, as the reference."""
    last, count, out = 0.0, 0, []
    constant = all(v == values[0] for v in values)
    for value in values:
        if constant or not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 - weight**count) if weight != 1 else last)
    return out


def test_smoothing_matches_a_hand_computed_debiased_ema() -> None:
    # weight 0.5: 0.5/0.5 = 1; (0.25 + 1)/0.75 = 5/3; NaN passes; (0.625 + 1.5)/0.875 = 17/7
    result = smooth([1.0, 2.0, float("nan"), 3.0], 0.5)
    assert result[0] == pytest.approx(1.0)
    assert result[1] == pytest.approx(5 / 3)
    assert math.isnan(result[2])
    assert result[3] == pytest.approx(17 / 7)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.999, 1.0])
def test_smoothing_matches_tensorboards_algorithm(weight: float) -> None:
    rng = np.random.default_rng(11)
    values = (2.0 * np.exp(-np.arange(500) / 100) + 0.2 * rng.random(500)).tolist()
    values[40], values[41] = math.inf, math.nan

    expected = _tensorboard_loop(values, weight)
    np.testing.assert_allclose(smooth(values, weight), expected, rtol=1e-12, equal_nan=True)


def test_smoothing_leaves_a_constant_series_and_rejects_bad_weights() -> None:
    assert smooth([0.5, 0.5, 0.5], 0.9).tolist() == [0.5, 0.5, 0.5]
    assert smooth([], 0.6).size == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        smooth([1.0, 2.0], 1.5)


@pytest.mark.parametrize("method", ["minmaxlttb", "minmax"])
def test_downsampling_keeps_a_spike_and_the_floor(method: str) -> None:
    rng = np.random.default_rng(5)
    steps = np.arange(1, 200_001)
    values = 1.0 + 0.05 * rng.standard_normal(steps.size)
    values[123_456] = 9.0
    values[150_000] = -1.0
    values[10] = np.nan

    picked = downsample(steps, values, 1000, method=method)
    assert picked.size <= 1000
    assert 123_456 in picked and 150_000 in picked
    assert 10 not in picked
    assert np.all(np.diff(picked) > 0)


def test_downsampling_a_short_series_keeps_everything() -> None:
    values = np.array([1.0, np.nan, 0.5])
    assert downsample(np.arange(3), values, 1000).tolist() == [0, 2]
    with pytest.raises(ValueError, match="unknown downsampling"):
        downsample(np.arange(3000), np.ones(3000), 100, method="every-nth")


def test_log_axis_leaves_out_non_positive_values_with_a_count() -> None:
    view = log_axis(np.array([1.0, 0.0, -2.0, 0.5, np.nan]))
    assert view.keep.tolist() == [True, False, False, True, False]
    assert view.left_out == 2


def test_clipping_picks_a_range_and_leaves_the_data() -> None:
    values = np.concatenate([np.linspace(1.0, 0.5, 990), np.full(10, 50.0)])
    before = values.copy()

    view = clip_range(values, quantile=0.98)
    assert view.high < 2.0 and view.low < 0.5
    assert view.hidden == 10
    np.testing.assert_array_equal(values, before)
    logged = clip_range(values, quantile=0.98, log=True)
    assert logged.low > 0 and logged.for_axis(True)[1] == pytest.approx(math.log10(logged.high))


def test_chart_skips_non_finite_points_visibly(shared_dir: Path) -> None:
    run = read_run(shared_dir / BAD / "nan_inf_trainer_state.json")
    chart = loss_chart(run)

    raw = chart.figure.data[0]
    gaps = {int(x) for x, y in zip(raw.x, raw.y, strict=True) if not np.isfinite(y)}
    assert gaps == {61, 62}
    marks = next(t for t in chart.figure.data if t.name == "train_loss not finite")
    assert list(marks.x) == [61, 62] and all(np.isfinite(marks.y))
    assert (chart.shown, chart.total) == (98, 100)
    assert any("non-finite" in n and "61, 62" in n for n in chart.notes)

    schedule = schedule_chart(run)
    assert any(t.name == "grad_norm not finite" for t in schedule.figure.data)


def test_chart_downsamples_raw_and_smoothed_and_marks_epochs(shared_dir: Path) -> None:
    run = read_run(
        shared_dir / LOGS / "hf_trainer_state__qwen3_8b_lora_9ep_every_step_noisy__Baize.json"
    )

    chart = loss_chart(run, max_points=1500)
    raw, smoothed = chart.figure.data[:2]
    assert len(raw.x) == 1500 and len(smoothed.x) == 1500
    assert raw.opacity == 0.3 and smoothed.opacity is None  # raw faded under the smoothed curve
    assert chart.caption == "Showing 1,500 of 6,687 points."
    lines = [s for s in chart.figure.layout.shapes if s.type == "line"]
    assert len(lines) == 8  # epochs 1..8 end inside a 9-epoch run
    assert lines[0].x0 == pytest.approx(743, abs=1)

    full = loss_chart(run, max_points=None)
    assert len(full.figure.data[0].x) == 6687
    by_epoch = loss_chart(run, x="epoch")
    assert max(by_epoch.figure.data[0].x) == pytest.approx(9.0)


def test_log_chart_counts_zeros_left_out(shared_dir: Path) -> None:
    run = read_run(
        shared_dir
        / LOGS
        / "openai_ft_results__gpt35_turbo_function_calling_3ep_no_validation__openai_cookbook.csv"
    )
    chart = loss_chart(run, log_y=True, clip=True)
    assert chart.figure.layout.yaxis.type == "log"
    assert any("205 values ≤ 0 left out" in n for n in chart.notes)
    assert any("No epoch logged" in n for n in loss_chart(run, x="epoch").notes)


def _run(label: str, accumulation: int | None, scale: float = 1.0) -> Run:
    steps = np.arange(1, 101)
    epochs = steps / 50
    series = {"train_loss": Series("train_loss", steps, scale / steps, epochs)}
    hyper = {} if accumulation is None else {"gradient_accumulation_steps": accumulation}
    return Run("csv", series, hyper, [], label)


def test_overlaid_runs_and_gradient_accumulation_flag() -> None:
    same = [_run("a.csv", 4), _run("b.csv", 4, 2.0)]
    differ = [_run("a.csv", 4), _run("b.csv", 8), _run("c.csv", None)]

    assert accumulation_note(same) is None
    note = accumulation_note(differ)
    assert "a.csv: 4, b.csv: 8" in note and "unknown for c.csv" in note
    chart = loss_chart(differ)
    assert note in chart.notes
    assert {t.name for t in chart.figure.data} >= {"a.csv · train_loss", "b.csv · train_loss"}


def test_epoch_boundaries_on_each_axis(shared_dir: Path) -> None:
    series = _run("a.csv", None).series["train_loss"]
    assert epoch_boundaries(series) == [(1, 50.0)]

    run = read_run(
        shared_dir / LOGS / "llamafactory_trainer_log__mistral7b_lora_4ep_no_eval__syGOAT.jsonl"
    )
    by_time = loss_chart(run, x="time").figure
    assert by_time.layout.xaxis.title.text == "time since start (h)"
    assert max(by_time.data[0].x) == pytest.approx((5 * 3600 + 39 * 60 + 46) / 3600)
    assert [a.text for a in by_time.layout.annotations] == ["epoch 1", "epoch 2", "epoch 3"]
    by_epoch = loss_chart(run, x="epoch").figure
    assert [s.x0 for s in by_epoch.layout.shapes] == [1.0, 2.0, 3.0]
