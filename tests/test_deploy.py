"""The Dockerfile's steps, run here since no Docker engine is: install, start, health."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from tests.browser import running_app
from tests.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _env() -> dict[str, str]:
    values = {}
    for word, rest in _instructions():
        if word == "ENV":
            values.update(dict(pair.split("=", 1) for pair in rest.split()))
    return values


def test_the_image_installs_the_pinned_requirements():
    runs = [rest for word, rest in _instructions() if word == "RUN"]
    assert any(re.search(r"pip install .*-r requirements\.txt", r) for r in runs)
    # The same requirements resolve, and are what this test environment runs on.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "-r", "requirements.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Would install" not in done.stdout, done.stdout[-2000:]


@pytest.mark.mysql
def test_the_image_command_starts_a_team_deployment_on_a_mariadb_store(tmp_path, scratch_mysql):
    command = json.loads(next(rest for word, rest in _instructions() if word == "CMD"))
    env = {**_env(), "QUARRY_DATA_DIR": str(tmp_path), "QUARRY_STORE_URL": scratch_mysql}
    assert env["QUARRY_TEAM_MODE"] == "1"
    with running_app(env, command=command) as base:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as answer:
            assert answer.read() == b"ok"
        with urllib.request.urlopen(base, timeout=5) as page:
            assert page.status == 200
    added = subprocess.run(
        [sys.executable, "-m", "core", "add-user", "admin", "--password-stdin"],
        cwd=ROOT,
        input="a-long-password\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
