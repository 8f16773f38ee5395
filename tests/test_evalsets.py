"""Eval sets in the store: cases, JSONL in and out in eval's format, cases from the history."""

from __future__ import annotations

import json

import pytest

from core import evalsets, history
from core.ask import AskResult
from core.errors import BadInput
from core.evaluate import load_cases


def test_a_shared_cases_file_goes_in_and_comes_out_as_eval_reads_it(store, shared_dir, tmp_path):
    source = shared_dir / "cases/ask-chinook.jsonl"
    chinook = evalsets.create_set("chinook", "the Ask cases", store_url=store)
    added = evalsets.import_jsonl(chinook.id, source.read_text(), store_url=store)
    assert len(added) == 20 and evalsets.get_set(chinook.id, store_url=store).cases == 20
    out = tmp_path / "out.jsonl"
    out.write_text(evalsets.export_jsonl(chinook.id, store_url=store))
    original = [(c["id"], c["question"], c["sql"]) for c in load_cases(source)]
    assert [(c["id"], c["question"], c["sql"]) for c in load_cases(out)] == original


def test_flag_only_cases_keep_their_flag(store, shared_dir):
    source = shared_dir / "cases/ambiguity-chinook.jsonl"
    flags = evalsets.create_set("flags", store_url=store)
    evalsets.import_jsonl(flags.id, source.read_text(), store_url=store)
    lines = [json.loads(x) for x in evalsets.export_jsonl(flags.id, store_url=store).splitlines()]
    assert [x["ambiguous"] for x in lines] == [
        json.loads(x)["ambiguous"] for x in source.read_text().splitlines()
    ]
    assert all("sql" not in x for x in lines)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"id": "a", "question": "q", "sql": "SELECT 1"}\n{oops\n', "Line 2 of upload.jsonl"),
        ('{"id": "a", "sql": "SELECT 1"}\n', "has no 'question'"),
        ('{"id": "a", "question": "q"}\n', "neither 'sql' nor 'ambiguous'"),
        ('{"id": "a", "question": "q", "ambiguous": "yes"}\n', "'ambiguous': 'yes'"),
        (
            '{"id": "a", "question": "q", "sql": "SELECT 1"}\n'
            '{"id": "a", "question": "r", "sql": "SELECT 2"}\n',
            "id 'a'",
        ),
    ],
)
def test_a_bad_file_adds_nothing_and_names_the_problem(store, text, message):
    target_set = evalsets.create_set("s", store_url=store)
    with pytest.raises(BadInput, match=message):
        evalsets.import_jsonl(target_set.id, text, name="upload.jsonl", store_url=store)
    assert evalsets.cases(target_set.id, store_url=store) == []


def test_names_are_unique_and_required(store):
    evalsets.create_set("one", store_url=store)
    with pytest.raises(BadInput, match="already"):
        evalsets.create_set("one", store_url=store)
    with pytest.raises(BadInput, match="needs a name"):
        evalsets.create_set("  ", store_url=store)


def test_a_good_run_from_the_history_becomes_a_case(store):
    good = AskResult(
        question="How many tracks?", engine="offline", sql="SELECT COUNT(*) FROM Track"
    )
    run_id = history.record(good, "chinook", store_url=store)
    failed = AskResult(question="Nope?", engine="offline", status="declined")
    failed_id = history.record(failed, "chinook", store_url=store)
    target_set = evalsets.create_set("from history", store_url=store)
    with pytest.raises(BadInput, match="marked good"):
        evalsets.add_from_history(target_set.id, run_id, store_url=store)
    history.mark_good(run_id, store_url=store)
    history.mark_good(failed_id, store_url=store)
    case = evalsets.add_from_history(target_set.id, run_id, store_url=store)
    assert (case.question, case.sql, case.source) == (
        "How many tracks?",
        "SELECT COUNT(*) FROM Track",
        "history",
    )
    with pytest.raises(BadInput, match="marked good"):
        evalsets.add_from_history(target_set.id, failed_id, store_url=store)
    with pytest.raises(BadInput, match="already has a case"):
        evalsets.add_from_history(target_set.id, run_id, store_url=store)
