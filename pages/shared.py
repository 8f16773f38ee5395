"""What every page shares: start-up, the connection picker, cached targets, errors.

This is the edge where Streamlit meets ``core``: caching wrappers and
session state live here, behaviour lives in ``core``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import streamlit as st

from core import auth, catalog
from core.ask import AskResult
from core.connections import ConnectionSpec, mask_url, parse_url, password_env_var
from core.errors import QuarryError
from core.settings import Settings
from core.target import Target, open_target
from db.database import configure, upgrade_to_head

logger = logging.getLogger(__name__)

PAGES_DIR = Path(__file__).resolve().parent
CONNECTION_KEY = "connection_name"
PASSWORDS_KEY = "session_passwords"
USER_KEY = "quarry_user"
NEXT_CONNECTION_KEY = "connection_next"
FLASH_KEY = "connection_flash"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|:~<>$])")


def plain(text: str, limit: int | None = None) -> str:
    """User text for a heading or caption: Markdown marks escaped, long text cut."""
    text = " ".join((text or "").split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", text)


def page_path(name: str) -> str:
    """A page's file as the router registered it, for st.page_link and st.switch_page."""
    return str(PAGES_DIR / name)


@st.cache_resource(show_spinner=False)
def _start_once(store_url: str, log_level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("sqlglot", "watchdog", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING if noisy != "sqlglot" else logging.ERROR)
    configure(store_url)
    upgrade_to_head(store_url)


def _leave_folder_mode() -> None:
    """Make sure the router (app.py) draws every page, whatever page was asked for first.

    Streamlit treats a ``pages/`` folder beside the main script as an old-style
    multipage app until ``st.navigation`` first runs. If the first request after a
    start is for a page's own URL (``/ask``), that page would run alone, without
    the router and its sidebar, and stay so for the whole process. Leaving that
    mode and rerunning sends the request through the router.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def start() -> Settings:
    """Load settings; set up logging and migrate the store once per process."""
    _leave_folder_mode()
    settings = Settings.load()
    try:
        _start_once(settings.store_url, settings.log_level)
    except Exception as exc:  # a broken store must not hide the reason behind a traceback
        st.error(
            f"Quarry's store at {mask_url(settings.store_url)} could not be opened: "
            f"{str(exc).splitlines()[0]}"
        )
        st.info("Check QUARRY_STORE_URL, or unset it to use the default SQLite file.")
        st.stop()
    return settings


@st.cache_resource(show_spinner="Connecting and reading the schema…", max_entries=20)
def _target(url: str, name: str) -> Target:
    return open_target(url, Settings.load(), name=name)


def forget_target(spec: ConnectionSpec) -> None:
    _target.clear()
    _suggestions.clear()


@st.cache_data(show_spinner=False, ttl=3600, max_entries=20)
def _suggestions(_target_obj: Target, key: str) -> list[str]:
    from core.suggest import suggest_questions

    return suggest_questions(_target_obj)


@st.cache_data(show_spinner=False, ttl=600, max_entries=20)
def _grants(_target_obj: Target, key: str):
    from core.grants import check_grants

    return check_grants(_target_obj)


def suggestions(target: Target) -> list[str]:
    return _suggestions(target, target.masked_url)


def _with_session_password(spec: ConnectionSpec) -> ConnectionSpec:
    password = st.session_state.get(PASSWORDS_KEY, {}).get(spec.name)
    if not password:
        return spec
    url = parse_url(spec.url)
    if url.password:
        return spec
    return ConnectionSpec(
        spec.name, url.set(password=password).render_as_string(hide_password=False), spec.source
    )


def connections(settings: Settings) -> list[ConnectionSpec]:
    try:
        specs = catalog.all_connections(settings)
    except QuarryError as exc:
        show_error(exc)
        return []
    return [_with_session_password(s) for s in specs]


def current_spec(settings: Settings) -> ConnectionSpec | None:
    specs = connections(settings)
    chosen = st.session_state.get(CONNECTION_KEY) or settings.default_connection
    for spec in specs:
        if spec.name == chosen:
            return spec
    return specs[0] if specs else None


def current_target(settings: Settings) -> Target | None:
    """The open target of the picked connection, or None after showing why not."""
    spec = current_spec(settings)
    if spec is None:
        st.info("No connection yet: add one in the sidebar.")
        return None
    try:
        return _target(spec.url, spec.name)
    except QuarryError as exc:
        show_error(exc)
        return None


def show_error(error: QuarryError | AskResult) -> None:
    """What went wrong and what to do, never a traceback."""
    message = error.message if isinstance(error, QuarryError) else (error.error or "It failed.")
    hint = error.hint
    st.error(plain(message), icon=":material/error:")
    if hint:
        st.caption(plain(hint))


def _add_connection_form(settings: Settings) -> None:
    with st.form("add_connection", clear_on_submit=True, border=False):
        name = st.text_input("Name", placeholder="sales")
        url = st.text_input("URL", placeholder="mysql+pymysql://analyst@db.example.com:3306/sales")
        password = st.text_input(
            "Password (kept for this session only)", type="password", key="add_connection_password"
        )
        if not st.form_submit_button("Test and save", type="primary"):
            return
    try:
        parsed = catalog.check_new_connection(name, url, settings)
        if password:
            parsed = parsed.set(password=password)
        full = parsed.render_as_string(hide_password=False)
        target = open_target(full, settings, name=name or "new")
        target.close()
        spec = catalog.save_connection(name, full, settings, author=current_user(settings))
    except QuarryError as exc:
        show_error(exc)
        return
    typed = password or parse_url(url).password
    st.session_state[FLASH_KEY] = f"Saved the connection {spec.name}."
    if typed:
        st.session_state.setdefault(PASSWORDS_KEY, {})[spec.name] = typed
        st.session_state[FLASH_KEY] += (
            f" It is saved without its password. To keep it across sessions put it in "
            f"`.streamlit/secrets.toml` under `[connections.{spec.name}]` as `password`, "
            f"or in the environment variable `{password_env_var(spec.name)}`."
        )
    # The typed password lives on only in this session's connection, not in the form.
    st.session_state.pop("add_connection_password", None)
    # The picker is already drawn in this run; it takes the new choice on the next.
    st.session_state[NEXT_CONNECTION_KEY] = spec.name
    st.rerun()


def connection_picker(settings: Settings) -> None:
    """The sidebar: pick a target, see what it is, add or remove connections."""
    with st.sidebar:
        if NEXT_CONNECTION_KEY in st.session_state:
            st.session_state[CONNECTION_KEY] = st.session_state.pop(NEXT_CONNECTION_KEY)
        specs = connections(settings)
        names = [s.name for s in specs]
        if not names:
            st.warning("No connections available.")
        else:
            if st.session_state.get(CONNECTION_KEY) not in names:
                preferred = settings.default_connection
                st.session_state[CONNECTION_KEY] = preferred if preferred in names else names[0]
            labels = {s.name: s.label for s in specs}
            st.selectbox(
                "Connection", names, key=CONNECTION_KEY, format_func=lambda n: labels.get(n, n)
            )
            spec = next(s for s in specs if s.name == st.session_state[CONNECTION_KEY])
            st.caption(f"`{spec.masked_url}`")
            try:
                target = _target(spec.url, spec.name)
            except QuarryError as exc:
                show_error(exc)
                target = None
            if target is not None:
                tables = [t for t in target.schema.main_tables]
                st.caption(f"{target.server.description} · {len(tables)} tables and views")
                _write_warning(target)
                _schema_browser(target)
                if st.button("Reload schema", icon=":material/refresh:", width="stretch"):
                    forget_target(spec)
                    st.rerun()
            user = current_user(settings)
            if spec.owner and settings.team_mode:
                st.caption(f"Added by {spec.owner}")
            if catalog.may_remove(spec, settings, user) and st.button(
                "Remove this connection", icon=":material/delete:", width="stretch"
            ):
                try:
                    catalog.delete_connection(spec.name, settings, user=user)
                except QuarryError as exc:
                    show_error(exc)
                else:
                    st.session_state.pop(CONNECTION_KEY, None)
                    st.rerun()
        if FLASH_KEY in st.session_state:
            st.info(st.session_state.pop(FLASH_KEY))
        with st.expander("Add a connection"):
            _add_connection_form(settings)


def _write_warning(target: Target) -> None:
    check = _grants(target, target.masked_url)
    if check is None or not check.can_write:
        return
    st.warning(
        f"{check.summary} Quarry never writes, but a SELECT-only user is the safer choice.",
        icon=":material/edit_note:",
    )
    with st.expander("Create a SELECT-only user"):
        st.code(check.fix, language="sql")


def _schema_browser(target: Target) -> None:
    with st.expander("Schema"):
        for table in target.schema.main_tables:
            rows = f" · ~{table.row_count:,} rows" if table.row_count is not None else ""
            kind = " (view)" if table.kind == "view" else ""
            st.markdown(f"**{table.name}**{kind}{rows}")
            st.caption(", ".join(c.name for c in table.columns))
        for problem in target.schema.errors:
            st.caption(f":material/warning: {problem.object}: {problem.message}")


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError):
        return False
    except Exception:  # an unreadable secrets file means: no OIDC set up
        return False


def current_user(settings: Settings) -> str | None:
    """Who is logged in (team mode), or None in local mode."""
    if not settings.team_mode:
        return None
    if st.session_state.get(USER_KEY):
        return st.session_state[USER_KEY]
    if _oidc_configured() and st.user.is_logged_in:
        return st.user.get("email") or st.user.get("name") or "user"
    return None


def _login_form(settings: Settings) -> None:
    st.title("Quarry")
    st.caption("This deployment is shared by a team; log in to continue.")
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        wait = auth.locked_out(name.strip())
        if wait:
            st.error(
                f"Too many wrong passwords for this user; try again in {wait / 60:.0f} minutes."
            )
            return
        if auth.verify(name.strip(), password, store_url=settings.store_url):
            st.session_state[USER_KEY] = name.strip()
            st.session_state.pop("login_password", None)
            st.rerun()
        st.error("Wrong user name or password.")
    if not auth.user_names(store_url=settings.store_url):
        st.info("No users yet: an administrator adds one with `python -m core add-user NAME`.")


def require_login(settings: Settings, pages: list | None = None) -> str | None:
    """In team mode, show the login screen and stop until someone has logged in.

    The router's pages are registered but hidden meanwhile, so no page list shows.
    """
    if not settings.team_mode:
        return None
    user = current_user(settings)
    if user:
        return user
    if pages:
        st.navigation(pages, position="hidden")
    if _oidc_configured():
        st.title("Quarry")
        st.caption("This deployment is shared by a team; log in to continue.")
        st.button("Log in", type="primary", on_click=st.login)
    else:
        _login_form(settings)
    st.stop()


def logout_button(settings: Settings) -> None:
    user = current_user(settings)
    if user is None:
        return
    with st.sidebar:
        st.caption(f"Logged in as **{user}**")
        if st.button("Log out", icon=":material/logout:", width="stretch"):
            if st.session_state.pop(USER_KEY, None) is None and _oidc_configured():
                st.logout()
            for key in list(st.session_state):
                del st.session_state[key]
            st.rerun()
