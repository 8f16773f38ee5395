"""Schema context: relevant tables, whole, within the budget; what was left out is said."""

from __future__ import annotations

import pytest

from bench.context import FILLER_QUESTION, filler_schema, gold_tables, spider_schema
from core.context import render_table, select_context
from core.glossary import BusinessTerm, ColumnMeaning, Glossary
from core.linking import build_lexicon
from core.schema import Column, Schema, Table
from core.tokens import count_tokens


def _context(question, schema, budget=4000, glossary=None, values=None):
    return select_context(
        question,
        schema,
        build_lexicon(schema, glossary),
        dialect="mysql",
        budget_tokens=budget,
        glossary=glossary,
        values=values,
    )


def test_the_two_related_tables_among_400_fillers_are_kept_within_budget():
    schema = filler_schema(400)
    context = _context(FILLER_QUESTION, schema)
    assert {"customers", "orders"} <= set(context.tables)
    assert context.tables[:2] == ["orders", "customers"]
    assert context.tokens <= 4000
    assert "customers.customer_id" in " ".join(context.joins)
    assert context.unrelated + len(context.left_out) + len(context.tables) == 402
    assert f"{len(context.left_out)} more table(s)" in context.note


def test_every_table_is_whole_and_the_budget_holds(chinook_target):
    t = chinook_target
    for budget in (1500, 700, 300):
        context = select_context(
            "Which customers bought tracks of the genre Rock?",
            t.schema,
            t.lexicon(),
            dialect=t.dialect,
            budget_tokens=budget,
            values=t.values(),
        )
        assert context.tokens <= budget
        for name in context.tables:
            assert render_table(t.schema.table(name), t.dialect, values=t.values()) in context.text
        assert context.tables[0] in ("Customer", "Track", "Genre")
    assert context.left_out and all(n in context.note for n in context.left_out[:3])
    assert "300-token budget" in context.note


def test_a_schema_that_fits_is_shown_whole_with_joins_and_examples(chinook_target):
    t = chinook_target
    context = select_context(
        "How many tracks are in each genre?",
        t.schema,
        t.lexicon(),
        dialect=t.dialect,
        values=t.values(),
    )
    assert sorted(context.tables) == sorted(x.name for x in t.schema.main_tables)
    assert context.tables[:2] == ["Track", "Genre"]
    assert context.left_out == [] and context.note == ""
    assert "-- Track.GenreId = Genre.GenreId" in context.text
    # a lookup table's names are shown; unique contact details are not categories
    assert "'Protected AAC audio file'" in context.text
    assert "chinookcorp.com" not in context.text


def test_glossary_meanings_steer_the_choice_and_show_as_comments():
    tables = [
        Table(f"t{i:03d}", columns=[Column("id", "int"), Column("nm", "varchar(9)")])
        for i in range(300)
    ]
    tables.append(Table("svc_x", columns=[Column("svc_id", "int"), Column("mrc_amt", "decimal")]))
    schema = Schema("mysql", None, tables)
    glossary = Glossary(
        meanings=[ColumnMeaning("svc_x", "mrc_amt", "monthly recurring charge")],
        terms=[BusinessTerm("churned", "status = 'C'", table="t123")],
    )
    context = _context("Total monthly recurring charge of churned lines", schema, 300, glossary)
    assert context.tables[:2] == ["svc_x", "t123"] or context.tables[:2] == ["t123", "svc_x"]
    assert "-- monthly recurring charge" in context.text


def test_a_question_naming_nothing_gets_the_best_connected_tables(chinook_target):
    t = chinook_target
    context = select_context(
        "Hello there", t.schema, t.lexicon(), dialect=t.dialect, budget_tokens=500
    )
    assert context.tables and context.tokens <= 500
    assert context.tables[0] in ("Track", "Invoice", "Customer")


def test_gold_table_recall_on_spiders_876_tables(shared_dir):
    import json

    spider = shared_dir / "data/text2sql-sets/spider-dev"
    schema, info = spider_schema(spider / "tables.json")
    assert len(schema.tables) == 876
    lexicon = build_lexicon(schema)
    questions = json.loads((spider / "dev.json").read_text())[::5]
    recalled = 0
    for q in questions:
        prefix = info["prefixes"][q["db_id"]]
        gold = {
            f"{prefix}.{x}" for x in gold_tables(q["query"], q["sql"], info["names"][q["db_id"]])
        }
        context = select_context(
            q["question"], schema, lexicon, dialect="sqlite", budget_tokens=4000
        )
        assert count_tokens(context.text) <= 4000
        recalled += gold <= set(context.tables)
    assert recalled / len(questions) >= 0.9


@pytest.mark.parametrize(
    "sql_tables, expected",
    [
        ("SELECT count(*) FROM singer", {"singer"}),
        (
            "SELECT name FROM stadium WHERE stadium_id NOT IN (SELECT stadium_id FROM concert)",
            {"stadium", "concert"},
        ),
        (
            "SELECT stuid FROM student EXCEPT SELECT T1.stuid FROM student AS T1 JOIN has_pet "
            "AS T2 ON T1.stuid  =  T2.stuid JOIN pets AS T3 ON T3.petid  =  T2.petid WHERE "
            "T3.pettype  =  'cat'",
            {"Student", "Has_Pet", "Pets"},
        ),
    ],
)
def test_gold_tables_include_subqueries(shared_dir, sql_tables, expected):
    import json

    spider = shared_dir / "data/text2sql-sets/spider-dev"
    found = next(
        q for q in json.loads((spider / "dev.json").read_text()) if q["query"] == sql_tables
    )
    names = spider_schema(spider / "tables.json")[1]["names"][found["db_id"]]
    assert gold_tables(found["query"], found["sql"], names) == expected
