"""A look at the running app in a real browser: ask Chinook a question."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, chromium_page, running_app


@pytest.mark.browser
@pytest.mark.mysql
def test_ask_chinook_in_the_browser(tmp_path, chinook_url):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[connections.chinook]\nurl = "{chinook_url}"\n')
    env = {
        "QUARRY_DATA_DIR": str(tmp_path / "data"),
        "QUARRY_SECRETS_FILE": str(secrets),
        "QUARRY_DEFAULT_CONNECTION": "chinook",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
    }
    with running_app(env) as base, chromium_page(height=2200) as page:
        page.goto(f"{base}/ask")
        page.get_by_label("Question").fill("How many tracks are in each genre?")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator(".js-plotly-plot").first.wait_for()
        page.locator("p:visible", has_text="25 rows").first.wait_for()
        page.wait_for_timeout(1000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ask-chinook.png"), full_page=True)
        assert page.get_by_text("genre", exact=True).count() >= 1
        assert page.locator("text=Traceback").count() == 0


@pytest.mark.browser
@pytest.mark.mysql
def test_team_mode_end_to_end_on_a_mariadb_store(tmp_path, scratch_mysql):
    """Log in, ask, see one's own history, log out: a shared deployment as a user meets it."""
    import os
    import subprocess
    import sys

    from playwright.sync_api import expect

    from tests.conftest import ROOT

    env = {
        "QUARRY_DATA_DIR": str(tmp_path / "data"),
        "QUARRY_STORE_URL": scratch_mysql,
        "QUARRY_TEAM_MODE": "1",
        "QUARRY_SECRETS_FILE": str(tmp_path / "none.toml"),
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
    }
    for name in ("ann", "bob"):
        subprocess.run(
            [sys.executable, "-m", "core", "add-user", name, "--password-stdin"],
            cwd=ROOT,
            input=f"{name}-secret-password\n",
            text=True,
            check=True,
            env={**os.environ, **env},
            capture_output=True,
            timeout=120,
        )
    with running_app(env) as base, chromium_page(height=1800) as page:
        page.goto(base)
        page.get_by_label("User name").fill("ann")
        page.get_by_role("textbox", name="Password").fill("ann-secret-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Logged in as").wait_for()
        # Navigate inside the session: a fresh page load is a new, logged-out session.
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Ask", exact=True).click()
        page.get_by_label("Question").fill("How many customers are there?")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator("p:visible", has_text="1 row").first.wait_for()
        page.get_by_text("History").first.wait_for()
        page.wait_for_timeout(1500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "team-ask.png"), full_page=True)
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("button", name="Log in").wait_for()

        page.get_by_label("User name").fill("bob")
        page.get_by_role("textbox", name="Password").fill("bob-secret-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Logged in as").wait_for()
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Ask", exact=True).click()
        page.get_by_text("No runs yet on this connection.").wait_for()
        # polled: the page of the run before may linger while this one is drawn
        expect(page.get_by_text("How many customers are there?")).to_have_count(0)
        expect(page.get_by_label("Question")).to_have_value("")
