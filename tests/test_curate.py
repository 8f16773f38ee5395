"""Profiling and curation against the demo's ground truth, Chinook, Sakila and bad input."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from core import curate as curation
from core.generate_sql import make_client
from core.profile_stats import profile_tables
from core.settings import Settings
from core.target import open_target
from db.demo import load_into
from db.demo.truth import load_ground_truth
from tests.test_cli import cli
from tests.test_model_path import settings_for

SETTINGS = Settings.load()


def score(found: curation.Curation, tables: int) -> dict:
    """Recall of the planted cryptic names and inconsistencies, and false alarms per table."""
    truth = load_ground_truth()
    cryptic = {(c["table"], c["column"]) for c in truth["cryptic_columns"]}
    planted = {(c["table"], c["column"]) for c in truth["inconsistencies"]}
    named = {(f.table, f.column) for f in found.findings if f.kind == curation.CRYPTIC}
    flagged = {(f.table, f.column) for f in found.findings if f.kind == curation.INCONSISTENT}
    ambiguous = [f"{f.table}.{f.column}" for f in found.findings if f.kind == curation.AMBIGUOUS]
    false = sorted((named - cryptic) | (flagged - planted))
    return {
        "cryptic_recall": round(len(named & cryptic) / len(cryptic), 3),
        "inconsistency_recall": round(len(flagged & planted) / len(planted), 3),
        "false_alarms": false,
        "false_alarms_per_table": round(len(false) / tables, 3),
        "ambiguous": ambiguous,
    }


@pytest.fixture(scope="module")
def demo_target(tmp_path_factory):
    from db.demo import ensure_demo

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    target = open_target(ensure_demo(path), SETTINGS, name="demo")
    yield target
    target.close()


def _check_against_truth(target, backend: str) -> None:
    found = curation.curate(target, SETTINGS)
    figures = score(found, len(target.schema.main_tables))
    print(f"curation on the demo in {backend}: {json.dumps(figures)}")
    assert figures["cryptic_recall"] >= 0.95
    assert figures["inconsistency_recall"] >= 0.95
    assert figures["false_alarms_per_table"] <= 1.0
    assert not found.problems


def test_curation_finds_what_was_planted_in_the_demo(demo_target):
    _check_against_truth(demo_target, "SQLite")


@pytest.mark.mysql
def test_curation_finds_what_was_planted_in_the_demo_in_mariadb(scratch_mysql):
    load_into(scratch_mysql)
    target = open_target(scratch_mysql, SETTINGS)
    try:
        _check_against_truth(target, "MariaDB")
    finally:
        target.close()


def test_findings_carry_evidence_and_fixes(demo_target):
    found = {
        (f.table, f.column, f.check): f for f in curation.curate(demo_target, SETTINGS).findings
    }
    states = found[("customers", "st", "variants")]
    assert ("Texas", "TX") in states.synonyms and ("tx ", "TX") in states.synonyms
    assert found[("tickets", "mttr_hrs", "sentinel")].evidence["value"] == -1
    orphans = found[("tickets", "ckt_id", "orphaned_foreign_key")]
    assert orphans.evidence["rows"] > 0 and orphans.evidence["parent"] == "circuits.ckt_id"
    aloc = found[("circuits", "aloc", "abbreviation")]
    assert {s.source for s in aloc.suggestions} >= {"dictionary", "foreign key"}
    assert "sites" in aloc.suggestion
    assert found[("customers", "cust_nm", "abbreviation")].suggestion == "customer name"
    assert found[("customers", "status", "same name, other meaning")].kind == curation.AMBIGUOUS


def test_the_advised_cast_runs_on_the_target(demo_target):
    """The fix of a number stored as text is SQL in the target's own dialect."""
    import sqlalchemy as sa

    found = {
        (f.table, f.column, f.check): f for f in curation.curate(demo_target, SETTINGS).findings
    }
    fix = found[("invoices", "inv_amt", "number_as_text")].suggestion
    cast = fix[fix.index("CAST(") : fix.index("; better")]
    assert "AS REAL" in cast, "SQLite has no DECIMAL to cast to"
    with demo_target.engine.connect() as conn:
        total = conn.execute(sa.text(f"SELECT SUM({cast}) FROM invoices")).scalar()
    assert total > 0
    mixed = found[("orders", "order_date", "mixed_date_formats")].suggestion
    assert "STR_TO_DATE" not in mixed and "YYYY-MM-DD" in mixed


@pytest.mark.parametrize(
    "name, pieces",
    [
        ("svc_actv_dt", ["svc", "actv", "dt"]),
        ("aia", ["aia"]),
        ("tt_id", ["tt"]),
        ("opened_at", []),
        ("InvoiceLineId", []),
        ("salesperson", []),
        ("zip_code", []),
        ("SID", ["sid"]),
        ("ID", []),
    ],
)
def test_cryptic_pieces(name, pieces):
    assert curation.cryptic_pieces(name) == pieces


def test_a_model_reading_is_shown_with_its_source(model_server, demo_target):
    model_server.responder = lambda body: __import__("tests.model_server").model_server.Reply(
        json.dumps({"aia": "access interface type at the A end", "aloc": "A-end site"})
    )
    settings = settings_for(model_server)
    found = curation.curate(demo_target, settings, client=make_client(settings))
    aia = next(f for f in found.findings if (f.table, f.column) == ("circuits", "aia"))
    assert aia.suggestions[0].source == "model"
    assert aia.suggestion == "access interface type at the A end"
    assert any(s.source == "values" for s in aia.suggestions)
    assert "aia" in model_server.requests[0]["body"]["messages"][0]["content"]


def test_a_failing_model_is_named_and_the_rest_stands(model_server, demo_target):
    from tests.model_server import Reply

    model_server.responder = lambda body: Reply(status=500)
    settings = settings_for(model_server)
    found = curation.curate(demo_target, settings, client=make_client(settings))
    assert any("model suggestions" in p for p in found.problems)
    assert any(f.column == "aia" for f in found.findings)


@pytest.mark.mysql
@pytest.mark.parametrize("name", ["Chinook", "sakila"])
def test_curation_on_the_sample_databases(name, chinook_url, sakila_url):
    url = chinook_url if name == "Chinook" else sakila_url
    target = open_target(url, SETTINGS)
    try:
        found = curation.curate(target, SETTINGS)
    finally:
        target.close()
    print(f"\n{name}: {len(found.findings)} findings")
    for f in found.findings:
        print(f"  {f.table}.{f.column}\t{f.kind}\t{f.check}\t{f.detail[:110]}")
    assert not found.problems
    assert len(found.findings) <= 2 * len(target.schema.main_tables)


BAD = {
    "empty": "CREATE TABLE empty_t (id INT PRIMARY KEY, note VARCHAR(20))",
    "one": "CREATE TABLE one_row (id INT PRIMARY KEY, note VARCHAR(20), price DECIMAL(8,2))",
    "nulls": "CREATE TABLE all_null (id INT PRIMARY KEY, nothing VARCHAR(20), never DATE)",
    "odd": "CREATE TABLE `odd names` (`order` INT, `key` VARCHAR(10), `prénom` VARCHAR(20),"
    " `unit price` DECIMAL(8,2), `größe` INT)",
    "wide": "CREATE TABLE wide (id INT PRIMARY KEY, "
    + ", ".join(f"c{i:03d} INT" for i in range(299))
    + ")",
    "secret": "CREATE TABLE secret (id INT PRIMARY KEY, pin VARCHAR(4))",
}


@pytest.mark.mysql
def test_bad_input_still_completes_and_names_what_failed(scratch_mysql, mysql_server_url):
    database = sa.engine.make_url(scratch_mysql).database
    user = f"lim_{database[-8:]}"
    admin = sa.create_engine(scratch_mysql)
    with admin.begin() as conn:
        for statement in BAD.values():
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO one_row VALUES (1, 'only', 9.99)")
        conn.exec_driver_sql("INSERT INTO all_null VALUES (1, NULL, NULL), (2, NULL, NULL)")
        conn.exec_driver_sql(
            "INSERT INTO `odd names` VALUES (1, 'a', 'Zoë', 1.5, 3), (2, 'b', 'Zoë', NULL, 4)"
        )
        conn.exec_driver_sql(
            "INSERT INTO wide (id, c000, c298) VALUES (1, 5, 7), (2, 6, NULL), (3, NULL, NULL)"
        )
        conn.exec_driver_sql(
            "CREATE DEFINER = 'nobody_at_all'@'localhost' SQL SECURITY DEFINER "
            "VIEW broken_view AS SELECT id FROM one_row"
        )
        conn.exec_driver_sql(f"CREATE USER '{user}'@'%%'")
        conn.exec_driver_sql(f"GRANT SELECT, SHOW VIEW ON `{database}`.* TO '{user}'@'%%'")
        conn.exec_driver_sql(f"REVOKE SELECT ON `{database}`.* FROM '{user}'@'%%'")
        for table in ("empty_t", "one_row", "all_null", "odd names", "wide", "broken_view"):
            conn.exec_driver_sql(f"GRANT SELECT ON `{database}`.`{table}` TO '{user}'@'%%'")
        conn.exec_driver_sql(f"GRANT INSERT ON `{database}`.`secret` TO '{user}'@'%%'")
    limited = sa.engine.make_url(scratch_mysql).set(username=user).render_as_string(False)
    try:
        target = open_target(limited, SETTINGS)
        stats = {s.table: s for s in profile_tables(target, SETTINGS)}
        found = curation.curate(target, SETTINGS, list(stats.values()))
        target.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
        admin.dispose()

    assert set(stats) >= {"empty_t", "one_row", "all_null", "odd names", "wide", "secret"}
    assert stats["empty_t"].rows == 0 and stats["empty_t"].error is None
    assert float(stats["one_row"].column("price").max) == pytest.approx(9.99)
    nothing = stats["all_null"].column("nothing")
    assert (nothing.nulls, nothing.distinct) == (2, 0)
    odd = stats["odd names"]
    assert odd.error is None and odd.column("prénom").top == [("Zoë", 2)]
    assert odd.column("order").distinct == 2 and odd.column("key").distinct == 2
    assert len(stats["wide"].columns) == 300 and stats["wide"].column("c298").distinct == 1
    assert "SELECT command denied" in stats["secret"].error
    view = stats.get("broken_view")
    assert view is not None and view.error
    assert any("secret" in p for p in found.problems)


def test_cli_profile_and_curate_print_json(tmp_path):
    from db.demo import ensure_demo

    url = ensure_demo(tmp_path / "demo.sqlite")
    profile = cli("profile", "--url", url, "--table", "plans", "--json")
    assert profile.returncode == 0, profile.stderr
    plans = json.loads(profile.stdout)["tables"][0]
    assert plans["rows"] == 24
    assert next(c for c in plans["columns"] if c["name"] == "prod_cd")["distinct"] == 6

    run = cli("curate", "--url", url, "--json", env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    assert run.returncode == 0, run.stderr
    findings = json.loads(run.stdout)["findings"]
    assert {"table", "column", "kind", "detail", "suggestion"} <= set(findings[0])
    assert {"cryptic name", "ambiguous name", "inconsistent values"} == {
        f["kind"] for f in findings
    }

    missing = cli("profile", "--url", url, "--table", "nope")
    assert missing.returncode == 2 and missing.stderr.startswith("FAILED: There is no table")


@pytest.mark.parametrize(
    "dialect, written", [("mysql", "NULLIF(`zip code`, 'N/A')"), ("postgres", 'NULLIF("zip code"')]
)
def test_a_suggested_fix_quotes_what_needs_quoting(dialect, written):
    from core.schema import Column, Table

    table = Table("staff_list", None, "view", columns=[Column("zip code", "varchar(10)", True)])
    (finding,) = curation._check_text_sentinels(
        table, table.columns[0], [("N/A", 3), ("12345", 1)], dialect
    )
    assert written in finding.suggestion
