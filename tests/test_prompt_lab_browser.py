"""The Prompt lab in a real Chromium against the app in a subprocess and a local model server.

Write a version, preview it, run two versions over a small eval set (stopping one run
half-way), compare them and promote the better one. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest

from core import eval_runs, prompts
from db import database
from tests.browser import ARTIFACTS, chromium_page, running_app
from tests.test_eval_runs import INSTRUCTION, scripted

pytestmark = [pytest.mark.browser, pytest.mark.mysql]

CASES = [
    ("How many customers are there?", "SELECT COUNT(*) FROM Customer"),
    ("How many tracks are there?", "SELECT COUNT(*) FROM Track"),
    ("List the names of all genres.", "SELECT Name FROM Genre"),
    ("How many playlists are there?", "SELECT COUNT(*) FROM Playlist"),
]


@pytest.fixture()
def app(tmp_path, chinook_url, model_server):
    slow = {"on": False}

    def respond(body):
        if slow["on"]:
            time.sleep(1.0)
        return scripted(body)

    model_server.responder = respond
    store = f"sqlite:///{tmp_path / 'store.db'}"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[connections.chinook]\nurl = "{chinook_url}"\n')
    env = {
        "QUARRY_DATA_DIR": str(tmp_path),
        "QUARRY_STORE_URL": store,
        "QUARRY_SECRETS_FILE": str(secrets),
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": model_server.url,
        "QUARRY_MODEL": "test-model",
        "QUARRY_MODEL_PRICES": "test-model=0.50/1.50",
    }
    try:
        with running_app(env) as url:
            yield url, store, slow
    finally:
        database.dispose(store)


def _select(page, scope, label: str, option: str | re.Pattern) -> None:
    scope.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option).first.click()


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    return page.get_by_role("tabpanel", name=name)


def _wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)


def test_write_preview_run_compare_promote_in_chromium(app):
    from playwright.sync_api import expect

    url, store, slow = app
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(width=1440, height=1100) as page:
        try:
            # through the router: it draws the sidebar's connection picker
            page.goto(url, timeout=60_000)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_role("combobox", name="Connection").wait_for(timeout=90_000)
            sidebar.get_by_role("link", name="Prompt lab", exact=True).click(timeout=60_000)
            page.get_by_role("heading", name="Prompt lab").wait_for(timeout=60_000)
            _select(page, sidebar, "Connection", re.compile("^chinook"))
            expect(page.get_by_text("MariaDB").first).to_be_visible(timeout=60_000)
            _wait_idle(page)

            # write a version
            versions = _tab(page, "Versions")
            template = versions.get_by_label("Template")
            expect(template).to_have_value(re.compile("^You translate"), timeout=30_000)
            text = template.input_value().replace(
                "Use only the tables", INSTRUCTION + "\nUse only the tables"
            )
            template.fill(text)
            versions.get_by_label("Why it changed").fill("count the table the question names")
            versions.get_by_label("Author").fill("ana")
            versions.get_by_role("button", name="Save as a new version of v1").click()
            expect(versions.get_by_text("count the table the question names").first).to_be_visible(
                timeout=30_000
            )
            _wait_idle(page)
            expect(
                versions.get_by_test_id("stCode").filter(has_text="+Count rows of the table")
            ).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "prompt-lab-versions.png"), full_page=True)

            # preview it
            preview = _tab(page, "Preview")
            preview.get_by_label("Question").fill("How many tracks are in each genre?")
            preview.get_by_role("button", name="Preview").click()
            expect(preview.get_by_text("Prompt tokens")).to_be_visible(timeout=60_000)
            expect(preview.get_by_text(INSTRUCTION).first).to_be_visible()
            _wait_idle(page)
            page.screenshot(path=str(ARTIFACTS / "prompt-lab-preview.png"), full_page=True)

            # a small eval set
            sets = _tab(page, "Eval sets")
            sets.get_by_label("Name").fill("basics")
            sets.get_by_role("button", name="Create").click()
            expect(sets.get_by_text("No cases yet")).to_be_visible(timeout=30_000)
            for question, sql in CASES:
                expect(sets.get_by_label("Question")).to_have_value("", timeout=30_000)
                sets.get_by_label("Question").fill(question)
                sets.get_by_label("Gold SQL").fill(sql)
                sets.get_by_role("button", name="Add the case").click()
                _wait_idle(page)
            expect(sets.get_by_text("4 cases · 4 with gold SQL").first).to_be_visible(
                timeout=30_000
            )

            # run the two versions, stop half-way, then run to the end
            runs = _tab(page, "Runs")
            _select(page, runs, "A", "v1 — Quarry's built-in template.")
            _select(page, runs, "B (optional)", "v2 — count the table the question names")
            slow["on"] = True
            runs.get_by_role("button", name="Run").click()
            expect(runs.get_by_test_id("stProgress")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "prompt-lab-running.png"), full_page=True)
            runs.get_by_role("button", name="Stop").click()
            expect(runs.get_by_text(re.compile(r"^Stopped · ")).first).to_be_visible(timeout=60_000)
            _wait_idle(page)
            (stopped,) = eval_runs.batches(store_url=store)
            assert stopped.status == "stopped"
            done = sum(len(eval_runs.load_run(i, store_url=store).results) for i in stopped.run_ids)
            assert 1 <= done < 8

            slow["on"] = False
            runs.get_by_role("button", name="Run").click()
            expect(runs.get_by_text("case(s) where the two disagree").first).to_be_visible(
                timeout=90_000
            )
            expect(runs.get_by_text("Done · 8 of 8 answers", exact=False).first).to_be_visible(
                timeout=30_000
            )
            _wait_idle(page)
            expect(runs.get_by_text("2 case(s) where the two disagree")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "prompt-lab-compare.png"), full_page=True)

            # promote the better one
            runs.get_by_role("button", name="Promote v2 to Ask").click()
            _wait_idle(page)
            deadline = time.monotonic() + 30  # the click's rerun may still be saving
            while prompts.promoted(store_url=store) is None and time.monotonic() < deadline:
                time.sleep(0.3)
            assert prompts.promoted(store_url=store).label == "v2"
            _tab(page, "Versions")
            expect(page.get_by_text("This version is the one Ask uses.")).to_be_visible(
                timeout=30_000
            )
            assert page.get_by_text("Traceback").count() == 0
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "prompt-lab-failure.png"), full_page=True)
            raise
