"""Quarry: a workbench for text-to-SQL. Run with ``streamlit run app.py``.

This file is the frame: it sets up logging and the store once per process,
draws the connection picker every page shares, and routes to the pages.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import shared

st.set_page_config(page_title="Quarry", page_icon=":material/database:", layout="wide")

settings = shared.start()

# Absolute paths, so the router also works when a test runs it from another folder.
PAGES_DIR = Path(__file__).resolve().parent / "pages"
PAGES = [
    st.Page(PAGES_DIR / "home.py", title="Home", icon=":material/home:", default=True),
    st.Page(PAGES_DIR / "ask.py", title="Ask", icon=":material/chat:"),
    st.Page(PAGES_DIR / "prompt_lab.py", title="Prompt lab", icon=":material/science:"),
    st.Page(PAGES_DIR / "profile.py", title="Profile", icon=":material/query_stats:"),
    st.Page(PAGES_DIR / "training.py", title="Training", icon=":material/model_training:"),
]

shared.require_login(settings, PAGES)
navigation = st.navigation(PAGES)
shared.connection_picker(settings)
shared.logout_button(settings)
navigation.run()
