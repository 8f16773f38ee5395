from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.summary import Writer
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from core.errors import LogFormatError
from core.losslog import (
    CSV,
    HF_TRAINER_STATE,
    JSONL,
    TENSORBOARD,
    read_run,
    series_name,
    table_columns,
)
from tests.golden import local_cases

LOGS = "data/training-logs"
BAD = "cases/training-logs-bad"


@pytest.mark.parametrize("case", local_cases("training_logs.jsonl"))
def test_real_log_parses(shared_dir: Path, case: dict) -> None:
    run = read_run(shared_dir / LOGS / case["file"])

    assert run.format == case["format"]
    assert run.points == case["points"]
    assert set(case["series"]) <= set(run.series)
    assert not set(case.get("no_series", [])) & set(run.series)
    for key, value in case["hyperparameters"].items():
        assert run.hyperparameters[key] == pytest.approx(value), key
    for text in case.get("warnings", []):
        assert any(text in w for w in run.warnings), run.warnings
    for series in run.series.values():
        assert np.all(np.diff(series.steps) > 0), series.name


@pytest.mark.parametrize("case", local_cases("training_logs_bad.jsonl"))
def test_bad_log_gets_its_expected_outcome(shared_dir: Path, case: dict) -> None:
    path = shared_dir / BAD / case["file"]
    if "error" in case:
        with pytest.raises(LogFormatError) as caught:
            read_run(path)
        for text in case["error"]:
            assert text in caught.value.message
        assert caught.value.hint
        assert caught.value.path == str(path)
        return

    run = read_run(path)
    assert run.format == case["format"]
    assert run.points == case["points"]
    for name, steps in case.get("non_finite", {}).items():
        assert run.series[name].non_finite_steps() == steps
    for text in case.get("warnings", []):
        assert any(text in w for w in run.warnings), run.warnings
    for name, values in case.get("values", {}).items():
        series = run.series[name]
        for step, value in values.items():
            assert series.values[series.steps == int(step)] == pytest.approx([value])
    for name, steps in case.get("absent_steps", {}).items():
        assert not set(steps) & set(run.series[name].steps.tolist())
    assert set(case.get("series", [])) <= set(run.series)
    assert not set(case.get("no_series", [])) & set(run.series)


def test_bytes_read_like_the_file_and_format_comes_from_content(shared_dir: Path) -> None:
    path = (
        shared_dir / LOGS / "hf_trainer_state__cpt_10ep_eval_min_then_rise_predict_keys__Jaong.json"
    )
    from_path = read_run(path)
    from_bytes = read_run(path.read_bytes(), name="upload.txt")

    assert from_bytes.format == HF_TRAINER_STATE
    assert from_bytes.source == "upload.txt"
    assert list(from_bytes.series) == list(from_path.series)
    for name, series in from_path.series.items():
        np.testing.assert_array_equal(from_bytes.series[name].values, series.values)
    csv_named_json = read_run(b"step,loss\n1,2.0\n2,1.5\n", name="results.json")
    assert csv_named_json.format == CSV


def test_hf_summary_entry_and_predict_entries(shared_dir: Path) -> None:
    run = read_run(
        shared_dir / LOGS / "hf_trainer_state__cpt_10ep_eval_min_then_rise_predict_keys__Jaong.json"
    )

    # The closing entry's train_loss is the run's mean, not an eleventh point.
    assert run.summary["train_loss"] == pytest.approx(0.44794, abs=1e-5)
    assert "train_runtime" in run.summary
    assert run.series["train_loss"].steps.max() == 5000
    # predict_* entries have no step; each sits at the step of the eval it follows.
    np.testing.assert_array_equal(run.series["predict_loss"].steps, run.series["eval_loss"].steps)
    assert any("predict_*" in w for w in run.warnings)


def test_llamafactory_times_and_both_key_sets(shared_dir: Path) -> None:
    old = read_run(
        shared_dir / LOGS / "llamafactory_trainer_log__mistral7b_lora_4ep_no_eval__syGOAT.jsonl"
    )
    new = read_run(
        shared_dir
        / LOGS
        / "llamafactory_trainer_log__qwen2.5_7b_lora_3ep_with_eval__xueh88401.jsonl"
    )

    loss = old.series["train_loss"]
    assert loss.times[:2].tolist() == [24.0, 47.0]  # "0:00:24", "0:00:47"
    assert loss.times[-1] == 5 * 3600 + 39 * 60 + 46  # "5:39:46"
    assert "learning_rate" in old.series and "learning_rate" in new.series  # learning_rate vs lr
    assert new.series["eval_loss"].values.min() == pytest.approx(1.5518, abs=1e-4)


def test_openai_csv_with_validation_cells() -> None:
    data = (
        b"step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
        b"1,2.0,0.5,,\n2,1.5,0.6,1.8,0.55\n3,1.2,0.7,,\n4,1.0,0.8,1.3,0.65\n"
    )
    run = read_run(data, name="result.csv")

    assert run.format == "openai_csv"
    assert run.series["eval_loss"].steps.tolist() == [2, 4]
    assert run.series["eval_accuracy"].values.tolist() == [0.55, 0.65]
    assert not any("No validation" in w for w in run.warnings)


def test_nan_and_infinity_tokens(shared_dir: Path) -> None:
    run = read_run(shared_dir / BAD / "nan_inf_trainer_state.json")
    loss = run.series["train_loss"]

    values = dict(zip(loss.steps.tolist(), loss.values.tolist(), strict=True))
    assert math.isnan(values[61]) and values[62] == math.inf
    assert math.isnan(run.series["grad_norm"].values[0])


def test_column_mapping_for_unusual_names() -> None:
    data = (
        b"it,objective,val_objective,lrate\n"
        b"1,2.0,,1e-4\n2,1.5,1.7,1e-4\n3,1.2,,1e-4\n4,1.0,1.4,1e-4\n"
    )

    choice = table_columns(data, name="odd.csv")
    assert choice.columns == ["it", "objective", "val_objective", "lrate"]
    assert choice.step is None and choice.losses == []
    with pytest.raises(LogFormatError, match="it, objective, val_objective, lrate"):
        read_run(data, name="odd.csv")

    run = read_run(
        data,
        name="odd.csv",
        columns={"step": "it", "loss": "objective", "eval_loss": "val_objective"},
    )
    assert run.series["train_loss"].values.tolist() == [2.0, 1.5, 1.2, 1.0]
    assert run.series["eval_loss"].steps.tolist() == [2, 4]
    assert run.points == 4

    with pytest.raises(LogFormatError, match="'iteration'"):
        read_run(data, name="odd.csv", columns={"step": "iteration", "loss": "objective"})


def test_generic_jsonl_with_slash_keys_and_no_step() -> None:
    lines = [{"_step": i, "train/loss": 2.0 - i / 10, "eval/loss": None} for i in range(1, 6)]
    run = read_run("\n".join(json.dumps(r) for r in lines).encode(), name="history.jsonl")
    assert run.format == JSONL
    assert run.series["train_loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert "eval_loss" not in run.series  # null is "not logged"

    rows = read_run(b"loss\n3.0\n2.0\n1.0\n", name="losses.csv")
    assert rows.series["train_loss"].steps.tolist() == [1, 2, 3]
    assert any("row numbers" in w for w in rows.warnings)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("loss", "train_loss"),
        ("eval_loss", "eval_loss"),
        ("eval_g0_loss", "eval_g0_loss"),
        ("valid_loss", "eval_loss"),
        ("lr", "learning_rate"),
        ("train/grad_norm", "grad_norm"),
        ("mean_token_accuracy", "train_accuracy"),
        ("eval_mean_token_accuracy", "eval_accuracy"),
        ("eval_runtime", None),
        ("train_samples_per_second", None),
    ],
)
def test_series_names(key: str, name: str | None) -> None:
    assert series_name(key) == name


def _write_text_summary(folder: Path, tag: str, text: str) -> None:
    writer = EventFileWriter(str(folder))
    plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
    tensor = TensorProto(dtype=7, string_val=[text.encode()], tensor_shape=TensorShapeProto())
    value = summary_pb2.Summary.Value(
        tag=tag, metadata=summary_pb2.SummaryMetadata(plugin_data=plugin), tensor=tensor
    )
    writer.add_event(
        event_pb2.Event(wall_time=1e9, step=0, summary=summary_pb2.Summary(value=[value]))
    )
    writer.close()


def test_tensorboard_keeps_every_point(tmp_path: Path) -> None:
    # 20,000 points: twice the 10,000 an EventAccumulator keeps of a scalar by default.
    writer = Writer(str(tmp_path))
    for step in range(1, 20_001):
        writer.add_scalar("train/loss", 3.0 / math.sqrt(step), step, wall_time=1e9 + step)
        if step % 500 == 0:
            writer.add_scalar("eval/loss", 2.0 / math.sqrt(step), step, wall_time=1e9 + step)
        if step % 100 == 0:
            writer.add_scalar("train/epoch", step / 10_000, step, wall_time=1e9 + step)
    writer.close()
    args = {
        "learning_rate": 2e-4,
        "gradient_accumulation_steps": 4,
        "per_device_train_batch_size": 8,
    }
    _write_text_summary(tmp_path, "args/text_summary", json.dumps(args))
    _write_text_summary(
        tmp_path, "model_config/text_summary", '{"_name_or_path": "Qwen/Qwen2.5-7B"}'
    )

    run = read_run(tmp_path)
    loss = run.series["train_loss"]
    assert run.format == TENSORBOARD
    assert len(loss) == 20_000
    assert loss.steps.tolist() == list(range(1, 20_001))
    assert len(run.series["eval_loss"]) == 40
    assert loss.times[0] == 0.0 and loss.times[-1] == 19_999.0
    assert loss.epochs[-1] == pytest.approx(2.0)
    assert "epoch" not in run.series
    assert run.hyperparameters["gradient_accumulation_steps"] == 4
    assert run.hyperparameters["learning_rate"] == 0.0002
    assert run.hyperparameters["batch_size"] == 8
    assert run.hyperparameters["base_model"] == "Qwen/Qwen2.5-7B"

    one_file = max(tmp_path.glob("*tfevents*"), key=lambda p: p.stat().st_size)
    uploaded = read_run(one_file.read_bytes(), name="events.upload")
    assert uploaded.format == TENSORBOARD
    assert uploaded.points == 20_000


def test_tensorboard_simple_values_as_torch_writes_them(tmp_path: Path) -> None:
    writer = EventFileWriter(str(tmp_path))
    for step in range(1, 6):
        value = summary_pb2.Summary.Value(tag="Loss/train", simple_value=2.0 / step)
        writer.add_event(
            event_pb2.Event(
                wall_time=1e9 + step, step=step, summary=summary_pb2.Summary(value=[value])
            )
        )
    writer.close()

    run = read_run(tmp_path)
    assert run.series["train_loss"].values.tolist() == pytest.approx([2.0, 1.0, 2 / 3, 0.5, 0.4])


def test_missing_file_and_empty_tensorboard_folder(tmp_path: Path) -> None:
    with pytest.raises(LogFormatError, match="no file"):
        read_run(tmp_path / "absent.json")
    with pytest.raises(LogFormatError, match="no TensorBoard event files"):
        read_run(tmp_path)
