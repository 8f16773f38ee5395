"""The Training page in a real browser: a running app, Debian's Chromium, a real log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import need

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOG = "llamafactory_trainer_log__qwen2.5_7b_lora_3ep_with_eval__xueh88401.jsonl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().strip() == b"ok":
                    return True
        except OSError:
            time.sleep(0.3)
    return False


@pytest.fixture()
def app_url(tmp_path: Path):
    """`streamlit run app.py` on a free port with an empty data folder and no model."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env |= {
        "QUARRY_DATA_DIR": str(tmp_path / "data"),
        "QUARRY_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless=true",
            f"--server.port={port}",
            "--server.address=127.0.0.1",
            "--browser.gatherUsageStats=false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert _healthy(url, 60), "the app did not come up within 60 s"
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_real_log_shows_its_chart_and_diagnosis(app_url: str, shared_dir: Path) -> None:
    need(CHROMIUM.exists(), f"no Chromium at {CHROMIUM}", "QUARRY_REQUIRE_BROWSER")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=60_000)  # the first run builds the demo database
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        page.set_default_timeout(60_000)
        page.goto(app_url)
        # Until app.py has run once Streamlit lists the pages/ folder itself; wait for the router.
        expect(page.get_by_role("heading", name="Quarry")).to_be_visible()
        page.get_by_role("link", name="Training", exact=True).click()
        expect(page.get_by_text("Import a run")).to_be_visible()
        page.locator("input[type=file]").first.set_input_files(
            shared_dir / "data/training-logs" / LOG
        )

        expect(page.get_by_text("675 points", exact=False)).to_be_visible()
        chart = page.locator("[data-testid=stPlotlyChart]").first
        expect(chart).to_be_visible()
        expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
        expect(page.get_by_text("Diagnosis", exact=True)).to_be_visible()
        expect(page.get_by_text("overfitting, best step 4500")).to_be_visible()
        expect(page.get_by_text("The eval minimum is at step 4500", exact=False)).to_be_visible()
        expect(page.get_by_text("Showing ", exact=False).first).to_be_visible()
        traces = chart.locator(".scatterlayer .trace").count()
        page.screenshot(path=str(ARTIFACTS / "training_page.png"), full_page=True)
        browser.close()

    assert traces >= 3  # the raw train loss, its smoothed curve, the eval loss
