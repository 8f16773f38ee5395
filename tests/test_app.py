"""The app driven through Streamlit's AppTest: from a question to a chart."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import start
from tests.conftest import ROOT


def ask(at: AppTest, question: str) -> AppTest:
    at.text_area(key="ask_question").input(question)
    next(b for b in at.button if b.label == "Ask").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_home_page_opens_on_the_demo(app_env):
    at = start()
    assert at.title[0].value == "Quarry"
    assert at.sidebar.selectbox(key="connection_name").value == "demo"
    assert any(m.label == "Tables and views" and m.value == "8" for m in at.metric)
    example = next(b for b in at.button if b.key == "home_example_0")
    example.click()
    at.run()
    assert not at.exception, at.exception
    assert at.text_area(key="ask_question").value == example.label, "it opened Ask with it"
    assert at.metric or at.dataframe, "and asked it at once"


def test_ask_page_from_question_to_metric_and_chart(app_env):
    at = start("pages/ask.py")
    ask(at, "How many customers are there?")
    assert [m.value for m in at.metric] == ["1,100"]
    ask(at, "How many circuits are there per ckt stat?")
    assert at.get("plotly_chart"), "a category and a number draws bars"
    assert at.dataframe, "the rows are shown as a table"
    assert any("GROUP BY" in c.value for c in at.code)
    history = at.dataframe[-1].value
    assert list(history["status"][:2]) == ["ok", "ok"]


def test_examples_are_offered_and_each_answers(app_env):
    at = start("pages/ask.py")
    examples = [b for b in at.button if b.key and b.key.startswith("example_")]
    assert len(examples) >= 3
    for index in range(len(examples)):
        [b for b in at.button if b.key == f"example_{index}"][0].click()
        at.run()
        assert not at.exception
        assert not at.error, [e.value for e in at.error]


def test_edited_sql_runs_and_a_hostile_one_is_refused(app_env):
    at = start("pages/ask.py")
    ask(at, "How many customers are there?")
    at.text_area(key="ask_sql_edit").input("SELECT COUNT(*) FROM sites")
    next(b for b in at.button if b.label == "Run this SQL").click()
    at.run()
    assert [m.value for m in at.metric] == ["2,086"]
    assert at.session_state["ask_result"].question == "", "another table: a new query"
    at.text_area(key="ask_sql_edit").input("SELECT COUNT(*) FROM sites WHERE site_id > 10")
    next(b for b in at.button if b.label == "Run this SQL").click()
    at.run()
    assert at.session_state["ask_result"].question == ""
    ask(at, "How many customers are there?")
    at.text_area(key="ask_sql_edit").input("SELECT COUNT(*) FROM customers WHERE cust_id > 10")
    next(b for b in at.button if b.label == "Run this SQL").click()
    at.run()
    kept = at.session_state["ask_result"]
    assert kept.question == "How many customers are there?" and kept.engine == "manual"
    at.text_area(key="ask_sql_edit").input("DROP TABLE customers")
    next(b for b in at.button if b.label == "Run this SQL").click()
    at.run()
    assert not at.exception
    assert any("changes the schema" in e.value for e in at.error)
    statuses = list(at.dataframe[-1].value["status"][:3])
    assert statuses == ["rejected", "ok", "ok"], "failed runs are kept in the history"


def test_a_declined_question_says_why(app_env):
    at = start("pages/ask.py")
    ask(at, "What will the weather be tomorrow?")
    # The question check asks first (it names nothing in the database); asked as written,
    # the offline engine declines and says why.
    assert any("Before any SQL runs" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Ask as written").click()
    at.run()
    assert at.error and "names no table" in at.error[0].value


def test_an_over_long_question_is_refused_before_any_check(app_env):
    at = start("pages/ask.py")
    ask(at, "x" * 5000)
    assert not any("Before any SQL runs" in m.value for m in at.markdown)
    assert at.error and "5,000 characters" in at.error[0].value.replace("\\", "")


def test_a_finding_with_nothing_to_choose_offers_no_empty_choice(app_env):
    at = start("pages/ask.py")
    ask(at, "Show the big sites.")
    assert any("how big is big" in m.value and "other words" in m.value for m in at.markdown)
    assert not at.radio, "no radio button with nothing to pick"
    assert [b.label for b in at.button if b.label.startswith("Ask ")] == ["Ask as written"]


@pytest.mark.mysql
def test_ask_chinook_through_a_secrets_connection(app_env, chinook_url):
    app_env.write_text(f'[connections.chinook]\nurl = "{chinook_url}"\n')
    at = start("pages/ask.py")
    at.sidebar.selectbox(key="connection_name").select("chinook")
    at.run()
    ask(at, "How many tracks are in each genre?")
    assert at.get("plotly_chart")
    assert at.dataframe[0].value.iloc[0].tolist() == ["Rock", 1297]


def test_a_bad_connection_is_explained_and_the_app_keeps_working(app_env):
    app_env.write_text('[connections.broken]\nurl = "mysql+pymysql://u:secret@127.0.0.1:1/x"\n')
    at = start("pages/ask.py")
    at.sidebar.selectbox(key="connection_name").select("broken")
    at.run()
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "did not answer" in shown and "secret" not in shown
    at.sidebar.selectbox(key="connection_name").select("demo")
    at.run()
    ask(at, "How many customers are there?")
    assert [m.value for m in at.metric] == ["1,100"]


def test_team_mode_asks_for_a_login_and_keeps_history_per_user(app_env, monkeypatch):
    from core.auth import add_user
    from db.database import upgrade_to_head

    monkeypatch.setenv("QUARRY_TEAM_MODE", "1")
    store = f"sqlite:///{app_env.parent / 'data' / 'quarry.db'}"
    upgrade_to_head(store)
    add_user("ann", "ann-password-1", store_url=store)
    add_user("bob", "bob-password-1", store_url=store)

    at = start()
    assert not at.sidebar.selectbox, "nothing but the login shows before a login"
    at.text_input(key="login_name").input("ann")
    at.text_input(key="login_password").input("wrong password")
    next(b for b in at.button if b.label == "Log in").click()
    at.run()
    assert any("Wrong user name or password" in e.value for e in at.error)
    at.text_input(key="login_password").input("ann-password-1")
    next(b for b in at.button if b.label == "Log in").click()
    at.run()
    at.switch_page(str(ROOT / "pages/ask.py"))
    at.run()
    ask(at, "How many customers are there?")
    assert len(at.dataframe[-1].value) == 1

    bob = start()
    bob.text_input(key="login_name").input("bob")
    bob.text_input(key="login_password").input("bob-password-1")
    next(b for b in bob.button if b.label == "Log in").click()
    bob.run()
    bob.switch_page(str(ROOT / "pages/ask.py"))
    bob.run()
    assert any("No runs yet" in c.value for c in bob.caption), "bob does not see ann's runs"
    next(b for b in bob.button if b.label == "Log out").click()
    bob.run()
    assert bob.text_input(key="login_name") is not None


def test_repeated_wrong_passwords_lock_the_name_for_a_while(app_env, monkeypatch):
    from core import auth
    from db.database import upgrade_to_head

    monkeypatch.setenv("QUARRY_TEAM_MODE", "1")
    monkeypatch.setattr(auth, "_failures", {})
    store = f"sqlite:///{app_env.parent / 'data' / 'quarry.db'}"
    upgrade_to_head(store)
    auth.add_user("cy", "cy-password-1", store_url=store)

    def log_in(at, password):
        at.text_input(key="login_name").input("cy")
        at.text_input(key="login_password").input(password)
        next(b for b in at.button if b.label == "Log in").click()
        at.run()
        return " ".join(e.value for e in at.error)

    at = start()
    for _ in range(auth.MAX_FAILURES):
        assert "Wrong user name or password" in log_in(at, "guess")
    assert "Too many wrong passwords" in log_in(at, "cy-password-1")
    assert not at.sidebar.selectbox, "still locked out: the right password does not open it"
    assert not auth.verify("cy", "cy-password-1", store_url=store)
    assert auth.verify("bob", "x", store_url=store) is False and not auth.locked_out("bob")


def test_adding_a_malformed_connection_says_what_is_wrong(app_env):
    at = start()
    fields = list(at.sidebar.text_input)
    fields[0].input("typo")
    fields[1].input("mysql+pymysql//missing-colon")
    next(b for b in at.sidebar.button if b.label == "Test and save").click()
    at.run()
    assert not at.exception
    assert any("not a database URL" in e.value for e in at.error)
    assert at.sidebar.selectbox(key="connection_name").options == ["demo (sqlite)"]
