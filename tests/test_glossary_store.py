"""The stored glossary: versions with author and changes, files, and its use by the CLI."""

from __future__ import annotations

import json

import pytest

from core import glossary_store
from core.errors import BadInput
from core.glossary import BusinessTerm, ColumnMeaning, Glossary, ValueSynonym
from db import database
from tests.test_cli import cli

TEXAS = Glossary(
    meanings=[ColumnMeaning("customers", "st", "state of the head office", "dictionary")],
    synonyms=[
        ValueSynonym("customers", "st", "Texas", "TX"),
        ValueSynonym("customers", "st", "tx ", "TX"),
    ],
    terms=[BusinessTerm("active customer", "status = 'active'", "customers")],
)


@pytest.fixture()
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    database.upgrade_to_head(url)
    yield url
    database.dispose(url)


def test_each_save_is_a_version_with_author_and_changes(store):
    assert glossary_store.load("demo", store_url=store) == Glossary()
    first = glossary_store.save("demo", TEXAS, author="ana", store_url=store)
    assert glossary_store.save("demo", TEXAS, author="bo", store_url=store) is None

    edited = Glossary(
        meanings=[ColumnMeaning("customers", "st", "state (two-letter code) of the head office")],
        synonyms=TEXAS.synonyms[:1],
        terms=TEXAS.terms,
    )
    second = glossary_store.save("demo", edited, author="bo", store_url=store)

    assert (first.version, second.version) == (1, 2)
    versions = glossary_store.history("demo", store_url=store)
    assert [(v.version, v.author, v.entries) for v in versions] == [(2, "bo", 3), (1, "ana", 4)]
    assert "meaning of customers.st changed" in versions[0].summary
    assert "synonym 'tx ' → 'TX' in customers.st removed" in versions[0].summary
    assert glossary_store.load("demo", version=1, store_url=store) == TEXAS
    assert glossary_store.load("demo", store_url=store) == edited
    assert glossary_store.load("other", store_url=store) == Glossary()
    with pytest.raises(BadInput):
        glossary_store.load("demo", version=9, store_url=store)


def test_source_of_an_entry_is_kept(store):
    glossary_store.save("demo", TEXAS, author="ana", store_url=store)
    assert glossary_store.load("demo", store_url=store).meanings[0].source == "dictionary"


def test_cleaning_drops_blank_and_repeated_entries():
    messy = Glossary(
        meanings=[
            ColumnMeaning(" customers ", "st", "  state  "),
            ColumnMeaning("customers", "ST", "state of the head office"),
            ColumnMeaning("customers", "city", "   "),
        ],
        synonyms=[ValueSynonym("customers", "st", "TX", "TX")],
    )
    cleaned = glossary_store.clean(messy)
    assert cleaned.meanings == [ColumnMeaning("customers", "ST", "state of the head office")]
    assert cleaned.synonyms == []


@pytest.mark.parametrize("fmt", glossary_store.FORMATS)
def test_yaml_and_json_round_trip(fmt):
    text = glossary_store.dumps(TEXAS, fmt)
    assert glossary_store.loads(text, fmt) == TEXAS
    if fmt == "json":
        assert json.loads(text)["synonyms"][0] == {
            "table": "customers",
            "column": "st",
            "synonym": "Texas",
            "value": "TX",
        }


@pytest.mark.parametrize(
    "text, says",
    [
        ("meanings: [", "not valid YAML"),
        ("- a\n- b\n", "holds a mapping"),
        ("colours: []", "unknown sections: colours"),
        ("meanings: {table: x}", "must be a list"),
        (
            "meanings:\n  - {table: customers, meaning: state}",
            "Entry 1 of 'meanings' has no column",
        ),
        ("synonyms:\n  - plain text", "not a mapping"),
        ("[]", "holds a mapping"),
        ("", "is empty"),
        ("meanings: []\nterms: []", "holds no entries"),
    ],
)
def test_a_bad_file_says_what_is_wrong(text, says):
    with pytest.raises(BadInput) as caught:
        glossary_store.loads(text)
    assert says in caught.value.message


def test_markdown_data_dictionary_lists_every_column(tmp_path):
    from core.settings import Settings
    from core.target import open_target
    from db.demo import ensure_demo

    settings = Settings.load(data_dir=str(tmp_path))
    target = open_target(ensure_demo(settings.demo_path), settings)
    text = glossary_store.to_markdown(TEXAS, target.schema, title="demo")
    target.close()
    assert text.startswith("# Data dictionary: demo")
    assert "| st | VARCHAR(20) | state of the head office | 'Texas' = 'TX', 'tx ' = 'TX' |" in text
    assert "| city | VARCHAR(40) |  |  |" in text
    assert "| active customer | status = 'active' | customers |" in text


def test_the_cli_uses_the_glossary_stored_for_the_demo(tmp_path):
    """A question the raw demo schema cannot answer works once the glossary is filled."""
    from core.settings import Settings
    from db.demo import ensure_demo

    settings = Settings.load(data_dir=str(tmp_path))
    url = ensure_demo(settings.demo_path)
    env = {"QUARRY_DATA_DIR": str(tmp_path), "QUARRY_STORE_URL": settings.store_url}
    question = "How many invoices are there for each billing period?"

    before = cli("ask", "--url", url, question, "--json", "--no-history", env=env)
    assert before.returncode == 1 and json.loads(before.stdout)["status"] == "declined"

    database.upgrade_to_head(settings.store_url)
    billing = Glossary(meanings=[ColumnMeaning("invoices", "bill_prd", "billing period")])
    glossary_store.save("demo", billing, author="ana", store_url=settings.store_url)
    database.dispose(settings.store_url)
    after = cli("ask", "--url", url, question, "--json", "--no-history", env=env)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["row_count"] == 6

    ignored = cli("ask", "--url", url, question, "--json", "--no-history", "--no-glossary", env=env)
    assert ignored.returncode == 1

    path = tmp_path / "glossary.yaml"
    path.write_text(glossary_store.dumps(billing), encoding="utf-8")
    from_file = cli(
        "ask",
        "--url",
        url,
        question,
        "--json",
        "--no-history",
        "--glossary",
        str(path),
        env={"QUARRY_DATA_DIR": str(tmp_path), "QUARRY_STORE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert from_file.returncode == 0, from_file.stderr


def test_a_save_on_an_old_version_is_refused_not_lost(store):
    from core.glossary import BusinessTerm

    glossary_store.save(
        "c", Glossary(terms=[BusinessTerm("a", "x")]), author="ann", store_url=store
    )
    base = glossary_store.newest_version("c", store_url=store)
    glossary_store.save(
        "c",
        Glossary(terms=[BusinessTerm("a", "x"), BusinessTerm("b", "y")]),
        author="bob",
        store_url=store,
        base=base,
    )
    with pytest.raises(BadInput, match="while this one was being edited"):
        glossary_store.save(
            "c", Glossary(terms=[BusinessTerm("c", "z")]), author="ann", store_url=store, base=base
        )
    assert {t.term for t in glossary_store.load("c", store_url=store).terms} == {"a", "b"}
