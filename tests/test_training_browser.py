"""The Training page in a real browser: a running app, Debian's Chromium, a real log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, chromium_page, running_app

pytestmark = pytest.mark.browser

LOG = "llamafactory_trainer_log__qwen2.5_7b_lora_3ep_with_eval__xueh88401.jsonl"


@pytest.fixture()
def app_url(tmp_path: Path):
    """The app with an empty data folder and no model."""
    env = {
        "QUARRY_DATA_DIR": str(tmp_path / "data"),
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "QUARRY_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
    }
    with running_app(env) as url:
        yield url


def test_a_real_log_shows_its_chart_and_diagnosis(app_url: str, shared_dir: Path) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=60_000)  # the first run builds the demo database
    with chromium_page(height=2600) as page:
        page.goto(app_url)
        expect(page.get_by_role("heading", name="Quarry")).to_be_visible()
        page.get_by_role("link", name="Training", exact=True).click()
        expect(page.get_by_text("Import a run")).to_be_visible()
        page.locator("input[type=file]").first.set_input_files(
            shared_dir / "data/training-logs" / LOG
        )

        read = page.get_by_test_id("stAlertContentSuccess")  # not the charts' captions
        expect(read.get_by_text("675 points", exact=False)).to_be_visible()
        chart = page.locator("[data-testid=stPlotlyChart]").first
        expect(chart).to_be_visible()
        expect(chart.locator(".scatterlayer .trace").first).to_be_attached()
        expect(page.get_by_text("Diagnosis", exact=True)).to_be_visible()
        expect(page.get_by_text("overfitting, best step 4500")).to_be_visible()
        expect(page.get_by_text("The eval minimum is at step 4500", exact=False)).to_be_visible()
        expect(page.get_by_text("Showing ", exact=False).first).to_be_visible()
        traces = chart.locator(".scatterlayer .trace").count()
        page.screenshot(path=str(ARTIFACTS / "training_page.png"), full_page=True)

    assert traces >= 3  # the raw train loss, its smoothed curve, the eval loss


def test_a_second_log_fills_the_save_form_with_its_own_values(app_url: str, shared_dir: Path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    logs = shared_dir / "data/training-logs"
    first = "hf_trainer_state__tinyllama_sft_2ep_with_eval__Dheena731.json"
    second = "hf_trainer_state__whisper_ja_38ep_train_eval_divergence__P4P4N1CK.json"
    with chromium_page(height=2600) as page:
        page.goto(app_url)
        page.get_by_role("link", name="Training", exact=True).click()
        main = page.locator("[data-testid=stMain]")
        upload = page.locator("input[type=file]").first
        upload.set_input_files(logs / first)
        expect(page.get_by_text(f"Read {first}", exact=False)).to_be_visible()
        page.get_by_text("Save this run with its hyperparameters").click()
        name = main.get_by_label("Name", exact=True)
        expect(name).to_have_value(Path(first).stem)
        epochs = main.get_by_label("Epochs", exact=True)
        first_epochs = epochs.input_value()

        upload.set_input_files(logs / second)
        expect(page.get_by_text(f"Read {second}", exact=False)).to_be_visible()
        # the first file's form stays in the page until the run that replaces it ends
        expect(main.get_by_label("Name", exact=True)).to_have_count(1)
        if not main.get_by_label("Name", exact=True).is_visible():
            page.get_by_text("Save this run with its hyperparameters").click()
        expect(main.get_by_label("Name", exact=True)).to_have_value(Path(second).stem)
        expect(main.get_by_label("Epochs", exact=True)).to_have_value("39")
    assert first_epochs != "39"
