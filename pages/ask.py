"""Ask: a question in plain English, answered with a table, a chart and the SQL."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import history, prompts, readings
from core.ambiguity import QuestionCheck, check_target, rewrite
from core.ask import MAX_QUESTION, AskResult, ask, reads_same_tables, run_sql
from core.charts import build_figure, choose_chart
from core.errors import QuarryError
from core.values import csv_bytes, display_frame, metric_text
from pages import shared

settings = shared.start()

QUESTION = "ask_question"
RESULT = "ask_result"
RUN_ID = "ask_run_id"
SQL_EDIT = "ask_sql_edit"
SQL_NEXT = "ask_sql_next"
RESULT_OF = "ask_result_connection"
ENGINE = "ask_engine"
CLARIFY = "ask_clarify"
OFFLINE = "Offline engine"
MODEL = f"Model ({settings.model})"

st.title("Ask")
target = shared.current_target(settings)
if target is None:
    st.stop()
spec = shared.current_spec(settings)
connection_name = spec.name if spec else target.name
user = shared.current_user(settings)  # None in local mode: the history is everyone's


def _remember(result: AskResult) -> None:
    st.session_state[RESULT] = result
    st.session_state[RESULT_OF] = connection_name
    # The editor widget may already be drawn in this run; it takes the new SQL on the next one.
    st.session_state[SQL_NEXT] = result.sql or ""
    try:
        st.session_state[RUN_ID] = history.record(result, connection_name, author=user)
    except Exception as exc:  # the answer is shown even when the store is unwell
        st.session_state[RUN_ID] = None
        st.warning(f"The run could not be saved in the history: {str(exc).splitlines()[0]}")


def _ask(question: str) -> None:
    question = question.strip()
    if not question:
        st.warning("Type a question first.")
        return
    st.session_state.pop(CLARIFY, None)
    # an over-long text goes straight to ask(), which says why it is refused
    check = _check(question) if len(question) <= MAX_QUESTION else None
    if check is not None and not check.clear:
        st.session_state[CLARIFY] = check  # asked back before any SQL is written
        st.session_state.pop(RESULT, None)
        return
    _run(check.question_to_ask if check is not None else question)


def _run(question: str) -> None:
    engine = "openai" if st.session_state.get(ENGINE) == MODEL else "offline"
    # the model writes with the prompt version promoted in the Prompt lab
    prompt = {"template": prompts.promoted_template()} if engine == "openai" else {}
    with st.spinner("Writing and running the query…"):
        _remember(ask(question, target, settings, engine=engine, glossary=_glossary(), **prompt))


# -- the clarifying question: what the question check found open ---------------------------


def _glossary():
    """The connection's business terms, readings saved here included (None when empty)."""
    try:
        return readings.connection_glossary(connection_name)
    except Exception as exc:  # a question still gets answered without its glossary
        st.warning(f"The saved readings could not be read: {str(exc).splitlines()[0]}")
        return None


def _check(question: str) -> QuestionCheck | None:
    try:
        return check_target(question, target, glossary=_glossary())
    except QuarryError as exc:  # the check helps; it must never stop a question
        st.caption(f"The question check did not run: {exc.message}")
        return None


def _clarify(check: QuestionCheck) -> None:
    with st.container(border=True):
        st.markdown(f"**Before any SQL runs: which did you mean?**  \n“{check.question}”")
        for i, finding in enumerate(check.findings):
            if finding.readings:
                labels = [r.label for r in finding.readings]
                st.radio(finding.message, labels, key=f"ask_reading_{i}")
            else:  # nothing in the schema to choose from: only the analyst can say
                st.markdown(f"{finding.message}  \n*Say it in other words, or ask as written.*")
        offered = any(f.readings for f in check.findings)
        if offered:
            st.checkbox(
                "Save these readings to the glossary",
                key="ask_save_readings",
                help="Next time the same words are read this way without asking.",
            )
        left, right = st.columns(2)
        chosen = offered and left.button(
            "Ask with these readings", type="primary", key="ask_with_reading"
        )
        as_written = right.button("Ask as written", key="ask_as_written")
    if chosen:
        picks = [
            (f, next(r for r in f.readings if r.label == st.session_state.get(f"ask_reading_{i}")))
            for i, f in enumerate(check.findings)
            if f.readings
        ]
        if st.session_state.get("ask_save_readings"):
            try:
                for finding, reading in picks:
                    readings.save_reading(connection_name, finding.as_term(reading), author=user)
            except Exception as exc:  # the question is still asked; only the saving failed
                st.toast(f"The readings were not saved: {str(exc).splitlines()[0]}")
        st.session_state.pop(CLARIFY, None)
        _run(rewrite(check.question, picks))
        st.rerun()  # the box above is drawn already; the answer replaces it
    elif as_written:
        st.session_state.pop(CLARIFY, None)
        _run(check.question)
        st.rerun()


def _use_example(question: str) -> None:
    st.session_state[QUESTION] = question
    st.session_state["ask_pending"] = question


engines = [OFFLINE, MODEL] if settings.has_model else [OFFLINE]
if st.session_state.get(ENGINE) not in engines:
    st.session_state[ENGINE] = MODEL if settings.has_model else OFFLINE
st.segmented_control(
    "Engine",
    engines,
    key=ENGINE,
    help=(
        "The offline engine needs no API key: it answers counts, lists, sums, averages, "
        "minimum and maximum, top-N, group-by, filters on values and joins along foreign keys. "
        "Set OPENAI_API_KEY (and OPENAI_BASE_URL for a local server) to use a model."
    ),
)

examples = shared.suggestions(target)
if examples:
    st.caption("Examples for this database")
    columns = st.columns(min(3, len(examples)))
    for i, example in enumerate(examples):
        columns[i % len(columns)].button(
            example,
            key=f"example_{i}",
            on_click=_use_example,
            args=(example,),
            width="stretch",
        )

with st.form("ask_form"):
    st.text_area(
        "Question",
        key=QUESTION,
        height=80,
        placeholder="How many customers are there in each country?",
    )
    asked = st.form_submit_button("Ask", type="primary", icon=":material/send:")

pending = st.session_state.pop("ask_pending", None)
if asked:
    _ask(st.session_state.get(QUESTION, ""))
elif pending:
    _ask(pending)
if CLARIFY in st.session_state:
    _clarify(st.session_state[CLARIFY])

result: AskResult | None = st.session_state.get(RESULT)
if result is not None and st.session_state.get(RESULT_OF) != connection_name:
    result = None  # an answer from another connection; its SQL would run here


def _show_rows(result: AskResult) -> None:
    frame = display_frame(result.columns, result.rows, result.type_codes)
    facts = [
        f"{result.row_count:,} row{'s' if result.row_count != 1 else ''}",
        f"{result.duration_ms:,.0f} ms",
        result.engine,
    ]
    st.caption(" · ".join(facts))
    if result.truncated:
        st.warning(
            f"Showing the first {result.row_cap:,} rows; there are more. Add a filter, "
            "or raise the row limit (QUARRY_ROW_LIMIT).",
            icon=":material/content_cut:",
        )
    if result.row_count == 0:
        st.info("The query ran and returned no rows.")
        return
    choice = choose_chart(frame)
    if choice.kind == "metric":
        st.metric(str(frame.columns[0]), metric_text(frame.iloc[0, 0]))
    else:
        figure = build_figure(frame, choice)
        if figure is not None:
            st.plotly_chart(figure, width="stretch")
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        csv_bytes(result.columns, result.rows),
        file_name="quarry-result.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def _show_sql_editor(result: AskResult) -> None:
    if SQL_NEXT in st.session_state:
        st.session_state[SQL_EDIT] = st.session_state.pop(SQL_NEXT)
    with st.expander("Edit the SQL and run it again", expanded=result.status == "draft"):
        with st.form("sql_form", border=False):
            st.text_area("SQL", key=SQL_EDIT, height=140)
            rerun = st.form_submit_button("Run this SQL", icon=":material/play_arrow:")
    if rerun:
        with st.spinner("Running…"):
            _remember(
                run_sql(
                    st.session_state[SQL_EDIT],
                    target,
                    settings,
                    # An edit of the same tables answers the same question better: kept
                    # with it (engine "manual"), a good run marked so becomes an eval case.
                    question=result.question
                    if reads_same_tables(st.session_state[SQL_EDIT], result.sql, target.dialect)
                    else "",
                )
            )
        st.rerun()


if result is not None:
    st.subheader(shared.plain(result.question, 200) or "Hand-written SQL")
    if result.reading:
        st.caption(f"Read as: {result.reading}")
    if result.context_note:
        st.caption(result.context_note)
    if result.status == "draft":
        st.caption("From the history: run it again to see its rows.")
    elif result.ok:
        if result.tie_note:
            st.info(result.tie_note, icon=":material/balance:")
        _show_rows(result)
        if result.limit_note:
            st.caption(f"LIMIT {result.limit_note} to the row limit of {result.row_cap:,}.")
        run_id = st.session_state.get(RUN_ID)
        if run_id is not None and st.button(
            "Mark as a good answer",
            icon=":material/thumb_up:",
            help="Good runs feed eval sets and training data.",
        ):
            history.mark_good(run_id)
            st.toast("Marked as good.")
        if result.attempts:
            label = f"Repaired {len(result.attempts)} time{'s' if len(result.attempts) > 1 else ''}"
            with st.expander(label, icon=":material/build:"):
                for attempt in result.attempts:
                    st.code(attempt["sql"], language="sql")
                    st.caption(shared.plain(attempt["error"]))
    else:
        shared.show_error(result)
        if result.answer_text:
            with st.container(border=True):
                st.markdown(result.answer_text)
        for attempt in result.attempts[:-1]:
            st.caption(f"Repaired after: {attempt['error']}")
    if result.sql:
        st.code(result.sql, language="sql")
    _show_sql_editor(result)

st.subheader("History")
try:
    runs = history.recent(connection_name=connection_name, author=user, limit=50)
except Exception as exc:
    st.warning(f"The history could not be read: {str(exc).splitlines()[0]}")
    runs = []
if not runs:
    st.caption("No runs yet on this connection.")
else:
    table = pd.DataFrame(
        {
            "when": [r.created_at for r in runs],
            "question": [r.question or "(SQL)" for r in runs],
            "status": [r.status for r in runs],
            "rows": pd.array([r.row_count for r in runs], dtype="Int64"),
            "ms": [round(r.duration_ms) for r in runs],
            "engine": [r.engine for r in runs],
            "good": [r.marked_good for r in runs],
            "sql": [r.sql or "" for r in runs],
        }
    )
    picked = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="ask_history",
    )
    rows = picked.selection.rows if picked is not None else []
    if rows and runs[rows[0]].sql and st.button("Open this run's SQL in the editor"):
        chosen = runs[rows[0]]
        st.session_state[RESULT] = AskResult(
            question=chosen.question, engine=chosen.engine, status="draft", sql=chosen.sql
        )
        st.session_state[RESULT_OF] = connection_name
        st.session_state[SQL_NEXT] = chosen.sql
        st.rerun()
