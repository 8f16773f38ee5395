"""The question check on Chinook: ambiguous questions flagged with readings, clear ones not."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from core.ambiguity import check_question, check_target, latest_dates, rewrite
from core.ask import ask
from core.evaluate import ambiguity_report, judge, load_cases
from core.glossary import Glossary
from core.settings import Settings
from tests.golden import cases, local_cases, present
from tests.test_cli import cli

pytestmark = pytest.mark.mysql

SETTINGS = Settings.load()
TODAY = dt.date(2026, 12, 3)  # Chinook's newest invoice is from 2025-12-22


def _check(question, target, **kwargs):
    return check_target(question, target, today=TODAY, **kwargs)


@pytest.mark.parametrize(
    "case", cases("cases/ambiguity-chinook.jsonl") + local_cases("ambiguity-more.jsonl")
)
def test_each_question_is_flagged_as_its_case_says(case, chinook_target):
    case = present(case)
    check = _check(case["question"], chinook_target)
    assert check.clear is not case["ambiguous"], check.to_json()
    for finding in check.findings:
        assert finding.message and finding.readings, finding
        assert case["question"][finding.start : finding.end] == finding.text
        if case.get("kind") and case["kind"] != "column":
            assert case["kind"] in {f.kind for f in check.findings}


@pytest.mark.parametrize("case", cases("cases/ask-chinook.jsonl"))
def test_the_clear_questions_the_engine_answers_stay_clear(case, chinook_target):
    case = present(case)
    assert _check(case["question"], chinook_target).clear


def test_recall_and_false_alarms_meet_the_bar(chinook_target, shared_dir):
    report = ambiguity_report(
        load_cases(shared_dir / "cases/ambiguity-chinook.jsonl"), chinook_target, today=TODAY
    )
    assert report["cases"] == 20
    assert report["recall"] >= 0.9 and report["false_alarm_rate"] <= 0.1


def test_eval_adds_the_ambiguity_figures(chinook_url, shared_dir, tmp_path):
    run = cli(
        "eval",
        "--url",
        chinook_url,
        "--cases",
        str(shared_dir / "cases/ambiguity-chinook.jsonl"),
        "--json",
        env={"QUARRY_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"},
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data["ambiguity"]) == {
        "cases",
        "flagged",
        "missed",
        "false_alarms",
        "recall",
        "false_alarm_rate",
    }
    # the cases carry no gold SQL: they count for the check alone
    assert data["cases"] == 0 and data["ambiguity"]["cases"] == 20
    assert data["ambiguity"]["recall"] >= 0.9 and data["ambiguity"]["false_alarm_rate"] <= 0.1
    assert len(data["ambiguity_results"]) == 20


def test_a_case_with_sql_and_a_flag_counts_for_both(chinook_url, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "x",
                "question": "How many playlists are there?",
                "ambiguous": False,
                "sql": "SELECT COUNT(*) FROM Playlist",
            }
        )
        + "\n"
        + json.dumps({"id": "y", "question": "Show the titles.", "ambiguous": True})
        + "\n"
    )
    data = json.loads(cli("eval", "--url", chinook_url, "--cases", str(path), "--json").stdout)
    assert data["cases"] == 1 and data["correct"] == 1
    assert data["ambiguity"]["cases"] == 2 and data["ambiguity"]["flagged"] == 1


def test_a_column_finding_says_its_readings_and_rewrites_the_question(chinook_target):
    check = _check("Which city has the most sales?", chinook_target)
    (finding,) = check.findings
    assert finding.kind == "entity" and finding.text == "city"
    definitions = [r.definition for r in finding.readings]
    assert definitions[:3] == ["Customer.City", "Employee.City", "Invoice.BillingCity"]
    assert (
        rewrite(check.question, [(finding, finding.readings[2])])
        == "Which billing city has the most sales?"
    )


def test_a_saved_reading_settles_the_question_and_is_applied(chinook_target):
    check = _check("List the names.", chinook_target)
    finding = check.findings[0]
    artist = next(r for r in finding.readings if r.definition == "Artist.Name")
    glossary = Glossary(terms=[finding.as_term(artist)])
    again = _check("List the names.", chinook_target, glossary=glossary)
    assert again.clear and again.question_to_ask == "List the artist names."
    answer = ask(again.question_to_ask, chinook_target, SETTINGS)
    gold = {"id": "n", "question": "names", "sql": "SELECT Name FROM Artist"}
    assert judge(gold, answer, chinook_target, SETTINGS).status == "correct"


def test_a_term_the_glossary_defines_otherwise_still_settles_it(chinook_target):
    from core.glossary import BusinessTerm

    glossary = Glossary(terms=[BusinessTerm("recent invoices", "InvoiceDate in the last 90 days")])
    check = _check("Show recent invoices.", chinook_target, glossary=glossary)
    assert check.clear and check.question_to_ask == "Show recent invoices."


def test_a_count_reading_of_top_is_answered_by_the_offline_engine(chinook_target):
    check = _check("Who are the top customers?", chinook_target)
    (finding,) = check.findings
    reading = finding.readings[0]
    assert reading.label == "by the number of Invoice rows"
    question = rewrite(check.question, [(finding, reading)])
    assert question == "Who are the 5 customers with the most invoices?"
    answer = ask(question, chinook_target, SETTINGS)
    assert answer.ok and answer.row_count == 5


def test_relative_time_in_current_data_is_clear_but_recent_still_needs_a_period(chinook_target):
    t = chinook_target
    fresh = {("Invoice", "InvoiceDate"): TODAY - dt.timedelta(days=3)}
    last_year = check_question(
        "Show invoices from last year.", t.schema, t.lexicon(), latest=fresh, today=TODAY
    )
    assert last_year.clear
    recent = check_question(
        "Show recent invoices.", t.schema, t.lexicon(), latest=fresh, today=TODAY
    )
    (finding,) = recent.findings
    assert finding.kind == "time" and "no rows" not in " ".join(r.label for r in finding.readings)


def test_stale_data_offers_today_and_the_newest_date(chinook_target):
    (finding,) = _check("Show invoices from last year.", chinook_target).findings
    labels = " | ".join(r.label for r in finding.readings)
    assert "calendar year 2025" in labels and "2025-12-22" in labels
    assert rewrite("Show invoices from last year.", [(finding, finding.readings[0])]) == (
        "Show invoices in 2025."
    )


def test_latest_dates_reads_the_newest_date_of_each_date_column(chinook_target):
    found = latest_dates(chinook_target)
    with chinook_target.engine.connect() as conn:
        newest = conn.execute(sa.text("SELECT MAX(InvoiceDate) FROM Invoice")).scalar()
    assert found[("Invoice", "InvoiceDate")] == newest.date()
    assert ("Employee", "HireDate") in found


@pytest.mark.mysql
@pytest.mark.parametrize(
    "question, clear",
    [
        # rating is film's; film_list and nicer_but_slower_film_list are views copying it
        ("What is the average rental rate per rating?", True),
        ("Show the rental rate and the last update.", True),  # rental rate is film's alone
        ("Show the last update.", False),  # every table has one
        ("List the names and the last update.", False),  # names settle nothing
    ],
)
def test_views_and_the_other_words_settle_whose_column(sakila_target, question, clear):
    assert _check(question, sakila_target).clear is clear


@pytest.mark.mysql
def test_a_glossary_term_settles_its_words_in_the_plural_too(sakila_target):
    from core.glossary import BusinessTerm, Glossary

    glossary = Glossary(terms=[BusinessTerm("cheap film", "rental_rate < 1", "film")])
    assert _check("How many cheap films are there?", sakila_target, glossary=glossary).clear
    assert not _check("Show cheap actors.", sakila_target, glossary=glossary).clear
