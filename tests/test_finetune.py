"""OpenAI fine-tuning against the local OpenAI-compatible server: upload, start, follow, import."""

from __future__ import annotations

import base64
import json

import pytest

from core import finetune
from core.diagnose import diagnose
from core.errors import BadInput, LogFormatError, ModelUnavailable
from core.generate_sql import make_client
from core.settings import Settings


def _line(i: int) -> bytes:
    messages = [
        {"role": "system", "content": "schema"},
        {"role": "user", "content": f"Question: q{i}"},
        {"role": "assistant", "content": f"```sql\nSELECT {i}\n```"},
    ]
    return json.dumps({"messages": messages}).encode() + b"\n"


TRAIN = b"".join(_line(i) for i in range(24))
VALIDATION = b"".join(_line(i) for i in range(100, 106))


@pytest.fixture()
def client(model_server):
    settings = Settings.load(
        environ={"OPENAI_BASE_URL": model_server.url, "OPENAI_API_KEY": "sk-test"}, secrets={}
    )
    return make_client(settings)


def test_start_uploads_both_files_and_sends_the_hyperparameters(client, model_server) -> None:
    job = finetune.start_job(
        client, training=TRAIN, validation=VALIDATION, model="gpt-4o-mini-2024-07-18"
    )

    ft = model_server.fine_tuning
    uploads = [r for r in model_server.requests if r["path"].endswith("/v1/files")]
    assert [u["body"]["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    assert ft.contents[job.training_file] == TRAIN
    assert ft.contents[job.validation_file] == VALIDATION
    assert ft.files[job.training_file]["filename"] == "quarry-train.jsonl"
    (create,) = [r for r in model_server.requests if r["path"].endswith("/fine_tuning/jobs")]
    assert create["body"]["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {
                "n_epochs": finetune.DEFAULT_EPOCHS,
                "learning_rate_multiplier": finetune.DEFAULT_LR_MULTIPLIER,
                "batch_size": "auto",
            }
        },
    }
    assert job.status == "validating_files" and not job.finished
    assert job.hyperparameters == {"epochs": 2, "batch_size": 1, "learning_rate_multiplier": 0.1}
    assert [j.id for j in finetune.list_jobs(client)] == [job.id]


def test_an_empty_validation_file_is_left_out(client, model_server) -> None:
    job = finetune.start_job(client, training=TRAIN, validation=b"", epochs=1)

    assert job.validation_file is None
    assert len(model_server.fine_tuning.files) == 1


def test_a_job_is_followed_until_it_succeeds(client, model_server) -> None:
    model_server.fine_tuning.steps_per_poll = 12
    job = finetune.start_job(client, training=TRAIN, validation=VALIDATION, suffix="demo")

    seen = []
    while not job.finished:
        job = finetune.get_job(client, job.id)
        if job.status == "running" and not job.result_files:
            run = finetune.job_run(client, job)
            assert run.format == finetune.OPENAI_EVENTS
            seen.append(run.points)
    run = finetune.job_run(client, job)

    assert seen == sorted(seen) and len(seen) >= 2 and seen[0] < 48  # 24 examples x 2 epochs
    assert job.status == "succeeded" and job.fine_tuned_model.endswith(job.id[-10:])
    assert ":demo:" in job.fine_tuned_model
    assert run.format == "openai_csv" and run.points == 48
    assert {"train_loss", "train_accuracy", "eval_loss", "eval_accuracy"} <= set(run.series)
    assert len(run.series["eval_loss"]) == 48 // 5
    assert run.hyperparameters["base_model"] == finetune.DEFAULT_BASE_MODEL
    assert run.hyperparameters["fine_tuned_model"] == job.fine_tuned_model
    assert run.hyperparameters["epochs"] == 2
    assert diagnose(run).trend is not None


def test_metric_events_come_back_oldest_first_across_pages(client, model_server) -> None:
    model_server.fine_tuning.steps_per_poll = 150
    job = finetune.start_job(client, training=TRAIN * 5, validation=None, epochs=2)
    finetune.get_job(client, job.id)  # validated, running

    events = finetune.metric_events(client, job.id)  # the server trains 150 steps for this call

    steps = [e["step"] for e in events]
    assert steps == list(range(1, 151))  # three pages of 100 events, read in order
    run = finetune.run_from_events(events, job.id)
    assert run.points == 150 and "eval_loss" not in run.series


def test_a_job_with_no_metrics_yet(client) -> None:
    job = finetune.start_job(client, training=TRAIN, validation=None)

    with pytest.raises(LogFormatError, match="no metrics yet"):
        finetune.job_run(client, job)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"step,train_loss\n1,2.0\n", b"step,train_loss\n1,2.0\n"),
        (base64.b64encode(b"step,train_loss\n1,2.0\n"), b"step,train_loss\n1,2.0\n"),
    ],
)
def test_a_result_file_plain_or_base64(data: bytes, expected: bytes) -> None:
    assert finetune.result_csv(data) == expected


def test_a_result_file_that_is_neither() -> None:
    with pytest.raises(LogFormatError, match="neither a metrics CSV"):
        finetune.result_csv(b"<html>gone</html>")


def test_the_service_refusing_a_small_training_file(client) -> None:
    with pytest.raises(BadInput) as caught:
        finetune.start_job(client, training=TRAIN[: len(_line(0)) * 5], validation=None)
    assert "has 5 example(s), but must have at least 10" in caught.value.message
    assert caught.value.hint


def test_an_unknown_job(client) -> None:
    with pytest.raises(BadInput, match="Could not find fine-tuning job ftjob-nope"):
        finetune.get_job(client, "ftjob-nope")
    with pytest.raises(BadInput, match="No job id"):
        finetune.get_job(client, "  ")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"training": b""}, "training file is empty"),
        ({"epochs": 0}, "at least 1"),
        ({"learning_rate_multiplier": 0.0}, "above 0"),
    ],
)
def test_bad_requests_are_caught_before_anything_is_uploaded(
    client, model_server, changes: dict, words: str
) -> None:
    arguments = {"training": TRAIN, "validation": None} | changes
    with pytest.raises(BadInput, match=words):
        finetune.start_job(client, **arguments)
    assert model_server.fine_tuning.files == {}


def test_an_unreachable_server() -> None:
    settings = Settings.load(environ={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, secrets={})
    with pytest.raises(ModelUnavailable, match="could not reach"):
        finetune.list_jobs(make_client(settings))


def test_a_server_without_fine_tuning(model_server) -> None:
    settings = Settings.load(environ={"OPENAI_BASE_URL": model_server.url + "/nothing"}, secrets={})
    with pytest.raises(BadInput) as caught:
        finetune.list_jobs(make_client(settings))
    assert "OPENAI_BASE_URL" in caught.value.hint


def test_openai_metric_names_become_canonical_series() -> None:
    events = [
        {
            "step": step,
            "train_loss": 2.0 / step,
            "train_mean_token_accuracy": 0.5,
            "valid_loss": 2.1 / step,
            "valid_mean_token_accuracy": 0.4,
            "full_valid_loss": 2.2 / step,
            "full_valid_mean_token_accuracy": 0.45,
            "total_steps": 10,
        }
        for step in (1, 2, 3)
    ]

    run = finetune.run_from_events(events, "ftjob-x")

    assert set(run.series) == {
        "train_loss",
        "train_accuracy",
        "eval_loss",
        "eval_accuracy",
        "eval_full_loss",
        "eval_full_accuracy",
    }
    assert [s.name for s in run.eval_losses] == ["eval_loss", "eval_full_loss"]
    assert run.series["train_loss"].steps.tolist() == [1, 2, 3]
