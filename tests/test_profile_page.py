"""The Profile page, driven through Streamlit's AppTest and in a real browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import glossary_store
from db import database
from tests.conftest import ROOT, need

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture()
def app_env(tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    for name, value in {
        "QUARRY_DATA_DIR": str(tmp_path),
        "QUARRY_STORE_URL": store,
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "QUARRY_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    yield store
    database.dispose(store)


def _profile_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/profile.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_page_profiles_the_demo_and_saves_accepted_suggestions(app_env):
    at = _profile_page()
    assert at.title[0].value == "Profile"
    at.button[0].click().run()  # "Profile all tables"
    assert not at.exception, at.exception

    overview = at.dataframe[0].value
    assert set(overview["table"]) >= {"customers", "circuits", "tickets"}
    assert overview.set_index("table").loc["tickets", "findings"] > 0
    findings = at.get("data_editor")[0]
    assert "cryptic name" in set(findings.value["kind"])

    frame = findings.value.reset_index(drop=True)
    wanted = frame.index[
        ((frame["table"] == "invoices") & (frame["column"] == "bill_prd"))
        | ((frame["table"] == "customers") & (frame["column"] == "st"))
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

    at.text_input(key="profile_author").set_value("ana")
    next(b for b in at.button if b.label == "Save the glossary").click().run()
    assert not at.exception, at.exception
    assert any("Saved version 1" in s.value for s in at.success)
    saved = glossary_store.load("demo", store_url=app_env)
    assert saved.meaning("invoices", "bill_prd") == "bill period"
    assert ("Texas", "TX") in {(s.synonym, s.value) for s in saved.synonyms}
    assert glossary_store.history("demo", store_url=app_env)[0].author == "ana"


def test_the_report_is_built_on_a_sample_and_cached(app_env):
    at = _profile_page()
    at.button[0].click().run()
    at.selectbox(key="profile_table").set_value("plans").run()
    at.number_input[0].set_value(500)
    next(b for b in at.button if "ydata" in b.label).click().run()
    assert not at.exception, at.exception
    assert any("profiled 24 of 24 rows" in c.value for c in at.caption)
    started = time.perf_counter()
    at.run()
    assert time.perf_counter() - started < 30  # the cached report, not a new one
    assert any("profiled 24 of 24 rows" in c.value for c in at.caption)


def test_a_bad_glossary_file_is_explained(app_env):
    at = _profile_page()
    assert not at.error
    assert at.data_editor(key="profile_meanings").value.empty


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_the_page_in_a_real_browser(tmp_path):
    need(Path("/usr/bin/chromium").exists(), "no /usr/bin/chromium", "QUARRY_REQUIRE_BROWSER")
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = {
        **os.environ,
        "QUARRY_DATA_DIR": str(tmp_path),
        "QUARRY_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.get_by_role("link", name="Profile").click(timeout=60_000)
            page.get_by_role("button", name="Profile all tables").click(timeout=60_000)
            page.get_by_role("heading", name="Overview").wait_for(timeout=120_000)
            page.get_by_role("heading", name="Findings").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "profile-demo.png"), full_page=False)
            page.get_by_role("heading", name="Findings").scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            page.screenshot(path=str(ARTIFACTS / "profile-findings.png"), full_page=False)
            assert page.get_by_text("Traceback").count() == 0
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
