"""Token counts work on a machine without internet: the encoding ships with the install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

COUNT = "from core.tokens import count_tokens; print(count_tokens('SELECT COUNT(*) FROM Customer'))"
# What tiktoken would do without the shipped encoding: fetch cl100k_base from the network.
DOWNLOAD = "import tiktoken; tiktoken.get_encoding('cl100k_base')"


def _offline_env(tmp_path) -> dict:
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens
    return {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache),
        "DATA_GYM_CACHE_DIR": str(cache),
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_PROXY": "",
        "no_proxy": "",
    }


def _run(prefix: list[str], code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _no_network_prefix() -> list[str] | None:
    """`unshare -n` when this machine allows a process its own empty network namespace."""
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return ["unshare", "-n"] if probe.returncode == 0 else None


def test_counting_needs_no_network_through_dead_proxies(tmp_path):
    env = _offline_env(tmp_path)
    assert _run([], DOWNLOAD, env).returncode != 0  # the network really is unusable
    counted = _run([], COUNT, env)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.strip() == "5"


def test_counting_needs_no_network_in_an_empty_network_namespace(tmp_path):
    prefix = _no_network_prefix()
    if prefix is None:
        pytest.skip("unshare -n is not allowed here; the proxy test covers the same ground")
    env = _offline_env(tmp_path)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name)
    assert _run(prefix, DOWNLOAD, env).returncode != 0
    counted = _run(prefix, COUNT, env)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.strip() == "5"
