"""The Profile page, driven through Streamlit's AppTest and in a real browser."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from core import glossary_store
from tests.apptest import click, start
from tests.browser import ARTIFACTS, chromium_page, running_app
from tests.conftest import ROOT

STORE = "quarry.db"


@pytest.fixture()
def store(app_env):
    """The store of the app under test (app_env's data folder)."""
    return f"sqlite:///{app_env.parent / 'data' / STORE}"


def _profile_page() -> AppTest:
    return start("pages/profile.py")


def test_the_page_profiles_the_demo_and_saves_accepted_suggestions(store):
    at = _profile_page()
    assert at.title[0].value == "Profile"
    click(at, "Profile all tables")

    overview = at.dataframe[0].value
    assert set(overview["table"]) >= {"customers", "circuits", "tickets"}
    assert overview.set_index("table").loc["tickets", "findings"] > 0
    findings = at.get("data_editor")[0]
    assert "cryptic name" in set(findings.value["kind"])

    frame = findings.value.reset_index(drop=True)
    wanted = frame.index[
        ((frame["table"] == "invoices") & (frame["column"] == "bill_prd"))
        | ((frame["table"] == "customers") & (frame["column"] == "st"))
        | (
            (frame["table"] == "tickets")
            & (frame["column"] == "mttr_hrs")
            & (frame["kind"] == "inconsistent values")
        )
    ]
    at.session_state["profile_findings"] = {
        "edited_rows": {int(i): {"accept": True} for i in wanted},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    next(b for b in at.button if "accepted" in b.label).click().run()
    assert not at.exception, at.exception
    meanings = at.data_editor(key="profile_meanings").value
    assert "bill_prd" in set(meanings["column"])
    sentinel = meanings[meanings["column"] == "mttr_hrs"]["meaning"].iloc[0]
    assert "-1" in sentinel, "a sentinel becomes part of what the column's values mean"

    at.text_input(key="profile_author").set_value("ana")
    next(b for b in at.button if b.label == "Save the glossary").click().run()
    assert not at.exception, at.exception
    assert any("Saved version 1" in s.value for s in at.success)
    saved = glossary_store.load("demo", store_url=store)
    assert saved.meaning("invoices", "bill_prd") == "bill period"
    assert ("Texas", "TX") in {(s.synonym, s.value) for s in saved.synonyms}
    assert glossary_store.history("demo", store_url=store)[0].author == "ana"


def test_the_report_is_built_on_a_sample_and_cached(store):
    at = _profile_page()
    click(at, "Profile all tables")
    at.selectbox(key="profile_table").set_value("plans").run()
    at.number_input[0].set_value(500)
    next(b for b in at.button if "ydata" in b.label).click().run()
    assert not at.exception, at.exception
    assert any("profiled 24 of 24 rows" in c.value for c in at.caption)
    started = time.perf_counter()
    at.run()
    assert time.perf_counter() - started < 30  # the cached report, not a new one
    assert any("profiled 24 of 24 rows" in c.value for c in at.caption)


def _import(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="profile_import").set_value((name, data, ""))
    at.run()
    next(b for b in at.button if b.label == "Replace the editors with this file").click().run()
    assert not at.exception, at.exception
    return at


def test_a_bad_glossary_file_is_explained(store):
    at = _import(_profile_page(), "glossary.yaml", b"meanings: [unclosed\n")
    assert at.error and "glossary" in at.error[0].value.lower()
    assert at.data_editor(key="profile_meanings").value.empty


def test_an_imported_glossary_is_checked_against_the_schema(store):
    text = (
        b"meanings:\n"
        b"  - {table: plans, column: term_mo, meaning: contract term in months}\n"
        b"  - {table: plans, column: no_such_col, meaning: typo}\n"
        b"  - {table: Invoice, column: Total, meaning: from another database}\n"
        b"terms:\n"
        b"  - {term: long plan, definition: 'term_mos > 12', table: plans}\n"
        b"  - {term: short plan, definition: 'term_mo < 12', table: plans}\n"
    )
    at = _import(_profile_page(), "glossary.yaml", text)
    assert len(at.data_editor(key="profile_meanings").value) == 3
    (warning,) = [w.value for w in at.warning if "does not have" in w.value]
    assert "plans has no column no_such_col" in warning and "no table Invoice" in warning
    assert "'long plan': plans has no column term_mos" in warning
    assert "short plan" not in warning and "column term_mo." not in warning


@pytest.mark.browser
def test_the_page_in_a_real_browser(tmp_path):
    env = {
        "QUARRY_DATA_DIR": str(tmp_path),
        "QUARRY_STORE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "QUARRY_SECRETS_FILE": str(tmp_path / "none.toml"),
    }
    with running_app(env) as base, chromium_page() as page:
        page.goto(base)
        page.get_by_role("link", name="Profile").click()
        page.get_by_role("button", name="Profile all tables").click()
        page.get_by_role("heading", name="Overview").wait_for(timeout=120_000)
        page.get_by_role("heading", name="Findings").wait_for()
        page.wait_for_timeout(1500)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "profile-demo.png"), full_page=False)
        page.get_by_role("heading", name="Findings").scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "profile-findings.png"), full_page=False)
        page.get_by_role("button", name="Build the ydata-profiling report").click()
        report = page.frame_locator("iframe").first
        report.get_by_text("Dataset statistics").first.wait_for(timeout=180_000)
        assert report.locator("h1", has_text="Variables").count() > 0
        page.screenshot(path=str(ARTIFACTS / "profile-report.png"), full_page=False)
        assert page.get_by_text("Traceback").count() == 0


@pytest.mark.mysql
def test_the_page_profiles_chinook_in_mariadb(app_env, chinook_url):
    app_env.write_text(f'[connections.chinook]\nurl = "{chinook_url}"\n')
    at = start()
    at.sidebar.selectbox(key="connection_name").select("chinook")
    at.run()
    at.switch_page(str(ROOT / "pages/profile.py"))
    at.run()
    click(at, "Profile all tables")
    overview = at.dataframe[0].value.set_index("table")
    assert {"Album", "Artist", "Track", "Invoice"} <= set(overview.index)
    assert overview.loc["Track", "rows"] == 3503
    findings = at.get("data_editor")[0].value
    assert "ambiguous name" in set(findings["kind"]), "Name stands in five tables"
    at.selectbox(key="profile_table").set_value("Track").run()
    at.number_input[0].set_value(500)
    next(b for b in at.button if "ydata" in b.label).click().run()
    assert not at.exception, at.exception
    # the exact count from the statistics, not InnoDB's estimate of it
    assert any(c.value.startswith("profiled 500 of 3,503 rows ·") for c in at.caption), [
        c.value for c in at.caption
    ]
