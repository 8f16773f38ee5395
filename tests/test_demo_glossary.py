"""The glossary at work: the demo's questions before and after its meanings are recorded.

The glossary here is what curation on the Profile page leads to: the ground truth's
column meanings, and its case and spelling variants as value synonyms.
"""

from __future__ import annotations

import pytest

from core.evaluate import evaluate, load_cases
from core.glossary import ColumnMeaning, Glossary, ValueSynonym
from core.settings import Settings
from core.target import open_target
from db.demo import ensure_demo
from db.demo.truth import load_ground_truth
from tests.conftest import ROOT

CASES = ROOT / "tests" / "cases" / "ask-demo.jsonl"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    target = open_target(
        ensure_demo(tmp_path_factory.mktemp("demo") / "demo.sqlite"), Settings.load()
    )
    yield target
    target.close()


def curated_glossary() -> Glossary:
    truth = load_ground_truth()
    synonyms = []
    for flaw in truth["inconsistencies"]:
        if flaw["kind"] in ("case_whitespace_variants", "variants"):
            canonical, *others = flaw["examples"]
            synonyms += [ValueSynonym(flaw["table"], flaw["column"], o, canonical) for o in others]
    meanings = [
        ColumnMeaning(c["table"], c["column"], c["meaning"]) for c in truth["cryptic_columns"]
    ]
    return Glossary(meanings=meanings, synonyms=synonyms)


def test_the_glossary_lets_the_offline_engine_answer_what_it_declined(demo):
    cases = load_cases(CASES)
    raw = evaluate(cases, demo, Settings.load(), engine="offline")
    curated = evaluate(cases, demo, Settings.load(), engine="offline", glossary=curated_glossary())
    wrong = {
        name: [r.id for r in report.results if r.status == "wrong"]
        for name, report in (("raw", raw), ("curated", curated))
    }
    print(
        f"demo questions: raw schema {raw.correct}/{raw.cases}, with the glossary "
        f"{curated.correct}/{curated.cases}; wrong: {wrong}"
    )
    assert wrong == {"raw": [], "curated": []}, "declining beats guessing"
    assert curated.accuracy >= 0.8 and curated.correct >= raw.correct + 10
    # a question of each kind that only the glossary answers
    before = {r.id: r.status for r in raw.results}
    after = {r.id: r.status for r in curated.results}
    for case in ("d10", "d18", "d19"):  # monthly recurring charge; enterprise; Texas variants
        assert (before[case], after[case]) == ("declined", "correct"), case


def test_an_abbreviation_without_its_unit_names_the_column(demo):
    """Analysts say "mrc" for mrc_amt: the unit word is left off."""
    from core.ask import ask

    result = ask("What is the total mrc of circuits?", demo, Settings.load(), engine="offline")
    assert result.ok and "SUM(mrc_amt)" in result.sql, (result.error, result.sql)
