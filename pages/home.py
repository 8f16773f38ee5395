"""Home: what Quarry does, where to start, and the state of the current connection."""

from __future__ import annotations

import streamlit as st

from pages import shared

settings = shared.start()

st.title("Quarry")
st.write(
    "A workbench for asking databases questions in plain English, and for building "
    "the text-to-SQL behind it."
)

target = shared.current_target(settings)
if target is not None:
    left, middle, right = st.columns(3)
    left.metric("Connected to", target.name)
    middle.metric("Server", target.server.description)
    right.metric("Tables and views", len(target.schema.main_tables))

engine = (
    f"model `{settings.model}`" if settings.has_model else "the offline engine (no API key set)"
)
st.markdown(
    f"""
**Ask** turns a question into SQL with {engine}, checks it, runs it read-only with a
{settings.query_timeout_s:g} s time limit and at most {settings.row_limit:,} rows, and shows a
table, a chart and the SQL. Every run is kept in the history.
"""
)
st.page_link(shared.page_path("ask.py"), label="Ask a question", icon=":material/chat:")

if target is not None:
    questions = shared.suggestions(target)
    if questions:
        st.subheader("Try one of these")
        for i, question in enumerate(questions):
            if st.button(question, key=f"home_example_{i}", icon=":material/chat:"):
                # the Ask page picks these up and asks at once
                st.session_state["ask_question"] = question
                st.session_state["ask_pending"] = question
                st.switch_page(shared.page_path("ask.py"))

with st.expander("Settings in effect"):
    st.markdown(
        f"""
- Row limit: **{settings.row_limit:,}** (`QUARRY_ROW_LIMIT`)
- Query time limit: **{settings.query_timeout_s:g} s** (`QUARRY_QUERY_TIMEOUT_S`)
- Model: **{settings.model if settings.has_model else "none: offline engine"}**
  (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `QUARRY_MODEL`)
- Store: `{shared.mask_url(settings.store_url)}` (`QUARRY_STORE_URL`)
"""
    )
