"""The command line, run as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.mysql
def test_ask_prints_the_documented_json(chinook_url, tmp_path):
    run = cli(
        "ask",
        "--url",
        chinook_url,
        "How many customers are from Brazil?",
        "--json",
        env={"QUARRY_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"},
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {
        "question",
        "sql",
        "engine",
        "columns",
        "rows",
        "row_count",
        "truncated",
        "error",
    } <= set(data)
    assert data["rows"] == [[5]] and data["engine"] == "offline" and data["error"] is None


@pytest.mark.mysql
def test_an_ambiguous_question_is_asked_back_unless_asked_as_written(chinook_url, tmp_path):
    env = {"QUARRY_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    question = "What is the total for Canada?"  # a08: customers', employees' or invoices'?
    back = cli("ask", "--url", chinook_url, question, "--json", env=env)
    data = json.loads(back.stdout)
    assert back.returncode == 1 and data["status"] == "ambiguous" and data["sql"] is None
    assert "Invoice.BillingCountry" in data["error"] and data["findings"][0]["kind"] == "value"
    written = cli("ask", "--url", chinook_url, question, "--as-written", "--json", env=env)
    assert written.returncode == 0 and json.loads(written.stdout)["row_count"] == 1


@pytest.mark.mysql
def test_a_run_is_kept_under_the_connection_name_the_app_uses(chinook_url, tmp_path):
    from core import history

    store = f"sqlite:///{tmp_path / 'store.db'}"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[connections.chinook]\nurl = "{chinook_url}"\n')
    env = {"QUARRY_STORE_URL": store, "QUARRY_SECRETS_FILE": str(secrets)}
    assert cli("ask", "--url", chinook_url, "How many tracks are there?", env=env).returncode == 0
    (run,) = history.recent(store_url=store)
    assert run.connection_name == "chinook"


@pytest.mark.mysql
def test_eval_meets_the_bar_on_chinook(chinook_url, shared_dir):
    run = cli(
        "eval",
        "--url",
        chinook_url,
        "--cases",
        str(shared_dir / "cases/ask-chinook.jsonl"),
        "--json",
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    wrong = [r for r in data["results"] if r["status"] == "wrong"]
    assert data["cases"] == len(data["results"]) and data["accuracy"] >= 0.85 and len(wrong) <= 1
    assert {r["status"] for r in data["results"]} <= {"correct", "wrong", "declined", "error"}


@pytest.mark.mysql
def test_guard_agrees_with_every_case(chinook_url, shared_dir):
    run = cli(
        "guard",
        "--url",
        chinook_url,
        "--cases",
        str(shared_dir / "cases/sql-guard-chinook.jsonl"),
        "--json",
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["agree"] == data["cases"] == 30
    refused = cli("guard", "--url", chinook_url, "--sql", "DROP TABLE Genre", "--json")
    one = json.loads(refused.stdout)
    assert one["verdict"] == "reject" and "schema" in one["reason"]
    assert refused.returncode == 1, "a script can stop on a refused query"
    allowed = cli("guard", "--url", chinook_url, "--sql", "SELECT 1 FROM Genre", "--json")
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["verdict"] == "allow"


@pytest.mark.parametrize(
    "args, says",
    [
        (["ask", "--url", "nonsense://x", "q"], "does not support"),
        (["ask", "--url", "mysql+pymysql://root:hunter2@127.0.0.1:1/x", "q"], "did not answer"),
        (["ask", "--url", "not a url at all", "q"], "not a database URL"),
        (["eval", "--url", "sqlite://", "--cases", "/no/such/file.jsonl"], "No cases file"),
        (
            ["ask", "--url", "mysql+pymysql://root:hunter2@127.0.0.1:3306/Chinook", "q"],
            "refused the user name or password",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args, says):
    run = cli(*args)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in run.stderr
    assert "hunter2" not in run.stderr + run.stdout


@pytest.mark.mysql
def test_a_declined_question_exits_1_and_says_why(chinook_url, tmp_path):
    run = cli(
        "ask",
        "--url",
        chinook_url,
        "What is the meaning of life?",
        "--json",
        env={"QUARRY_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"},
    )
    assert run.returncode == 1
    assert json.loads(run.stdout)["error"]
