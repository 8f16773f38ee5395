"""The Training page in Streamlit's AppTest, driven with the real training logs."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from tensorboard.summary import Writer

from core import training_runs
from tests.apptest import ROUTER
from tests.golden import local_cases
from tests.test_losslog import _write_text_summary

ROOT = Path(__file__).resolve().parent.parent
LOGS = "data/training-logs"
BAD = "cases/training-logs-bad"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for the module, so the demo database is built once."""
    return tmp_path_factory.mktemp("quarry-data")


@pytest.fixture()
def env(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh store per test, no model and no secrets; returns the store URL."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("QUARRY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("QUARRY_STORE_URL", store)
    monkeypatch.setenv("QUARRY_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QUARRY_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return store


def _page(tab: str = "Loss charts") -> AppTest:
    at = AppTest.from_file(str(ROUTER), default_timeout=120)
    at.run()
    at.switch_page(str(ROOT / "pages/training.py"))
    at.session_state["training_tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at: AppTest, path: Path) -> AppTest:
    at.file_uploader(key="training_upload").set_value((path.name, path.read_bytes(), ""))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(value) -> list:
    """A trace's values: plotly sends numpy arrays as base64 with their dtype."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


@pytest.mark.parametrize("case", local_cases("training_logs.jsonl"))
def test_a_real_log_is_charted_and_diagnosed(env: str, shared_dir: Path, case: dict) -> None:
    at = _upload(_page(), shared_dir / LOGS / case["file"])

    (read,) = _texts(at.success)
    assert f"{case['points']:,} points" in read and case["format"] in read
    assert _charts(at), "no loss chart"
    captions = _texts(at.caption)
    shown = [c for c in captions if c.startswith("Showing ")]
    assert shown and shown[0].endswith(" points."), captions
    badges = " ".join(_texts(at.markdown))
    if case.get("converged"):
        assert ":green-badge[converged]" in badges
    if case.get("fluctuating"):
        assert ":orange-badge[fluctuating]" in badges
    if case.get("overfitting"):
        assert f"overfitting, best step {case['eval_min_step']}" in badges
    else:
        assert "overfitting" not in badges
    advice = _texts(at.info)
    for text in case.get("advice", []):
        assert any(text in a for a in advice), advice
    no_eval = not any(s.startswith("eval_") for s in case["series"])
    assert any("No validation series was logged" in c for c in captions) is no_eval


@pytest.mark.parametrize("case", local_cases("training_logs_bad.jsonl"))
def test_a_bad_log_gets_its_expected_outcome(env: str, shared_dir: Path, case: dict) -> None:
    at = _upload(_page(), shared_dir / BAD / case["file"])

    if "error" in case:
        errors = _texts(at.error)
        assert len(errors) == 1 and all(text in errors[0] for text in case["error"]), errors
        assert not _charts(at) and not at.success
        return
    (read,) = _texts(at.success)
    assert f"{case['points']:,} points" in read
    warnings = _texts(at.warning)
    for text in case.get("warnings", []):
        assert any(text in w for w in warnings), warnings
    captions = " ".join(_texts(at.caption))
    if "non_finite_steps" in case:
        assert "non-finite values" in " ".join(_texts(at.markdown))
        assert "marked ×" in captions
    if "no_series" in case and "eval_loss" in case["no_series"]:
        assert "No validation series was logged" in captions


def test_unusual_column_names_are_mapped(env: str, tmp_path: Path) -> None:
    log = tmp_path / "custom.csv"
    rows = [f"{i * 10},{2.0 / (1 + i / 8):.4f},{2.1 / (1 + i / 10):.4f}" for i in range(1, 80)]
    log.write_text("iteration_no,objective,heldout\n" + "\n".join(rows) + "\n")

    at = _upload(_page(), log)
    (error,) = _texts(at.error)
    assert "none of them is named like a loss" in error
    at.selectbox(key=_key(at, "map", "step")).select("iteration_no")
    at.selectbox(key=_key(at, "map", "loss")).select("objective")
    at.selectbox(key=_key(at, "map", "eval")).select("heldout")
    _button(at, "Read with this mapping").click()
    at.run()

    assert not at.error and not at.exception
    (read,) = _texts(at.success)
    assert "79 points" in read and "train_loss" in read and "eval_loss" in read
    figure = _charts(at)[0]
    xs = next(t["x"] for t in figure["data"] if t.get("name", "").startswith("train_loss"))
    assert _array(xs)[:2] == [10, 20]  # the mapped step, not row numbers


def _key(at: AppTest, form: str, name: str) -> str:
    """A form widget's key: the page numbers them per log read."""
    seq = at.session_state["training_log_seq" if form == "map" else "training_read_seq"]
    return f"training_{form}_{name}_{seq}"


def _save(at: AppTest, **numbers: float) -> AppTest:
    for label, value in numbers.items():
        at.number_input(key=_key(at, "save", label)).set_value(value)
    _button(at, "Save run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_saved_runs_overlay_and_the_view_controls(env: str, shared_dir: Path) -> None:
    at = _upload(
        _page(), shared_dir / LOGS / "hf_trainer_state__tinyllama_sft_2ep_with_eval__Dheena731.json"
    )
    _save(at, gradient_accumulation_steps=4)
    at = _upload(
        at,
        shared_dir
        / LOGS
        / "llamafactory_trainer_log__qwen2.5_7b_lora_3ep_with_eval__xueh88401.jsonl",
    )
    _save(at, gradient_accumulation_steps=8, learning_rate=1e-4)

    saved = training_runs.list_runs(store_url=env)
    assert [s.hyperparameters["gradient_accumulation_steps"] for s in saved] == [8, 4]
    assert saved[0].hyperparameters["learning_rate"] == pytest.approx(1e-4)
    assert at.multiselect(key="training_chosen_runs").value == [s.id for s in saved]
    captions = " ".join(_texts(at.caption))
    assert "different gradient accumulation" in captions and "compare them by epoch" in captions
    names = {t["name"] for t in _charts(at)[0]["data"]}
    assert any(n.startswith(saved[0].name) for n in names)
    assert any(n.startswith(saved[1].name) for n in names)
    assert len(at.expander) and "Diagnosis" in [h.value for h in at.subheader]

    at.slider(key="training_smoothing").set_value(0.0)
    at.toggle(key="training_log_y").set_value(True)
    at.toggle(key="training_clip").set_value(True)
    at.segmented_control(key="training_x").set_value("epoch")
    at.run()
    figure = _charts(at)[0]
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert len(figure["layout"]["yaxis"]["range"]) == 2  # clipped: the view, not the data
    assert figure["layout"]["xaxis"]["title"]["text"] == "epoch"

    at.multiselect(key="training_chosen_runs").set_value([saved[1].id])
    at.run()
    assert "different gradient accumulation" not in " ".join(_texts(at.caption))

    at.selectbox(key="training_delete").select(saved[1].id)
    at.run()
    _button(at, "Delete").click()
    at.run()
    assert [s.id for s in training_runs.list_runs(store_url=env)] == [saved[0].id]
    assert at.multiselect(key="training_chosen_runs").value == []
    assert not at.exception


def test_a_path_is_read_like_an_upload(env: str, shared_dir: Path) -> None:
    at = _page()
    at.segmented_control(key="training_from").set_value("Path")
    at.run()
    path = (
        shared_dir / LOGS / "hf_trainer_state__cpt_10ep_eval_min_then_rise_predict_keys__Jaong.json"
    )
    at.text_input(key="training_path").set_value(str(path))
    _button(at, "Read").click()
    at.run()

    assert "10 points" in _texts(at.success)[0]
    assert any("eval minimum is at step 3294" in a for a in _texts(at.info))

    at.text_input(key="training_path").set_value("/no/such/trainer_state.json")
    _button(at, "Read").click()
    at.run()
    # messages are escaped for markdown: compare without the backslashes
    assert "There is no file at /no/such/trainer_state.json" in re.sub(
        r"\\(.)", r"\1", _texts(at.error)[0]
    )
    assert not at.exception


def test_training_data_from_the_demo_downloads_as_chat_jsonl(env: str) -> None:
    at = _page("Training data")
    _button(at, "Build training data").click()
    at.run()

    assert not at.exception and not at.error
    metrics = {m.label: int(m.value) for m in at.metric}
    assert metrics["Train examples"] > 100 and metrics["Validation examples"] > 20
    downloads = [d.label for d in at.get("download_button")]
    assert downloads == ["Download train JSONL", "Download validation JSONL"]
    data = at.session_state["training_data"]
    for line in data.jsonl("train").decode().splitlines():
        roles = [m["role"] for m in json.loads(line)["messages"]]
        assert roles == ["system", "user", "assistant"]
    assert _charts(at)[0]["data"][0]["name"] == "train"  # the spread over tables


def test_a_stored_eval_set_and_the_glossary_reach_the_training_data(env: str) -> None:
    from core import evalsets, glossary_store
    from core.glossary import ColumnMeaning, Glossary
    from db import database

    database.upgrade_to_head(env)
    made = evalsets.create_set("plans", store_url=env)
    evalsets.add_case(
        made.id,
        "Which plans promise the most?",
        "SELECT plan_nm FROM plans ORDER BY sla_pct DESC",
        store_url=env,
    )
    evalsets.add_case(made.id, "Is this vague?", ambiguous=True, store_url=env)  # no SQL: skipped
    meaning = ColumnMeaning("plans", "term_mo", "contract length in months, say the analysts")
    glossary_store.save("demo", Glossary(meanings=[meaning]), author="ann", store_url=env)

    at = _page("Training data")
    at.multiselect(key="training_sets").select(evalsets.sets(store_url=env)[0])
    _button(at, "Build training data").click()
    at.run()

    assert not at.exception and not at.error
    data = at.session_state["training_data"]
    from_set = [e for e in data.examples if e.source == "eval set"]
    assert [e.question for e in from_set] == ["Which plans promise the most?"]
    system = from_set[0].messages[0]["content"]
    assert "contract length in months, say the analysts" in system


def test_training_data_follows_the_promoted_prompt(env: str) -> None:
    from core import prompts
    from db import database

    database.upgrade_to_head(env)
    first = prompts.ensure_built_in(store_url=env)
    marked = prompts.create_version(
        first.text.replace("Schema:", "HOUSE-STYLE-V2\nSchema:"),
        parent_id=first.id,
        note="house style",
        store_url=env,
    )
    prompts.promote(marked.id, store_url=env)
    at = _page("Training data")
    assert any(f"prompt v{marked.id}" in c for c in _texts(at.caption))
    _button(at, "Build training data").click()
    at.run()
    data = at.session_state["training_data"]
    assert all("HOUSE-STYLE-V2" in e.messages[0]["content"] for e in data.examples)


def test_a_bad_eval_set_upload_is_explained(env: str, tmp_path: Path) -> None:
    at = _page("Training data")
    at.file_uploader(key="training_cases").set_value(
        ("cases.jsonl", b'{"id": "a", "question": "How many plans?"}\n', "")
    )
    _button(at, "Build training data").click()
    at.run()

    assert "have no SQL" in _texts(at.error)[0]
    assert not at.exception and "training_data" not in at.session_state


def test_no_fine_tuning_without_a_model(env: str) -> None:
    at = _page()
    assert [t.label for t in at.tabs] == ["Loss charts", "Training data"]


def test_fine_tuning_is_started_and_followed(
    env: str, model_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.url)
    model_server.fine_tuning.steps_per_poll = 100
    at = _page("Training data")
    _button(at, "Build training data").click()
    at.run()
    at.session_state["training_tab"] = "Fine-tuning"
    at.run()

    assert at.number_input(key="training_tune_epochs").value == 2
    assert at.number_input(key="training_tune_lr").value == pytest.approx(0.1)
    assert any("One or two are often enough" in c for c in _texts(at.caption))
    _button(at, "Upload and start fine-tuning").click()
    at.run()
    assert not at.exception and not at.error, _texts(at.error)
    (job_id,) = model_server.fine_tuning.jobs
    assert any(job_id in s for s in _texts(at.success))

    for _ in range(10):
        if model_server.fine_tuning.jobs[job_id]["status"] == "succeeded":
            break
        at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Fine-tuned model" in s for s in _texts(at.success))
    saved = training_runs.find_job_run(job_id, store_url=env)
    assert saved is not None and saved.job_status == "succeeded" and saved.points > 100
    assert saved.hyperparameters["base_model"].startswith("gpt-4o-mini")
    assert _charts(at)


def test_a_job_of_the_account_is_imported(env: str, model_server, monkeypatch) -> None:
    from core import finetune
    from core.generate_sql import make_client
    from core.settings import Settings

    monkeypatch.setenv("OPENAI_BASE_URL", model_server.url)
    client = make_client(Settings.load(secrets={}))
    train = "".join(
        json.dumps({"messages": [{"role": "user", "content": f"q{i}"}]}) + "\n" for i in range(60)
    )
    job = finetune.start_job(client, training=train.encode(), validation=None, epochs=1)
    finetune.get_job(client, job.id)
    finetune.get_job(client, job.id)  # 10 steps logged

    at = _page()
    at.segmented_control(key="training_from").set_value("OpenAI job")
    at.run()
    assert at.selectbox(key="training_job_pick").value == job.id
    _button(at, "Import its metrics").click()
    at.run()

    assert not at.exception and not at.error, _texts(at.error)
    saved = training_runs.find_job_run(job.id, store_url=env)
    assert saved is not None and saved.points >= 10 and saved.format == "openai_events"
    assert at.multiselect(key="training_chosen_runs").value == [saved.id]
    assert _charts(at)


def test_tensorboard_events_by_upload_and_by_folder(env: str, tmp_path: Path) -> None:
    folder = tmp_path / "tb"
    writer = Writer(str(folder))
    for step in range(1, 3001):
        writer.add_scalar("train/loss", 3.0 / math.sqrt(step), step, wall_time=1e9 + step)
        if step % 300 == 0:
            writer.add_scalar("eval/loss", 2.5 / math.sqrt(step), step, wall_time=1e9 + step)
    writer.close()
    (events,) = folder.glob("*tfevents*")
    args = {"learning_rate": 2e-4, "gradient_accumulation_steps": 4}
    _write_text_summary(folder, "args/text_summary", json.dumps(args))
    _write_text_summary(folder, "model_config/text_summary", '{"_name_or_path": "Qwen/Qwen2.5-7B"}')

    at = _page()
    at.file_uploader(key="training_upload").set_value(("run-7.bin", events.read_bytes(), ""))
    at.run()
    assert "tensorboard, 3,000 points" in _texts(at.success)[0]
    assert any(c.startswith("Showing 2,010 of 3,010 points") for c in _texts(at.caption))

    at.segmented_control(key="training_from").set_value("Path")
    at.run()
    at.text_input(key="training_path").set_value(str(folder))
    _button(at, "Read").click()
    at.run()
    assert "tensorboard, 3,000 points" in _texts(at.success)[0]
    assert at.number_input(key=_key(at, "save", "gradient_accumulation_steps")).value == 4
    assert at.number_input(key=_key(at, "save", "learning_rate")).value == pytest.approx(2e-4)
    assert at.text_input(key=_key(at, "save", "base_model")).value == "Qwen/Qwen2.5-7B"
