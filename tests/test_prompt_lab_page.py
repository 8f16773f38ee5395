"""The Prompt lab and the Ask page's clarifying question, driven through Streamlit's AppTest."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from core import eval_runs, glossary_store, prompts, readings
from db import database
from tests.apptest import ROUTER
from tests.conftest import ROOT
from tests.test_eval_runs import INSTRUCTION, scripted

pytestmark = pytest.mark.mysql


@pytest.fixture()
def app_env(tmp_path, monkeypatch, chinook_url):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[connections.chinook]\nurl = "{chinook_url}"\n')
    for name, value in {
        "QUARRY_DATA_DIR": str(tmp_path),
        "QUARRY_STORE_URL": store,
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "QUARRY_SECRETS_FILE": str(secrets),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    yield store
    database.dispose(store)


@pytest.fixture()
def with_model(app_env, model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", model_server.url)
    monkeypatch.setenv("QUARRY_MODEL", "test-model")
    monkeypatch.setenv("QUARRY_MODEL_PRICES", "test-model=1/2")
    model_server.responder = scripted
    return model_server


def _page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROUTER), default_timeout=120)
    at.session_state["connection_name"] = "chinook"
    at.run()
    at.switch_page(str(ROOT / path))
    at.run()
    assert not at.exception, at.exception
    return at


def _click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _wait_for_the_run(at: AppTest) -> None:
    deadline = time.monotonic() + 90
    while "lab_job" in at.session_state and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
    assert "lab_job" not in at.session_state


def _draft(at: AppTest):
    return next(t for t in at.text_area if t.label == "Template")


def _save_version(at: AppTest, text: str, note: str) -> AppTest:
    _draft(at).set_value(text)
    at.text_input(key="lab_note").set_value(note)
    at.text_input(key="lab_author").set_value("ana")
    return _click(at, f"Save as a new version of v{at.session_state['lab_version']}")


def _make_set(at: AppTest, cases: list[tuple[str, str]]) -> None:
    at.text_input(key="lab_new_set_name").set_value("basics")
    _click(at, "Create")
    for question, sql in cases:
        at.text_input(key="lab_case_question").set_value(question)
        at.text_area(key="lab_case_sql").set_value(sql)
        _click(at, "Add the case")


def test_write_check_fix_save_diff_preview_and_promote(app_env):
    at = _page("pages/prompt_lab.py")
    assert at.title[0].value == "Prompt lab"
    built_in = at.session_state["lab_version"]
    draft = at.session_state["lab_draft"].replace(
        "Use only the tables", "Revenue is in the Invoices table.\nUse only the tables"
    )
    _draft(at).set_value(draft)
    _click(at, "Check the draft")
    assert "'Invoices' is not a table or column" in _markdown(at)
    apply = next(b for b in at.button if b.label == "Apply")
    apply.click().run()
    assert "Revenue is in the Invoice table." in _draft(at).value

    _click(at, f"Save as a new version of v{built_in}")  # no note yet
    assert any("why the prompt changed" in e.value for e in at.error)
    _save_version(at, at.session_state["lab_draft"], "name where revenue lives")
    second = at.session_state["lab_version"]
    assert second != built_in
    assert any("+Revenue is in the Invoice table." in c.value for c in at.code)
    assert any("not been run over an eval set" in w.value for w in at.warning)
    _click(at, "Promote to Ask")
    assert prompts.promoted(store_url=app_env).id == second

    at.selectbox(key="lab_preview_version").set_value(second)
    at.text_input(key="lab_preview_question").set_value("How many tracks are in each genre?")
    _click(at, "Preview")
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Prompt tokens"].replace(",", "")) > 100
    assert metrics["Tables"] == "11"
    assert any("Revenue is in the Invoice table." in c.value for c in at.code)


def test_the_offline_engine_runs_over_a_set_and_the_run_reopens(app_env):
    at = _page("pages/prompt_lab.py")
    _make_set(
        at,
        [
            ("How many tracks are there?", "SELECT COUNT(*) FROM Track"),
            ("How many playlists are there?", "SELECT COUNT(*) FROM Playlist"),
        ],
    )
    assert at.dataframe[0].value.shape[0] == 2
    at.selectbox(key="lab_side_a").set_value("Offline engine")
    _click(at, "Run")
    _wait_for_the_run(at)
    summary = at.dataframe[-2].value
    assert list(summary["execution accuracy"]) == [1.0]
    again = _page("pages/prompt_lab.py")
    assert again.dataframe[-1].value.shape[0] == 2  # reopened from the store


def test_two_versions_compared_disagreements_first_then_promoted(with_model, app_env):
    at = _page("pages/prompt_lab.py")
    first = at.session_state["lab_version"]
    text = at.session_state["lab_draft"].replace(
        "Use only the tables", INSTRUCTION + "\nUse only the tables"
    )
    _save_version(at, text, "count the named table")
    second = at.session_state["lab_version"]
    _make_set(
        at,
        [
            ("How many customers are there?", "SELECT COUNT(*) FROM Customer"),
            ("How many tracks are there?", "SELECT COUNT(*) FROM Track"),
        ],
    )
    at.selectbox(key="lab_side_a").set_value(str(first))
    at.selectbox(key="lab_side_b").set_value(str(second))
    _click(at, "Run")
    _wait_for_the_run(at)
    summary = at.dataframe[-2].value
    assert list(summary["execution accuracy"]) == [0.5, 1.0]
    assert all(summary["cost (USD)"] > 0)
    compared = at.dataframe[-1].value
    assert list(compared["differ"]) == ["≠", ""]
    assert compared.iloc[0]["id"] == "case2"
    _click(at, f"Promote v{second} to Ask")
    assert prompts.promoted(store_url=app_env).id == second
    (batch,) = eval_runs.batches(store_url=app_env)
    assert len(batch.run_ids) == 2
    at.selectbox(key="lab_version").set_value(first).run()
    (note,) = [w.value for w in at.warning if "the version Ask uses" in w.value]
    assert "answered 1 of 2 (50%)" in note and "answered 2 of 2 (100%)" in note


def test_ask_asks_back_before_any_sql_and_remembers_the_reading(app_env):
    at = _page("pages/ask.py")
    at.text_area(key="ask_question").set_value("Which city has the most sales?")
    _click(at, "Ask")
    assert "ask_result" not in at.session_state
    assert any("Before any SQL runs" in m for m in _markdown(at).splitlines())
    radio = at.radio(key="ask_reading_0")
    billing = next(o for o in radio.options if o.startswith("Invoice.BillingCity"))
    radio.set_value(billing)
    at.checkbox(key="ask_save_readings").check()
    _click(at, "Ask with these readings")
    assert at.session_state["ask_result"].question == "Which billing city has the most sales?"
    saved = readings.saved_terms("chinook", store_url=app_env)
    assert glossary_store.history("chinook", store_url=app_env)[0].author == "Ask page"
    assert [(t.term, t.definition) for t in saved] == [("city", "Invoice.BillingCity")]

    at.text_area(key="ask_question").set_value("Which city has the most sales?")
    _click(at, "Ask")
    assert "ask_clarify" not in at.session_state
    assert at.session_state["ask_result"].question == "Which billing city has the most sales?"


def test_a_clear_question_is_answered_at_once(app_env):
    at = _page("pages/ask.py")
    at.text_area(key="ask_question").set_value("How many customers are from Brazil?")
    _click(at, "Ask")
    assert "ask_clarify" not in at.session_state
    assert at.session_state["ask_result"].rows == [(5,)]


def test_ask_writes_with_the_promoted_version(with_model, app_env):
    database.upgrade_to_head(app_env)
    first = prompts.ensure_built_in(store_url=app_env)
    marked = prompts.create_version(
        first.text.replace("Schema:", "MARKER-V2\nSchema:"),
        parent_id=first.id,
        note="marker",
        store_url=app_env,
    )
    prompts.promote(marked.id, store_url=app_env)
    with_model.responder = None
    with_model.say("SELECT COUNT(*) FROM Customer")
    at = _page("pages/ask.py")
    at.text_area(key="ask_question").set_value("How many customers are there?")
    _click(at, "Ask")
    assert at.session_state["ask_result"].rows == [(59,)]
    sent = " ".join(m["content"] for m in with_model.requests[-1]["body"]["messages"])
    assert "MARKER-V2" in sent


def test_a_repaired_answer_shows_what_was_repaired(with_model, app_env):
    with_model.responder = None
    with_model.say("SELECT COUNT(*) FROM Customers", "SELECT COUNT(*) FROM Customer")
    at = _page("pages/ask.py")
    at.text_area(key="ask_question").set_value("How many customers are there?")
    _click(at, "Ask")
    assert at.session_state["ask_result"].rows == [(59,)]
    assert [e.label for e in at.expander if e.label.startswith("Repaired")] == ["Repaired 1 time"]
    assert any("FROM Customers" in c.value for c in at.code)


def test_the_critic_review_shows_beside_the_rules(with_model, app_env):
    with_model.responder = None
    with_model.say('[{"quote": "nothing else", "problem": "Leaves no room for a refusal."}]')
    at = _page("pages/prompt_lab.py")
    _click(at, "Ask the model for its review")
    text = _markdown(at)
    assert "The model's review" in text and "Leaves no room for a refusal." in text
    assert "· critic" in text


def test_a_good_run_from_the_history_becomes_a_case_with_one_click(app_env):
    from core import history
    from core.ask import AskResult

    database.upgrade_to_head(app_env)
    run = AskResult(question="How many albums?", engine="offline", sql="SELECT COUNT(*) FROM Album")
    run_id = history.record(run, "chinook", store_url=app_env)
    history.mark_good(run_id, store_url=app_env)
    at = _page("pages/prompt_lab.py")
    _make_set(at, [])
    _click(at, "Add")
    cases = at.dataframe[0].value
    assert list(cases["question"]) == ["How many albums?"] and list(cases["from"]) == ["history"]
    assert "No unused runs marked good" in "\n".join(c.value for c in at.caption)


def test_a_bad_case_is_explained_and_what_was_typed_stays(app_env):
    at = _page("pages/prompt_lab.py")
    _make_set(at, [])
    at.text_input(key="lab_case_question").set_value("How many albums?")
    _click(at, "Add the case")
    assert any("neither gold SQL nor an 'ambiguous' flag" in e.value for e in at.error)
    assert at.text_input(key="lab_case_question").value == "How many albums?"
