"""Prompt versions in the store, and the store tables they and the eval runs live in."""

from __future__ import annotations

import pytest

from core import prompts
from core.errors import BadInput
from core.prompt import DEFAULT_TEMPLATE


def test_the_first_version_is_the_built_in_template(store):
    first = prompts.ensure_built_in(store_url=store)
    assert first.text == DEFAULT_TEMPLATE and first.parent_id is None
    assert prompts.ensure_built_in(store_url=store).id == first.id
    assert prompts.promoted(store_url=store) is None
    assert prompts.promoted_template(store_url=store) == DEFAULT_TEMPLATE


def test_a_change_is_a_new_version_diffed_against_its_parent_and_promoted(store):
    first = prompts.ensure_built_in(store_url=store)
    text = first.text.replace("Write exactly one", "Write one")
    second = prompts.create_version(
        text, parent_id=first.id, note="shorter", author="ana", store_url=store
    )
    assert (second.parent_id, second.note, second.author) == (first.id, "shorter", "ana")
    assert prompts.get_version(first.id, store_url=store).text == DEFAULT_TEMPLATE
    diff = prompts.diff(second, store_url=store)
    assert f"--- v{first.id}" in diff and f"+++ v{second.id}" in diff
    assert "-Write exactly one" in diff and "+Write one" in diff
    assert prompts.diff(first, store_url=store) == ""
    prompts.promote(second.id, author="ana", store_url=store)
    assert prompts.promoted_template(store_url=store) == text
    prompts.promote(first.id, store_url=store)
    assert prompts.promoted(store_url=store).id == first.id
    assert [v.id for v in prompts.versions(store_url=store)] == [second.id, first.id]


@pytest.mark.parametrize(
    "text, note, message",
    [
        ("", "x", "empty"),
        ("Question: {question}", "x", "no {schema}"),
        ("{schema} {question} {0}", "x", "Unknown placeholder"),
        ("{schema} {question} {", "x", "braces"),
        ("{schema} {question} {dialekt}", "x", "{dialekt}"),
        ("{schema} {question}", "  ", "note"),
    ],
)
def test_a_template_that_would_not_render_is_refused(store, text, note, message):
    first = prompts.ensure_built_in(store_url=store)
    with pytest.raises(BadInput, match=message.replace("{", r"\{").replace("}", r"\}")):
        prompts.create_version(text, parent_id=first.id, note=note, store_url=store)


def test_an_unchanged_text_or_a_missing_parent_is_refused(store):
    first = prompts.ensure_built_in(store_url=store)
    with pytest.raises(BadInput, match="same as"):
        prompts.create_version(first.text, parent_id=first.id, note="n", store_url=store)
    with pytest.raises(BadInput, match="no prompt version 999"):
        prompts.create_version("{schema}{question}", parent_id=999, note="n", store_url=store)
    with pytest.raises(BadInput, match="no prompt version 999"):
        prompts.promote(999, store_url=store)


@pytest.mark.mysql
def test_the_command_line_sends_the_promoted_version(store, chinook_url, model_server):
    from tests.test_cli import cli

    first = prompts.ensure_built_in(store_url=store)
    marked = prompts.create_version(
        first.text.replace("Schema:", "MARKER-CLI\nSchema:"),
        parent_id=first.id,
        note="marker",
        store_url=store,
    )
    prompts.promote(marked.id, store_url=store)
    model_server.say("SELECT COUNT(*) FROM Track", "SELECT COUNT(*) FROM Track")
    env = {"QUARRY_STORE_URL": store, "OPENAI_BASE_URL": model_server.url, "OPENAI_API_KEY": ""}
    run = cli("ask", "--url", chinook_url, "How many tracks?", "--engine", "openai", env=env)
    assert run.returncode == 0, run.stderr
    sent = " ".join(m["content"] for m in model_server.requests[-1]["body"]["messages"])
    assert "MARKER-CLI" in sent
    run = cli(
        "ask",
        "--url",
        chinook_url,
        "How many tracks?",
        "--engine",
        "openai",
        "--prompt-version",
        str(first.id),
        env=env,
    )
    assert run.returncode == 0, run.stderr
    sent = " ".join(m["content"] for m in model_server.requests[-1]["body"]["messages"])
    assert "MARKER-CLI" not in sent
    bad = cli(
        "ask", "--url", chinook_url, "q", "--engine", "openai", "--prompt-version", "99", env=env
    )
    assert bad.returncode == 2 and "no prompt version 99" in bad.stderr


def test_a_changed_final_line_break_is_marked_in_the_diff(store):
    first = prompts.ensure_built_in(store_url=store)
    flipped = first.text[:-1] if first.text.endswith("\n") else first.text + "\n"
    second = prompts.create_version(flipped, parent_id=first.id, note="eol", store_url=store)
    diff = prompts.diff(second, store_url=store)
    assert "\\ No newline at end of text" in diff
