"""Driving the app with Streamlit's AppTest, through the router as a browser would."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

# The router run from tests/router/ (see that file for why not app.py itself).
ROUTER = ROOT / "tests" / "router" / "app.py"


def start(page: str | None = None, timeout: float = 180) -> AppTest:
    """The app after its first run, switched to `page` (e.g. "pages/ask.py") if given."""
    at = AppTest.from_file(str(ROUTER), default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(str(ROOT / page))
        at.run()
    assert not at.exception, at.exception
    return at


def click(at: AppTest, label: str, *, contains: bool = False) -> AppTest:
    """Click the first button with this label (or containing it), then run."""
    buttons = [b for b in at.button if (label in b.label if contains else b.label == label)]
    assert buttons, f"no button {label!r} among {[b.label for b in at.button]}"
    buttons[0].click()
    at.run()
    assert not at.exception, at.exception
    return at
