"""Passwords and API keys never appear in the logs, on the page or in the store."""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = pytest.mark.mysql


def _page_text(at: AppTest) -> str:
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "code",
        "error",
        "warning",
        "info",
        "success",
        "title",
        "subheader",
        "header",
        "text",
        "metric",
        "exception",
    ):
        for element in getattr(at, kind, []):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    for element in list(at.text_input) + list(at.text_area) + list(at.selectbox):
        parts.append(f"{element.key}={element.value}")
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    return "\n".join(parts)


def _store_text(store_url: str) -> str:
    engine = sa.create_engine(store_url)
    parts = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            parts.extend(str(row) for row in conn.exec_driver_sql(f'SELECT * FROM "{table}"'))
    engine.dispose()
    return "\n".join(parts)


def test_a_session_leaks_neither_password_nor_key(
    tmp_path, monkeypatch, caplog, model_server, mysql_server_url
):
    password = "pw-" + uuid.uuid4().hex
    key = "sk-quarry-" + uuid.uuid4().hex
    user = f"q_sec_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(mysql_server_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'")
        conn.exec_driver_sql(f"GRANT SELECT ON Chinook.* TO '{user}'@'127.0.0.1'")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        f'[connections.secure]\nurl = "mysql+pymysql://{user}:{password}@127.0.0.1:3306/Chinook"\n'
        f'[connections.wrong]\nurl = "mysql+pymysql://{user}:{password}x@127.0.0.1:3306/Chinook"\n'
    )
    store = f"sqlite:///{tmp_path / 'data' / 'quarry.db'}"
    for name, value in {
        "QUARRY_DATA_DIR": str(tmp_path / "data"),
        "QUARRY_SECRETS_FILE": str(secrets),
        "OPENAI_API_KEY": key,
        "OPENAI_BASE_URL": model_server.url,
        "QUARRY_LOG_LEVEL": "DEBUG",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("QUARRY_STORE_URL", raising=False)
    model_server.say(
        "SELECT COUNT(*) FROM Track", "SELECT COUNT(*) FROM Nope", "SELECT COUNT(*) FROM Genre"
    )
    caplog.set_level(logging.DEBUG)
    try:
        at = AppTest.from_file(str(ROOT / "tests/router/app.py"), default_timeout=120)
        at.run()
        at.sidebar.selectbox(key="connection_name").select("wrong")
        at.run()
        assert any("refused the user name or password" in e.value for e in at.error)
        at.sidebar.selectbox(key="connection_name").select("secure")
        at.run()
        at.switch_page(str(ROOT / "pages/ask.py"))
        at.run()
        for question in ("How many tracks?", "How many genres?"):
            at.text_area(key="ask_question").input(question)
            next(b for b in at.button if b.label == "Ask").click()
            at.run()
        assert not at.exception
        # a connection added in the app, password typed in the form
        form_inputs = [t for t in at.sidebar.text_input]
        form_inputs[0].input("added")
        form_inputs[1].input(f"mysql+pymysql://{user}@127.0.0.1:3306/Chinook")
        form_inputs[2].input(password)
        next(b for b in at.sidebar.button if b.label == "Test and save").click()
        at.run()
        assert not at.exception
        assert model_server.requests, "the model was really called"
        headers = {k.lower(): v for k, v in model_server.requests[0]["headers"].items()}
        assert headers["authorization"] == f"Bearer {key}"

        page = _page_text(at)
        logs = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
        stored = _store_text(store)
        assert "added" in stored and "How many tracks?" in stored, "the store was written"
        for secret in (password, key):
            leaked = [line for line in page.splitlines() if secret in line]
            assert not leaked
            assert secret not in logs
            assert secret not in stored
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        admin.dispose()
