"""Quarry: a workbench for text-to-SQL. Run with ``streamlit run app.py``.

This file is the frame: it sets up logging and the store once per process,
draws the connection picker every page shares, and routes to the pages.
"""

from __future__ import annotations

import streamlit as st

from pages import shared

st.set_page_config(page_title="Quarry", page_icon=":material/database:", layout="wide")

settings = shared.start()

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/ask.py", title="Ask", icon=":material/chat:"),
    st.Page("pages/prompt_lab.py", title="Prompt lab", icon=":material/science:"),
]

navigation = st.navigation(PAGES)
shared.connection_picker(settings)
navigation.run()
