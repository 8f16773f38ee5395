"""Runs of an eval set: two prompt versions against a local model server, compared."""

from __future__ import annotations

import json
import re
import time

import pytest

from core import eval_runs, evalsets, prompts
from core.ask import ask
from core.errors import BadInput
from core.settings import Settings
from core.tokens import count_tokens
from tests.model_server import Reply

pytestmark = pytest.mark.mysql

CASES = [
    ("c01", "How many customers are there?", "SELECT COUNT(*) FROM Customer"),
    ("c02", "How many tracks are there?", "SELECT COUNT(*) FROM Track"),
    ("c04", "List the names of all genres.", "SELECT Name FROM Genre"),
    ("c20", "How many playlists are there?", "SELECT COUNT(*) FROM Playlist"),
]
RIGHT = {q: sql for _, q, sql in CASES}
# Without the instruction the scripted model counts the wrong table for two questions.
WRONG = {
    "How many tracks are there?": "SELECT COUNT(*) FROM Album",
    "How many playlists are there?": "SELECT COUNT(*) FROM PlaylistTrack",
}
INSTRUCTION = "Count rows of the table the question names, never of a related table."


def scripted(body: dict) -> Reply:
    """Answers per question, right for every question when the prompt has the instruction."""
    text = " ".join(m["content"] for m in body["messages"])
    question = re.search(r"Question: (.+)", body["messages"][-1]["content"]).group(1).strip()
    sql = RIGHT[question] if INSTRUCTION in text else WRONG.get(question, RIGHT[question])
    return Reply(f"```sql\n{sql}\n```")


@pytest.fixture()
def lab(store, model_server):
    settings = Settings.load(
        environ={
            "OPENAI_BASE_URL": model_server.url,
            "QUARRY_MODEL": "test-model",
            "QUARRY_MODEL_PRICES": "test-model=1.00/2.00",
        },
        secrets={},
    )
    chinook = evalsets.create_set("four", store_url=store)
    for key, question, sql in CASES:
        evalsets.add_case(chinook.id, question, sql, key=key, store_url=store)
    first = prompts.ensure_built_in(store_url=store)
    second = prompts.create_version(
        first.text.replace("Use only the tables", INSTRUCTION + "\nUse only the tables"),
        parent_id=first.id,
        note="count the named table",
        store_url=store,
    )
    model_server.responder = scripted
    return settings, chinook, first, second


def _job(lab, store, target, sides):
    settings, chinook, *_ = lab
    return eval_runs.RunJob(
        chinook.id, sides, target, settings, connection_name="chinook", store_url=store
    )


def test_two_versions_side_by_side_show_the_difference(lab, store, chinook_target):
    settings, chinook, first, second = lab
    sides = [eval_runs.model_side(first, "test-model"), eval_runs.model_side(second, "test-model")]
    progress = _job(lab, store, chinook_target, sides).run()
    assert progress.status == "done" and progress.done == progress.total == 8
    a, b = (eval_runs.load_run(i, store_url=store) for i in progress.run_ids)
    assert (a.correct, b.correct) == (2, 4)
    assert (a.accuracy, b.accuracy) == (0.5, 1.0)
    rows = eval_runs.compare(a, b)
    assert [r.key for r in rows[:2]] == ["c02", "c20"] and all(r.disagree for r in rows[:2])
    assert not any(r.disagree for r in rows[2:])
    assert rows[0].a.sql.endswith("FROM Album") and rows[0].a.status == "wrong"
    summary = b.summary(settings)
    assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0
    expected = (b.prompt_tokens * 1.0 + b.completion_tokens * 2.0) / 1_000_000
    assert summary["cost_usd"] == pytest.approx(expected)
    assert all(r.duration_ms > 0 for r in b.results)
    (batch,) = eval_runs.batches(chinook.id, store_url=store)
    assert batch.run_ids == tuple(progress.run_ids) and batch.labels == (a.label, b.label)


def test_the_offline_engine_is_a_side_too(lab, store, chinook_target):
    settings, _, first, _ = lab
    progress = _job(
        lab, store, chinook_target, [eval_runs.OFFLINE, eval_runs.model_side(first, "test-model")]
    ).run()
    offline, model = (eval_runs.load_run(i, store_url=store) for i in progress.run_ids)
    assert offline.correct == 4 and offline.cost_usd(settings) == 0.0
    assert offline.prompt_tokens == 0 and model.correct == 2


def test_a_run_can_be_stopped_and_keeps_what_it_did(lab, store, chinook_target, model_server):
    _, chinook, first, second = lab

    def slow(body):
        time.sleep(0.3)
        return scripted(body)

    model_server.responder = slow
    sides = [eval_runs.model_side(first, "test-model"), eval_runs.model_side(second, "test-model")]
    job = _job(lab, store, chinook_target, sides).start()
    deadline = time.monotonic() + 30
    while job.snapshot().done < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    job.stop()
    assert job.wait(30)
    progress = job.snapshot()
    assert progress.status == "stopped" and 1 <= progress.done < progress.total
    saved = [eval_runs.load_run(i, store_url=store) for i in progress.run_ids]
    assert sum(len(r.results) for r in saved) == progress.done
    assert {r.status for r in saved} == {"stopped"}


def test_an_unreachable_model_is_an_error_per_case_not_a_crash(lab, store, chinook_target):
    settings, chinook, first, _ = lab
    broken = settings.replace(openai_base_url="http://127.0.0.1:1/v1")
    job = eval_runs.RunJob(
        chinook.id,
        [eval_runs.model_side(first, "test-model")],
        chinook_target,
        broken,
        connection_name="chinook",
        store_url=store,
    )
    progress = job.run()
    (run,) = [eval_runs.load_run(i, store_url=store) for i in progress.run_ids]
    assert progress.status == "done" and {r.status for r in run.results} == {"error"}
    assert "Could not reach" in run.results[0].error


def test_a_set_without_gold_sql_cannot_run(lab, store, chinook_target):
    settings, *_ = lab
    flags = evalsets.create_set("flags only", store_url=store)
    evalsets.add_case(flags.id, "Show the titles.", ambiguous=True, store_url=store)
    with pytest.raises(BadInput, match="no case with gold SQL"):
        eval_runs.RunJob(
            flags.id,
            [eval_runs.OFFLINE],
            chinook_target,
            settings,
            connection_name="c",
            store_url=store,
        )


def test_tokens_are_counted_locally_when_the_server_reports_none(model_server, chinook_target):
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "SELECT COUNT(*) FROM Track"},
            }
        ],
    }
    model_server.replies.append(Reply(raw=json.dumps(body).encode()))
    settings = Settings.load(environ={"OPENAI_BASE_URL": model_server.url}, secrets={})
    result = ask("How many tracks?", chinook_target, settings, engine="openai")
    assert result.ok
    sent = model_server.requests[0]["body"]["messages"]
    assert result.prompt_tokens == sum(count_tokens(m["content"]) for m in sent)
    assert result.completion_tokens == count_tokens("SELECT COUNT(*) FROM Track")
