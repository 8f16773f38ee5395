"""Training runs in the store: curves read back exactly as saved, on all three backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from core import training_runs
from core.errors import BadInput
from core.losslog import read_run
from core.lossrun import Run, Series
from db import database
from tests.golden import local_cases

LOGS = "data/training-logs"


def _same_series(left: Run, right: Run) -> None:
    assert list(left.series) == list(right.series)
    for name, a in left.series.items():
        b = right.series[name]
        assert b.steps.dtype == np.int64
        np.testing.assert_array_equal(a.steps, b.steps)
        np.testing.assert_array_equal(a.values, b.values)  # NaN and inf compare equal in place
        for part in ("epochs", "times"):
            if getattr(a, part) is None:
                assert getattr(b, part) is None, (name, part)
            else:
                np.testing.assert_array_equal(getattr(a, part), getattr(b, part))


@pytest.fixture()
def store(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    database.upgrade_to_head(url)
    yield url
    database.dispose(url)


@pytest.mark.parametrize("case", local_cases("training_logs.jsonl"))
def test_a_real_log_comes_back_as_it_was_saved(shared_dir: Path, store: str, case: dict) -> None:
    run = read_run(shared_dir / LOGS / case["file"])

    run_id = training_runs.save_run(run, name=case["file"][:60], store_url=store)
    back = training_runs.load_run(run_id, store_url=store)

    _same_series(run, back)
    assert back.format == run.format and back.warnings == run.warnings
    assert back.hyperparameters == pytest.approx(run.hyperparameters)
    assert back.summary == pytest.approx(run.summary)
    assert back.source == case["file"][:60]


def test_non_finite_values_survive(shared_dir: Path, store: str) -> None:
    run = read_run(shared_dir / "cases/training-logs-bad/nan_inf_trainer_state.json")

    back = training_runs.load_run(
        training_runs.save_run(run, name="nan", store_url=store), store_url=store
    )

    _same_series(run, back)
    assert back.series["train_loss"].non_finite_steps() == [61, 62]


def test_entered_hyperparameters_overlay_the_file(shared_dir: Path, store: str) -> None:
    run = read_run(
        shared_dir / LOGS / "hf_trainer_state__tinyllama_sft_2ep_with_eval__Dheena731.json"
    )
    assert training_runs.stated_hyperparameters(run) == {
        "learning_rate": pytest.approx(1e-5, rel=0.01),
        "epochs": 2,
        "batch_size": 2,
    }

    run_id = training_runs.save_run(
        run,
        name="tinyllama",
        hyperparameters={
            "batch_size": 4,
            "gradient_accumulation_steps": "8",
            "base_model": " TinyLlama-1.1B ",
            "learning_rate_multiplier": None,
        },
        store_url=store,
    )
    (listed,) = training_runs.list_runs(store_url=store)

    assert listed.id == run_id and listed.points == 186 and "eval_loss" in listed.series
    assert listed.hyperparameters["batch_size"] == 4
    assert listed.hyperparameters["gradient_accumulation_steps"] == 8
    assert listed.hyperparameters["base_model"] == "TinyLlama-1.1B"
    assert listed.hyperparameters["logging_steps"] == 15  # from the file, kept
    assert "learning_rate_multiplier" not in listed.hyperparameters
    assert training_runs.load_run(run_id, store_url=store).hyperparameters["batch_size"] == 4


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"learning_rate": -1e-4}, "positive"),
        ({"epochs": 2.5}, "whole number"),
        ({"batch_size": "eight"}, "must be a number"),
        ({"learning_rate": float("nan")}, "positive"),
    ],
)
def test_bad_hyperparameters_are_named(values: dict, words: str) -> None:
    with pytest.raises(BadInput) as caught:
        training_runs.clean_hyperparameters(values)
    assert words in caught.value.message and caught.value.hint


def test_a_run_needs_a_name(store: str) -> None:
    run = _synthetic_run(10)
    with pytest.raises(BadInput, match="needs a name"):
        training_runs.save_run(run, name="  ", store_url=store)


def _synthetic_run(points: int, *, start: int = 1) -> Run:
    steps = np.arange(start, start + points, dtype=np.int64)
    loss = Series("train_loss", steps, 2.0 * np.exp(-steps / 1000.0) + 0.3)
    return Run("csv", {"train_loss": loss}, {}, [], "synthetic.csv")


def test_a_followed_run_is_updated_and_keeps_what_was_entered(store: str) -> None:
    first = _synthetic_run(10)
    run_id = training_runs.save_run(
        first,
        name="job",
        hyperparameters={"gradient_accumulation_steps": 4},
        job_id="ftjob-1",
        job_status="running",
        store_url=store,
    )
    later = _synthetic_run(50)
    later.hyperparameters["epochs"] = 3

    training_runs.update_run(run_id, later, job_status="succeeded", store_url=store)

    saved = training_runs.find_job_run("ftjob-1", store_url=store)
    assert saved is not None and saved.id == run_id
    assert (saved.points, saved.job_status) == (50, "succeeded")
    assert saved.hyperparameters == {"gradient_accumulation_steps": 4, "epochs": 3}
    assert saved.updated_at >= saved.created_at
    assert training_runs.find_job_run("ftjob-2", store_url=store) is None


def test_delete_and_a_missing_run(store: str) -> None:
    run_id = training_runs.save_run(_synthetic_run(5), name="gone", store_url=store)
    training_runs.delete_run(run_id, store_url=store)

    assert training_runs.list_runs(store_url=store) == []
    with pytest.raises(BadInput, match=f"no saved training run #{run_id}"):
        training_runs.load_run(run_id, store_url=store)
    with pytest.raises(BadInput):
        training_runs.update_run(run_id, _synthetic_run(5), store_url=store)


def test_listing_does_not_read_the_curves(store: str) -> None:
    training_runs.save_run(_synthetic_run(200_000), name="long", store_url=store)
    statements: list[str] = []
    engine = database.get_engine(store)
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    training_runs.list_runs(store_url=store)

    assert statements and not any("curves" in s for s in statements)


def _long_run_roundtrip(url: str) -> None:
    """A run of 200,000 points packs to more than MySQL's 64 KB BLOB holds."""
    database.upgrade_to_head(url)
    run = _synthetic_run(200_000)
    run.series["train_loss"].values[::7] += np.random.default_rng(0).normal(size=28_572)
    assert len(training_runs.pack_series(run.series)) > 65_535

    back = training_runs.load_run(
        training_runs.save_run(run, name="long", store_url=url), store_url=url
    )

    _same_series(run, back)
    database.dispose(url)


@pytest.mark.mysql
def test_a_long_run_on_a_mariadb_store(scratch_mysql: str) -> None:
    _long_run_roundtrip(scratch_mysql)


@pytest.mark.postgres
def test_a_long_run_on_a_postgres_store(scratch_pg: str) -> None:
    _long_run_roundtrip(scratch_pg)


def test_a_long_run_on_a_sqlite_store(tmp_path: Path) -> None:
    _long_run_roundtrip(f"sqlite:///{tmp_path / 'store.db'}")
