"""The model path, against a real local OpenAI-compatible server."""

from __future__ import annotations

import time

import pytest

from core.ask import ask
from core.settings import Settings
from tests.model_server import Reply

pytestmark = pytest.mark.mysql


def settings_for(server, **changes) -> Settings:
    return Settings.load(
        environ={
            "OPENAI_BASE_URL": server.url,
            "OPENAI_API_KEY": "sk-test-not-a-real-key",
            "QUARRY_MODEL": "test-model",
        },
        secrets={},
    ).replace(**changes)


def test_a_plain_answer_runs_and_the_prompt_carries_what_the_model_needs(
    model_server, chinook_target
):
    model_server.say("SELECT COUNT(*) FROM Track")
    result = ask(
        "How many tracks are there?", chinook_target, settings_for(model_server), engine="openai"
    )
    assert result.ok, result.error
    assert result.rows == [(3503,)]
    prompt = " ".join(m["content"] for m in model_server.requests[0]["body"]["messages"])
    assert "MariaDB" in prompt and chinook_target.server.version in prompt
    assert "CREATE TABLE `Track`" in prompt and "How many tracks are there?" in prompt
    assert model_server.requests[0]["body"]["model"] == "test-model"
    assert result.engine == "openai:test-model"


def test_a_fenced_answer_wrapped_in_prose(model_server, chinook_target):
    model_server.say("Sure!\n```sql\nSELECT Name FROM Genre ORDER BY Name LIMIT 3;\n```\nEnjoy.")
    result = ask("Three genres?", chinook_target, settings_for(model_server), engine="openai")
    assert result.ok and [r[0] for r in result.rows] == [
        "Alternative",
        "Alternative & Punk",
        "Blues",
    ]


def test_one_repair_round_sends_the_error_back(model_server, chinook_target):
    model_server.say("SELECT COUNT(*) FROM Tracks", "SELECT COUNT(*) FROM Track")
    result = ask("How many tracks?", chinook_target, settings_for(model_server), engine="openai")
    assert result.ok and result.rows == [(3503,)]
    assert len(result.attempts) == 1 and "Tracks" in result.attempts[0]["error"]
    follow_up = model_server.requests[1]["body"]["messages"][-1]["content"]
    assert "Unknown table" in follow_up and "Tracks" in follow_up


def test_a_model_answering_drop_gets_the_guards_reason(model_server, chinook_target):
    model_server.say(*["```sql\nDROP TABLE Genre;\n```"] * 2)
    settings = settings_for(model_server, max_repairs=1)
    result = ask("Drop the genres", chinook_target, settings, engine="openai")
    assert result.status == "rejected" and "changes the schema" in result.error, result.error
    assert len(result.attempts) == 2, "it was sent back once for a repair"


def test_a_syntax_error_goes_back_for_repair(model_server, chinook_target):
    model_server.say("```sql\nSELEC * FRM Track\n```", "```sql\nSELECT COUNT(*) FROM Track\n```")
    result = ask("How many tracks?", chinook_target, settings_for(model_server), engine="openai")
    assert result.ok and result.rows == [(3503,)], (result.error, result.attempts)
    assert "SELEC" in result.attempts[0]["error"]


def test_repairs_stop_after_the_setting(model_server, chinook_target):
    model_server.say(*["SELECT nope FROM Track"] * 5)
    result = ask(
        "How many tracks?",
        chinook_target,
        settings_for(model_server, max_repairs=2),
        engine="openai",
    )
    assert result.status == "rejected"
    assert len(model_server.requests) == 3


def test_a_database_error_is_repaired_too(model_server, chinook_target):
    model_server.say(
        "SELECT COUNT(*) FROM Track WHERE Milliseconds > (SELECT Milliseconds FROM Track)",
        "SELECT COUNT(*) FROM Track WHERE Milliseconds > 300000",
    )
    result = ask("Long tracks?", chinook_target, settings_for(model_server), engine="openai")
    assert result.ok and result.rows[0][0] > 0
    assert "more than 1 row" in result.attempts[0]["error"]


def test_a_server_error_is_a_clear_message(model_server, chinook_target):
    model_server.replies.append(Reply(status=500))
    result = ask("How many tracks?", chinook_target, settings_for(model_server), engine="openai")
    assert result.status == "model_error" and "HTTP 500" in result.error
    assert "offline" in result.hint


def test_a_hang_past_the_timeout(model_server, chinook_target):
    model_server.replies.append(Reply("SELECT 1", delay_s=5))
    started = time.perf_counter()
    result = ask(
        "How many tracks?",
        chinook_target,
        settings_for(model_server, model_timeout_s=1),
        engine="openai",
    )
    assert time.perf_counter() - started < 4
    assert result.status == "model_error" and "within 1 s" in result.error


def test_garbage_instead_of_a_completion(model_server, chinook_target):
    model_server.replies.append(Reply(raw=b"<html>not an API</html>"))
    result = ask("How many tracks?", chinook_target, settings_for(model_server), engine="openai")
    assert result.status == "model_error"


def test_an_answer_without_sql_runs_nothing(model_server, chinook_target):
    model_server.say("I cannot answer that: the schema has no table about weather.")
    result = ask("Will it rain?", chinook_target, settings_for(model_server), engine="openai")
    assert result.status == "no_sql" and "weather" in result.answer_text and result.sql is None


def test_an_unreachable_model_server(chinook_target):
    settings = Settings.load(environ={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, secrets={})
    result = ask("How many tracks?", chinook_target, settings, engine="openai")
    assert result.status == "model_error" and "Could not reach" in result.error
