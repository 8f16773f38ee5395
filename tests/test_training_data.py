"""The training-data builder: valid chat JSONL whose every SQL runs, from every source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core import history, training_data
from core.ask import AskResult, build_prompt
from core.errors import BadInput
from core.execute import run_query
from core.generate_sql import make_client
from core.guard import check_sql
from core.settings import Settings
from core.synthetic_questions import sql_kind
from core.target import Target, open_target
from core.training_data import (
    EVAL_SET,
    HISTORY,
    PARAPHRASE,
    SYNTHETIC,
    Example,
    build_training_data,
    examples_from_cases,
    pairs_from_schema,
    read_cases,
    split,
)
from db import database
from db.demo import ensure_demo, load_into
from tests.model_server import Reply
from tests.test_cli import cli

DEMO_CASES = Path(__file__).parent / "cases" / "ask-demo.jsonl"
FENCED = re.compile(r"^```sql\n(.*)\n```$", re.S)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.load(environ={}, secrets={})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, settings: Settings):
    url = ensure_demo(tmp_path_factory.mktemp("demo") / "demo.sqlite")
    target = open_target(url, settings, name="demo")
    yield target
    target.close()


def _demo_cases() -> list[dict]:
    return read_cases(DEMO_CASES.read_bytes(), DEMO_CASES.name)


def _check_lines(jsonl: bytes, target: Target) -> list[tuple[str, str]]:
    """Every line is a chat example whose SQL passes the guard and returns rows."""
    pairs = []
    for number, line in enumerate(jsonl.decode("utf-8").splitlines(), start=1):
        record = json.loads(line)
        assert list(record) == ["messages"], number
        roles = [m["role"] for m in record["messages"]]
        assert roles == ["system", "user", "assistant"], number
        assert all(isinstance(m["content"], str) and m["content"] for m in record["messages"])
        system, user, answer = (m["content"] for m in record["messages"])
        assert "CREATE TABLE" in system and target.server.version in system
        assert user.startswith("Question: ")
        sql = FENCED.match(answer).group(1)
        checked = check_sql(sql, target.schema, dialect=target.dialect, row_cap=5)
        result = run_query(
            target.engine, checked.exec_sql, server=target.server, row_cap=5, timeout_s=10
        )
        assert result.rows and any(v is not None for v in result.rows[0]), (number, sql)
        pairs.append((user.removeprefix("Question: "), sql))
    return pairs


def test_demo_training_data_is_chat_jsonl_whose_every_sql_runs(demo, settings) -> None:
    data = build_training_data(demo, settings, cases=_demo_cases())

    train = _check_lines(data.jsonl("train"), demo)
    validation = _check_lines(data.jsonl("validation"), demo)

    assert len(train) == len(data.train) and len(validation) == len(data.validation)
    assert len(train) + len(validation) >= 150
    assert 0.15 <= len(validation) / (len(train) + len(validation)) <= 0.25
    assert not {sql for _, sql in train} & {sql for _, sql in validation}
    questions = [q.casefold() for q, _ in train + validation]
    assert len(questions) == len(set(questions))
    assert data.by_source()[EVAL_SET] >= 25 and data.by_source()[SYNTHETIC] >= 100
    assert set(data.by_kind()) >= {"count", "aggregate", "filter", "group-by", "top-N", "join"}
    tables = {row["table"] for row in data.summary()}
    assert tables == {t.name for t in demo.schema.main_tables}
    for row in data.summary():
        assert row["examples"] == row["train"] + row["validation"] > 0


def test_synthetic_questions_speak_the_glossary(demo) -> None:
    from core.glossary import ColumnMeaning, Glossary, ValueSynonym
    from core.synthetic_questions import short_meaning, synthetic_questions

    glossary = Glossary(
        meanings=[ColumnMeaning("invoices", "bill_prd", "billing month: the period billed")],
        synonyms=[ValueSynonym("tickets", "rsn_cd", "customer equipment", "CPE")],
    )
    asked = {q.question: q.sql for q in synthetic_questions(demo, glossary)}
    assert "How many invoices are there per billing month?" in asked
    spelled = [q for q in asked if "'customer equipment'" in q]
    assert spelled and "rsn_cd = 'CPE'" in asked[spelled[0]], "the SQL keeps the stored value"
    plain = {q.question for q in synthetic_questions(demo)}
    assert "How many invoices are there per billing month?" not in plain
    assert short_meaning("circuit status: ACTV active, PEND pending") == "circuit status"
    assert short_meaning("the date on which the account was first opened by sales") == ""


def test_the_system_message_is_what_ask_sends(demo, settings) -> None:
    checked = examples_from_cases(_demo_cases()[:3], demo, settings)

    for example in checked.examples:
        messages = build_prompt(example.question, demo, settings).messages
        assert example.messages == messages


def test_gold_cases_keep_their_sql_and_bad_ones_say_why(demo, settings) -> None:
    cases = _demo_cases() + [
        {"id": "x1", "question": "Who are the gremlins?", "sql": "SELECT name FROM gremlins"},
        {"id": "x2", "question": "Remove the plans", "sql": "DELETE FROM plans"},
        {"id": "x3", "question": "Plans from Mars?", "sql": "SELECT * FROM plans WHERE 1 = 0"},
    ]

    checked = examples_from_cases(cases, demo, settings)

    gold = {c["question"]: c["sql"] for c in _demo_cases()}
    assert {e.question for e in checked.examples} == set(gold)
    assert all(e.sql == gold[e.question] and e.source == EVAL_SET for e in checked.examples)
    reasons = {d.question: d.reason for d in checked.dropped}
    assert "gremlins" in reasons["Who are the gremlins?"]
    assert "DELETE" in reasons["Remove the plans"] or "read-only" in reasons["Remove the plans"]
    assert reasons["Plans from Mars?"] == "The query returned no rows."


def test_good_ask_runs_become_examples(demo, settings, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    database.upgrade_to_head(store)
    good = AskResult("How many plans are there?", "offline", sql="SELECT COUNT(*) FROM plans")
    failed = AskResult("Broken?", "offline", status="error", sql="SELECT nope FROM plans")
    for result in (good, failed):
        history.mark_good(history.record(result, "demo", store_url=store), store_url=store)

    data = build_training_data(
        demo,
        settings,
        history=history.good_runs(connection_name="demo", store_url=store),
        synthetic=False,
        validation_share=0.0,
    )

    assert [(e.question, e.source) for e in data.train] == [("How many plans are there?", HISTORY)]
    assert data.validation == [] and data.jsonl("validation") == b""
    database.dispose(store)


def test_a_history_question_wins_over_the_same_synthetic_one(demo, settings) -> None:
    entry = history.HistoryEntry(
        id=1,
        created_at=None,
        connection_name="demo",
        question="how many   PLANS are there",
        sql="SELECT COUNT(plan_id) FROM plans",
        engine="offline",
        status="ok",
        duration_ms=1.0,
        row_count=1,
        truncated=False,
        error=None,
        author=None,
        marked_good=True,
    )

    data = build_training_data(demo, settings, history=[entry])

    plans = [e for e in data.examples if e.question.lower().rstrip("?") == entry.question.lower()]
    plans += [e for e in data.examples if e.question == "How many plans are there?"]
    assert [(e.source, e.sql) for e in plans] == [(HISTORY, entry.sql)]
    assert data.duplicates >= 1


def _paraphraser(body: dict) -> Reply:
    question = body["messages"][-1]["content"]
    quoted = re.findall(r"'[^']+'", question)
    value = quoted[0] if quoted else ""
    return Reply(
        f"1. Could you tell me: {question.rstrip('?.')}?\n"
        f"2) Please give me this {value}: {question.lower().rstrip('?.')}?\n"
        "- What is it?\n"  # too short to be a question about the data
        f"{question}\n"  # the original, dropped
        + ("A rewording that loses the value entirely?\n" if value else "")
    )


def test_paraphrases_share_the_sql_and_the_split_side(demo, model_server) -> None:
    settings = Settings.load(
        environ={"OPENAI_BASE_URL": model_server.url, "QUARRY_MODEL": "para"}, secrets={}
    )
    model_server.responder = _paraphraser
    cases = _demo_cases()[:8]

    data = build_training_data(
        demo,
        settings,
        cases=cases,
        synthetic=False,
        paraphrases=2,
        client=make_client(settings),
        validation_share=0.25,
    )

    chats = [r for r in model_server.requests if r["path"].endswith("/chat/completions")]
    assert len(chats) == len(cases)
    by_sql: dict[str, set[str]] = {}
    for part, examples in (("train", data.train), ("validation", data.validation)):
        for e in examples:
            by_sql.setdefault(e.sql, set()).add(part)
    assert all(len(sides) == 1 for sides in by_sql.values())
    paraphrased = [e for e in data.examples if e.source == PARAPHRASE]
    assert len(paraphrased) == 2 * len(cases)
    originals = {e.sql: e for e in data.examples if e.source == EVAL_SET}
    for e in paraphrased:
        assert e.sql in originals and e.kind == originals[e.sql].kind
        assert e.messages[1]["content"] == f"Question: {e.question}"
        for value in re.findall(r"'[^']+'", originals[e.sql].question):
            assert value in e.question


def test_a_failing_model_stops_paraphrasing_but_keeps_the_examples(demo, model_server) -> None:
    settings = Settings.load(environ={"OPENAI_BASE_URL": model_server.url}, secrets={})
    model_server.say("1. How many plans exist in total?\n2. What is the number of plans?")
    model_server.replies.append(Reply(status=500))

    data = build_training_data(
        demo,
        settings,
        cases=_demo_cases()[:4],
        synthetic=False,
        paraphrases=2,
        client=make_client(settings),
    )

    assert len(data.examples) == 4 + 2
    assert len(data.warnings) == 1 and "stopped after 1 of 4" in data.warnings[0]
    assert "HTTP 500" in data.warnings[0]


def test_paraphrases_need_a_model(demo, settings) -> None:
    with pytest.raises(BadInput, match="need a model"):
        build_training_data(demo, settings, cases=_demo_cases()[:2], synthetic=False, paraphrases=1)


def test_nothing_to_build_from(demo, settings) -> None:
    with pytest.raises(BadInput, match="nothing to build"):
        build_training_data(demo, settings, synthetic=False)


def test_a_template_without_a_system_part_is_refused(demo, settings) -> None:
    with pytest.raises(BadInput, match="no system part"):
        examples_from_cases(_demo_cases()[:1], demo, settings, template="{schema}\n{question}")


def _example(question: str, sql: str) -> Example:
    return Example(question, sql, SYNTHETIC, "count", ("t",), [])


def test_split_keeps_one_sql_on_one_side_and_is_stable() -> None:
    examples = [_example(f"q{i}-{j}", f"SELECT {i}") for i in range(20) for j in range(i % 3 + 1)]

    train, validation = split(examples, 0.2)

    assert {e.sql for e in train}.isdisjoint({e.sql for e in validation})
    assert 0.1 <= len(validation) / len(examples) <= 0.3
    assert split(examples, 0.2) == (train, validation)
    assert split(examples, 0.2, seed=1) != (train, validation)
    assert split(examples, 0.0) == (examples, [])
    assert split(examples[:1], 0.5) == (examples[:1], [])  # one SQL cannot be split
    with pytest.raises(BadInput, match="validation share"):
        split(examples, 1.0)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"id": 1, "question": "q"}\n', "have no SQL"),
        (b'{"id": 1, "question": "q", "sql": "SELECT 1"}\n{oops\n', "Line 2"),
        (b"\xff\xfe\x00q", "not UTF-8"),
        (b"\n\n", "holds no cases"),
        (b'{"sql": "SELECT 1"}\n', "has no 'question'"),
    ],
)
def test_a_bad_eval_set_upload_says_what_is_wrong(data: bytes, words: str) -> None:
    with pytest.raises(BadInput) as caught:
        read_cases(data, "cases.jsonl")
    assert words in caught.value.message and caught.value.hint


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT COUNT(*) FROM t", "count"),
        ("SELECT AVG(x), COUNT(*) FROM t", "aggregate"),
        ("SELECT a FROM t WHERE b = 1", "filter"),
        ("SELECT a, COUNT(*) FROM t GROUP BY a", "group-by"),
        ("SELECT a FROM t ORDER BY b DESC LIMIT 5", "top-N"),
        ("SELECT a FROM t JOIN u ON t.id = u.t_id", "join"),
        ("SELECT a FROM t", "list"),
        ("WITH x AS (SELECT a FROM t WHERE b > 2) SELECT COUNT(*) FROM x", "count"),
        ("not sql at all (", "list"),
    ],
)
def test_sql_kind(sql: str, kind: str) -> None:
    assert sql_kind(sql, "mysql") == kind


def _all_synthetic_run(target: Target, settings: Settings) -> None:
    pairs = pairs_from_schema(target)
    checked = training_data.check_pairs(pairs, target, settings)

    assert len(checked.examples) >= 0.9 * len(pairs), checked.dropped[:5]
    kinds = {e.kind for e in checked.examples}
    assert {"count", "filter", "group-by", "top-N", "join", "aggregate"} <= kinds


@pytest.mark.mysql
def test_synthetic_questions_run_on_chinook(chinook_target, settings) -> None:
    _all_synthetic_run(chinook_target, settings)


@pytest.mark.mysql
def test_synthetic_questions_run_on_sakila(sakila_target, settings) -> None:
    _all_synthetic_run(sakila_target, settings)


@pytest.mark.postgres
def test_demo_training_data_on_postgres(scratch_pg: str, settings) -> None:
    load_into(scratch_pg)
    target = open_target(scratch_pg, settings, name="demo-pg")
    try:
        data = build_training_data(target, settings)
        _check_lines(data.jsonl("train") + data.jsonl("validation"), target)
        assert any("EXTRACT(YEAR" in e.sql for e in data.examples)
        assert len(data.dropped) == 0, data.dropped[:3]
    finally:
        target.close()


def test_the_cli_writes_both_files(demo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = cli(
        "training-data",
        "--url",
        demo.url,
        "--out",
        str(out),
        "--cases",
        str(DEMO_CASES),
        "--validation-share",
        "0.25",
        "--json",
    )

    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    train = _check_lines((out / "train.jsonl").read_bytes(), demo)
    validation = _check_lines((out / "validation.jsonl").read_bytes(), demo)
    assert (report["train"], report["validation"]) == (len(train), len(validation))
    assert 0.2 <= len(validation) / (len(train) + len(validation)) <= 0.3
    assert report["by_source"][EVAL_SET] >= 25

    missing = cli("training-data", "--url", demo.url, "--out", str(out), "--cases", "/no.jsonl")
    assert missing.returncode == 2 and "FAILED: No cases file at /no.jsonl" in missing.stderr
