from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.diagnose import diagnose, find_spikes, tail_trend
from core.losslog import Run, Series, read_run
from tests.golden import local_cases

LOGS = "data/training-logs"


def _run(path: Path):
    run = read_run(path)
    return run, diagnose(run)


@pytest.mark.parametrize("case", local_cases("training_logs.jsonl"))
def test_diagnosis_agrees_with_sources(shared_dir: Path, case: dict) -> None:
    run, d = _run(shared_dir / LOGS / case["file"])

    for verdict in ("converged", "fluctuating", "overfitting", "eval_min_step"):
        if verdict in case:
            assert getattr(d, verdict) == case[verdict], verdict
    if "spikes" in case:
        assert [s.step for s in d.spikes] == case["spikes"]
    assert set(case.get("spikes_include", [])) <= {s.step for s in d.spikes}
    if "memorising_after_epoch" in case:
        assert d.memorising_after_epoch == case["memorising_after_epoch"]
    if "zero_steps" in case:
        assert len(d.zero_steps) == case["zero_steps"]
    for text in case.get("advice", []):
        assert any(text in a for a in d.advice), d.advice
    for text in case.get("findings", []):
        assert any(text in f for f in d.findings), d.findings
    assert not d.diverging
    assert d.non_finite_steps == []


def test_whisper_eval_loss_rises_after_step_1000(shared_dir: Path) -> None:
    run, d = _run(
        shared_dir / LOGS / "hf_trainer_state__whisper_ja_38ep_train_eval_divergence__P4P4N1CK.json"
    )

    (minimum,) = d.eval_minima
    assert (minimum.step, minimum.first, minimum.evals_after) == (1000, True, 4)
    assert minimum.epoch == pytest.approx(7.63, abs=0.01)
    after = run.series["eval_loss"].values[run.series["eval_loss"].steps > 1000]
    assert np.all(np.diff(after) > 0) and after[0] > minimum.value
    assert minimum.rise == pytest.approx(0.42 / 0.321 - 1, abs=0.01)


def test_each_prefixed_eval_set_bottoms_out_at_401_or_802(shared_dir: Path) -> None:
    _, d = _run(
        shared_dir
        / LOGS
        / "hf_trainer_state__30ep_six_eval_sets_prefixed_keys__trainer_state_viz.json"
    )

    by_set = {m.series: m for m in d.eval_minima}
    assert sorted(by_set) == [f"eval_g{i}_loss" for i in range(6)]
    assert {m.step for m in by_set.values()} <= {401, 802}
    assert by_set["eval_g5_loss"].step == 802
    assert all(m.overfitting for m in by_set.values())
    assert by_set["eval_g0_loss"].value == pytest.approx(1.1138, abs=1e-4)


def test_tinyllama_converges_cleanly(shared_dir: Path) -> None:
    _, d = _run(shared_dir / LOGS / "hf_trainer_state__tinyllama_sft_2ep_with_eval__Dheena731.json")

    # Converged, though still falling slowly: under 5% of the loss over the last quarter.
    assert d.trend.kind == "falling slowly"
    assert -0.05 < d.trend.change < -0.01
    assert d.converged and not d.overfitting and not d.fluctuating
    assert d.spikes == [] and d.memorising_after_epoch is None


def test_geollm_extreme_epochs_and_learning_rate(shared_dir: Path) -> None:
    run, d = _run(
        shared_dir / LOGS / "hf_trainer_state__chatglm6b_ptuning_lr2e-2_131ep_memorize__GeoLLM.json"
    )

    assert run.hyperparameters["peak_learning_rate"] == pytest.approx(0.02, rel=0.01)
    assert run.hyperparameters["epochs_done"] > 130
    stop = next(a for a in d.advice if a.startswith("Stop at epoch"))
    epoch = float(stop.split()[3])
    assert 1 < epoch < 30  # far earlier than the 131 it ran


def test_openai_zeros_are_suspicious_and_spikes_recover(shared_dir: Path) -> None:
    _, d = _run(
        shared_dir
        / LOGS
        / "openai_ft_results__gpt35_turbo_function_calling_3ep_no_validation__openai_cookbook.csv"
    )

    assert d.zero_steps[0] == 41
    by_step = {s.step: s for s in d.spikes}
    assert by_step[50].value == pytest.approx(3.92872)
    assert all(s.recovered for s in d.spikes)
    assert max(d.spikes, key=lambda s: s.size).step == 50


def test_non_finite_values_are_named_per_series(shared_dir: Path) -> None:
    _, d = _run(shared_dir / "cases/training-logs-bad/nan_inf_trainer_state.json")

    assert d.non_finite == {"train_loss": [61, 62], "grad_norm": [63]}
    assert any("train_loss at steps 61, 62; grad_norm at step 63" in a for a in d.advice)


def _synthetic(values: np.ndarray, eval_loss: np.ndarray | None = None) -> Run:
    steps = np.arange(1, len(values) + 1)
    series = {"train_loss": Series("train_loss", steps, values)}
    if eval_loss is not None:
        eval_steps = np.linspace(1, len(values), len(eval_loss)).astype(np.int64)
        series["eval_loss"] = Series("eval_loss", eval_steps, eval_loss)
    return Run("csv", series, {}, [], "synthetic.csv")


def test_divergence_is_a_rising_tail() -> None:
    steps = np.arange(1000)
    values = np.concatenate([2.0 * np.exp(-steps[:700] / 150), np.linspace(0.2, 1.5, 300)])

    d = diagnose(_synthetic(values))
    assert d.diverging and not d.converged
    assert d.trend.kind == "rising"
    assert any("rises at the end" in a for a in d.advice)


def test_a_loss_that_ends_in_nan_diverged() -> None:
    values = np.exp(-np.arange(200) / 50.0) + 0.1
    values[-3:] = np.nan

    d = diagnose(_synthetic(values))
    assert d.diverging
    assert d.non_finite_steps == [198, 199, 200]


def test_spike_that_does_not_recover_asks_for_a_lower_learning_rate() -> None:
    rng = np.random.default_rng(7)
    values = 1.0 + 0.01 * rng.standard_normal(2000)
    values[800] = 3.0  # recovers at once
    values[1500:] += 1.5  # jumps and stays up

    spikes = find_spikes(np.arange(1, 2001), values)
    assert [(s.step, s.recovered) for s in spikes][:2] == [(801, True), (1501, False)]
    d = diagnose(_synthetic(values))
    assert any("did not come back" in a and "1501" in a for a in d.advice)


def test_fluctuation_is_noise_that_does_not_shrink() -> None:
    rng = np.random.default_rng(3)
    steps = np.arange(3000)
    trend = 0.5 + 1.5 * np.exp(-steps / 600)
    noisy = trend * (1 + 0.25 * rng.standard_normal(3000))
    settling = trend * (1 + 0.25 * np.exp(-steps / 300) * rng.standard_normal(3000))

    assert diagnose(_synthetic(noisy)).fluctuating
    assert not diagnose(_synthetic(settling)).fluctuating
    assert not diagnose(_synthetic(trend)).fluctuating


def test_overfitting_needs_train_loss_falling_while_eval_rises() -> None:
    train = 2.0 * np.exp(-np.arange(1000) / 200) + 0.1
    eval_loss = np.array([1.5, 1.2, 1.0, 0.95, 1.0, 1.1, 1.2])

    d = diagnose(_synthetic(train, eval_loss))
    assert d.overfitting and d.eval_min_step == 500
    flat_train = np.full(1000, 1.0)
    assert not diagnose(_synthetic(flat_train, eval_loss)).overfitting


def test_tail_trend_is_relative_to_the_level() -> None:
    steps = np.arange(400)
    big = tail_trend(steps, 2.0 - steps * 5e-4)
    tiny = tail_trend(steps, 0.002 - steps * 5e-7)
    assert big.kind == tiny.kind == "falling slowly"
    assert big.change == pytest.approx(tiny.change, rel=0.05)
