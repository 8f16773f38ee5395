"""Settings come from one place; passwords never show."""

from __future__ import annotations

import pytest

from core.connections import (
    mask_text,
    mask_url,
    parse_url,
    password_env_var,
    secrets_connections,
    with_password,
    without_password,
)
from core.errors import BadURL
from core.settings import Settings, read_secrets


def test_environment_beats_secrets_beats_default():
    settings = Settings.load(
        environ={"QUARRY_ROW_LIMIT": "50"},
        secrets={"QUARRY_ROW_LIMIT": 70, "quarry": {"query_timeout_s": 9}},
    )
    assert settings.row_limit == 50 and settings.query_timeout_s == 9.0
    assert Settings.load(environ={}, secrets={}).row_limit == 1000


def test_a_bad_value_falls_back_to_the_default():
    assert Settings.load(environ={"QUARRY_ROW_LIMIT": "lots"}, secrets={}).row_limit == 1000


def test_secrets_never_appear_in_repr():
    settings = Settings.load(environ={"OPENAI_API_KEY": "sk-very-secret"}, secrets={})
    assert "sk-very-secret" not in repr(settings)


def test_a_malformed_secrets_file_is_skipped(tmp_path):
    bad = tmp_path / "secrets.toml"
    bad.write_text("this is = = not toml")
    assert read_secrets([bad]) == {}


def test_masking_and_stripping_passwords():
    url = "mysql+pymysql://ann:s3cr%40t@db:3306/sales"
    assert "s3cr" not in mask_url(url) and "***" in mask_url(url)
    assert "s3cr" not in without_password(url) and "ann@db" in without_password(url)
    assert mask_text("error for mysql://u:pw@h/d") == "error for mysql://u:***@h/d"


def test_parse_url_names_what_is_wrong():
    with pytest.raises(BadURL, match="does not support"):
        parse_url("oracle://x")
    with pytest.raises(BadURL, match="not a database URL"):
        parse_url("just words")
    assert parse_url("mysql://u@h/d").drivername == "mysql+pymysql"


def test_passwords_come_from_secrets_or_the_environment():
    settings = Settings.load(
        environ={},
        secrets={
            "connections": {
                "sales": {"url": "mysql+pymysql://ann@db/sales", "password": "from-secrets"},
                "ops": {
                    "dialect": "postgresql",
                    "driver": "psycopg2",
                    "host": "pg",
                    "port": 5432,
                    "database": "ops",
                    "username": "bob",
                    "password": "pw",
                },
            }
        },
    )
    specs = {s.name: s for s in secrets_connections(settings)}
    assert ":from-secrets@" in specs["sales"].url
    assert specs["ops"].url.startswith("postgresql+psycopg2://bob:pw@pg:5432/ops")
    assert "from-secrets" not in repr(specs["sales"])
    env = {password_env_var("my-db"): "from-env"}
    assert password_env_var("my-db") == "QUARRY_MY_DB_PASSWORD"
    assert ":from-env@" in with_password("my-db", "mysql+pymysql://u@h/d", settings, env)


def test_in_team_mode_only_whoever_added_a_connection_removes_it(store):
    from core import catalog
    from core.errors import BadInput

    team = Settings.load(environ={}, secrets={}, store_url=store, team_mode=True)
    catalog.save_connection("sales", "mysql+pymysql://ann@db/sales", team, author="ann")
    (spec,) = catalog.stored_connections(team)
    assert spec.owner == "ann"
    assert catalog.may_remove(spec, team, "ann") and not catalog.may_remove(spec, team, "bob")
    with pytest.raises(BadInput, match="ann added the connection 'sales'"):
        catalog.delete_connection("sales", team, user="bob")
    assert [s.name for s in catalog.stored_connections(team)] == ["sales"]
    catalog.delete_connection("sales", team, user="ann")
    assert catalog.stored_connections(team) == []

    local = Settings.load(environ={}, secrets={}, store_url=store)
    catalog.save_connection("mine", "sqlite:///mine.db", local)
    (spec,) = catalog.stored_connections(local)
    assert spec.owner is None and catalog.may_remove(spec, team, "bob"), "owned by no one"


@pytest.mark.parametrize("store_kind", ["sqlite", "mariadb"])
def test_a_name_differing_only_in_case_is_refused_not_merged(store_kind, store, scratch_mysql):
    """On MariaDB the store's collation matches 'BobSakila' to 'bobsakila': a second user
    must not repoint the first one's connection (and inherit its password variable)."""
    from core import catalog
    from core.errors import BadInput
    from db import database

    url = store
    if store_kind == "mariadb":
        url = scratch_mysql
        database.upgrade_to_head(url)
    team = Settings.load(environ={}, secrets={}, store_url=url, team_mode=True)
    catalog.save_connection("bobsakila", "mysql+pymysql://bob@db/sakila", team, author="bob")
    for other in ("BobSakila", "BOBSAKILA"):
        with pytest.raises(BadInput, match="exists already"):
            catalog.save_connection(other, "mysql+pymysql://carl@evil/chinook", team, author="carl")
    (spec,) = catalog.stored_connections(team)
    assert (spec.name, spec.owner) == ("bobsakila", "bob") and "@db/sakila" in spec.url
    with_secrets = Settings.load(
        environ={},
        secrets={"connections": {"sales": {"url": "mysql+pymysql://a@h/s"}}},
        store_url=url,
        team_mode=True,
    )
    with pytest.raises(BadInput, match="from the secrets file"):
        catalog.save_connection("Sales", "mysql+pymysql://c@h/x", with_secrets, author="carl")
