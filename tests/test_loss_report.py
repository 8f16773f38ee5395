from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.__main__ import main
from core.errors import LogFormatError
from core.loss_report import loss_report
from tests.golden import local_cases

ROOT = Path(__file__).resolve().parent.parent
JAONG = "hf_trainer_state__cpt_10ep_eval_min_then_rise_predict_keys__Jaong.json"
KEYS = {"format", "points", "series", "hyperparameters", "diagnosis", "warnings"}
DIAGNOSIS_KEYS = {
    "converged",
    "fluctuating",
    "overfitting",
    "eval_min_step",
    "spikes",
    "non_finite_steps",
    "advice",
}


@pytest.mark.parametrize("case", local_cases("training_logs.jsonl"))
def test_report_shape_is_exact_and_strict_json(shared_dir: Path, case: dict) -> None:
    report = loss_report(str(shared_dir / "data/training-logs" / case["file"]))

    assert set(report) == KEYS
    assert set(report["diagnosis"]) == DIAGNOSIS_KEYS
    assert report["format"] == case["format"] and report["points"] == case["points"]
    assert report["diagnosis"]["eval_min_step"] == case.get("eval_min_step")
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_report_of_non_finite_values(shared_dir: Path) -> None:
    report = loss_report(str(shared_dir / "cases/training-logs-bad/nan_inf_trainer_state.json"))

    assert report["points"] == 100
    assert report["diagnosis"]["non_finite_steps"] == [61, 62, 63]
    json.dumps(report, allow_nan=False)


def test_report_raises_for_an_unreadable_file(shared_dir: Path) -> None:
    with pytest.raises(LogFormatError, match="empty"):
        loss_report(str(shared_dir / "cases/training-logs-bad/empty.json"))


def test_cli_prints_json(shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_dir / "data/training-logs" / JAONG

    assert main(["loss-report", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["diagnosis"]["eval_min_step"] == 3294

    assert main(["loss-report", str(path)]) == 0
    assert "eval minimum at step 3294" in capsys.readouterr().out


def test_cli_exits_2_on_a_bad_file(shared_dir: Path) -> None:
    path = shared_dir / "cases/training-logs-bad/garbage.json"
    done = subprocess.run(
        [sys.executable, "-m", "core", "loss-report", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 2
    assert "not a training log" in json.loads(done.stdout)["error"]
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("FAILED:")
