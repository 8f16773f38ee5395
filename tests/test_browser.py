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
