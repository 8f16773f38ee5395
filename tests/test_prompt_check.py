"""The prompt check: golden templates with the findings each must (and must not) raise."""

from __future__ import annotations

import json

import pytest

from core.glossary import BusinessTerm, Glossary
from core.prompt import DEFAULT_TEMPLATE
from core.prompt_check import apply_finding, check_prompt, critic_findings
from core.settings import Settings
from tests.golden import local_cases


@pytest.mark.mysql
@pytest.mark.parametrize("case", local_cases("prompt-checks.jsonl"))
def test_each_golden_template(case, chinook_target):
    template = DEFAULT_TEMPLATE if case["template"] == "@DEFAULT" else case["template"]
    found = check_prompt(template, schema=chinook_target.schema, dialect_name="MariaDB")
    for expected in case["expect"]:
        match = [f for f in found if f.kind == expected["kind"] and f.text == expected["text"]]
        assert match, (expected, found)
        finding = match[0]
        assert template[finding.start : finding.end] == finding.text
        assert finding.message and finding.suggestion
        if "replacement" in expected:
            assert finding.replacement == expected["replacement"]
    for kind in case.get("absent", []):
        assert kind not in {f.kind for f in found}, found
    if not case["expect"]:
        assert [f for f in found if f.kind in case.get("absent", [f.kind])] == []


@pytest.mark.mysql
def test_applying_a_suggestion_fixes_the_finding(chinook_target):
    template = "Return only the SQL.\n{schema}\nQuestion: {questoin}"
    found = check_prompt(template, schema=chinook_target.schema)
    for kind in ("placeholder", "dialect"):
        finding = next(f for f in found if f.kind == kind and f.replacement)
        template = apply_finding(template, finding)
    assert "{question}" in template and template.startswith("You write SQL for a {dialect}")
    assert check_prompt(template, schema=chinook_target.schema) == []


def test_the_glossary_explains_an_abbreviation():
    template = (
        "You write {dialect} SQL. Report ARPU per country. Return only the SQL.\n{schema}{question}"
    )
    assert [f.kind for f in check_prompt(template)] == ["abbreviation"]
    glossary = Glossary(terms=[BusinessTerm("ARPU", "revenue per customer")])
    assert check_prompt(template, glossary=glossary) == []


def test_the_critic_adds_its_own_findings_marked_as_such(model_server):
    model_server.say(
        "Here is my review:\n```json\n"
        + json.dumps(
            [
                {"quote": "nothing else", "problem": "Too strict for errors.", "rewrite": "only"},
                {"quote": "not in the text", "problem": "Unplaced.", "rewrite": ""},
            ]
        )
        + "\n```"
    )
    settings = Settings.load(
        environ={"OPENAI_BASE_URL": model_server.url, "QUARRY_MODEL": "test-model"}, secrets={}
    )
    from core.generate_sql import make_client

    found = critic_findings(DEFAULT_TEMPLATE, make_client(settings), settings)
    assert [f.source for f in found] == ["critic", "critic"]
    placed = found[0]
    assert DEFAULT_TEMPLATE[placed.start : placed.end] == "nothing else"
    assert apply_finding(DEFAULT_TEMPLATE, placed).count("nothing else") == 0
    assert found[1].replacement is None
    sent = model_server.requests[0]["body"]["messages"]
    assert "JSON array" in sent[0]["content"] and DEFAULT_TEMPLATE in sent[1]["content"]


def test_a_critic_answer_that_is_not_json_is_a_clear_error(model_server):
    from core.errors import ModelUnavailable
    from core.generate_sql import make_client

    model_server.say("Looks fine to me!")
    settings = Settings.load(environ={"OPENAI_BASE_URL": model_server.url}, secrets={})
    with pytest.raises(ModelUnavailable, match="JSON"):
        critic_findings(DEFAULT_TEMPLATE, make_client(settings), settings)
