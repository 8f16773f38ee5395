"""A running Quarry and a real Chromium, for tests that look at the app as a user does."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT, need

CHROMIUM = Path("/usr/bin/chromium")
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
ARTIFACTS = ROOT / "tests" / "artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STREAMLIT_RUN = ["streamlit", "run", "app.py", "--server.headless", "true"]


@contextlib.contextmanager
def running_app(
    env: dict[str, str], command: list[str] | None = None, timeout_s: float = 90
) -> Iterator[str]:
    """Start the app (``streamlit run app.py`` unless `command` says otherwise) on a
    free port of 127.0.0.1; yields its base URL once ``/_stcore/health`` answers."""
    port = _free_port()
    argv = [
        a
        for a in (command or STREAMLIT_RUN)
        if not a.startswith(("--server.port", "--server.address"))
    ]
    if argv[0] == "streamlit":
        argv = [sys.executable, "-m", "streamlit", *argv[1:]]
    log = (ROOT / "tests" / "artifacts").joinpath(f"streamlit-{port}.log")
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
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
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                        if r.read() == b"ok":
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Quarry did not start; see {log}")
                time.sleep(0.5)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A Playwright page in Debian's Chromium (never a downloaded browser)."""
    need(
        CHROMIUM.exists(),
        f"Chromium not found at {CHROMIUM} (apt install chromium)",
        "QUARRY_REQUIRE_BROWSER",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()
