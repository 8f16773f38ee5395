"""Target databases: where their URLs come from, how they are shown, how we connect.

A target is a database analysts query. Quarry only reads it. Its URL is kept
in three places, none of which holds a password in the store:

- the demo database, always present;
- ``[connections.NAME]`` tables in ``.streamlit/secrets.toml`` (the same
  convention as ``st.connection``): either ``url = "..."`` or the fields
  ``dialect``, ``driver``, ``host``, ``port``, ``database``, ``username``,
  ``password`` and a ``query`` table;
- connections saved in the store, whose password (if any) is read from
  secrets or from the environment variable ``QUARRY_<NAME>_PASSWORD``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from core.errors import BadURL, ConnectionFailed
from core.settings import Settings

logger = logging.getLogger(__name__)

SUPPORTED_BACKENDS = ("mysql", "mariadb", "sqlite", "postgresql")
DEMO_NAME = "demo"


def parse_url(text: str) -> URL:
    """Parse a SQLAlchemy URL, raising BadURL with a usable message."""
    text = (text or "").strip()
    if not text:
        raise BadURL("No database URL was given.")
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        detail = mask_text(str(exc))
        raise BadURL(f"'{mask_text(text)}' is not a database URL ({detail}).") from None
    if url.host and "@" in url.host:
        raise BadURL(
            "The URL has an '@' that is not the one before the host; a password holding '@' "
            "must be written %40.",
            hint="URL-encode the password (for example with urllib.parse.quote), or give it "
            "in secrets or QUARRY_<NAME>_PASSWORD instead of in the URL.",
        )
    # A password in the query string (?password=...) becomes the URL's password, so that
    # it is masked, and stripped before storing, like any other.
    for key in _PASSWORD_PARAMS:
        if key in url.query:
            value = url.query[key]
            value = value[0] if isinstance(value, tuple) else value
            url = url.difference_update_query([key])
            if not url.password:
                url = url.set(password=value)
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise BadURL(
            f"Quarry does not support '{backend}' databases.",
            hint="Use MySQL/MariaDB (mysql+pymysql://), SQLite (sqlite:///) "
            "or PostgreSQL (postgresql+psycopg2://).",
        )
    if backend == "mysql" and url.drivername == "mysql":
        url = url.set(drivername="mysql+pymysql")
    if backend == "mariadb":
        url = url.set(drivername="mysql+pymysql")
    if backend == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    return url


# user:password@host, where the password may itself hold '@' (up to the last one).
_PASSWORD_IN_TEXT = re.compile(r"(?P<head>://[^:/@\s]*:)(?P<pw>[^\s/]*)(?P<tail>@[^@\s/]+)")
# ?password=... and friends in a query string.
_SECRET_PARAM = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|secret|token|api_key|apikey|access_token)=)[^&\s'\"]+",
    re.IGNORECASE,
)
_PASSWORD_PARAMS = ("password", "passwd", "pwd")


def mask_text(text: str) -> str:
    """Hide passwords in any text that may hold a URL (error messages, logs)."""
    text = _PASSWORD_IN_TEXT.sub(lambda m: m["head"] + "***" + m["tail"], text)
    return _SECRET_PARAM.sub(lambda m: m["key"] + "***", text)


def mask_url(url: URL | str) -> str:
    """The URL as it may be shown or logged: the password replaced by ***."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (ArgumentError, ValueError):
            return mask_text(url)
    return mask_text(url.render_as_string(hide_password=True))


def without_password(url: URL | str) -> str:
    """The URL as it may be stored: no password at all."""
    parsed = make_url(url) if isinstance(url, str) else url
    # URL.set() ignores None, so the URL is rebuilt without the password.
    bare = URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return bare.render_as_string(hide_password=False)


def password_env_var(name: str) -> str:
    """The environment variable that holds the password of connection `name`."""
    return "QUARRY_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() + "_PASSWORD"


@dataclasses.dataclass(frozen=True)
class ConnectionSpec:
    """A named target, with its full URL (password included) kept out of repr."""

    name: str
    url: str = dataclasses.field(repr=False)
    source: str  # "demo", "secrets", "store" or "url"
    owner: str | None = None  # who added a stored connection in team mode

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    @property
    def backend(self) -> str:
        return make_url(self.url).get_backend_name()

    @property
    def label(self) -> str:
        return f"{self.name} ({self.backend})"


def _url_from_fields(name: str, table: Mapping[str, Any]) -> URL:
    if table.get("url"):
        url = parse_url(str(table["url"]))
        if table.get("password") and not url.password:
            url = url.set(password=str(table["password"]))
        return url
    dialect = table.get("dialect")
    if not dialect:
        raise BadURL(
            f"[connections.{name}] in secrets has neither 'url' nor 'dialect'.",
            hint='Give url = "mysql+pymysql://user@host/db" or the fields dialect, host, '
            "port, database, username, password.",
        )
    driver = table.get("driver")
    drivername = f"{dialect}+{driver}" if driver else str(dialect)
    url = URL.create(
        drivername,
        username=table.get("username"),
        password=table.get("password"),
        host=table.get("host"),
        port=int(table["port"]) if table.get("port") else None,
        database=table.get("database"),
        query=dict(table.get("query", {})),
    )
    return parse_url(url.render_as_string(hide_password=False))


def with_password(
    name: str, url: str, settings: Settings, environ: Mapping[str, str] | None = None
) -> str:
    """Fill in the password of a stored connection from secrets or the environment."""
    env = os.environ if environ is None else environ
    parsed = parse_url(url)
    if parsed.password:
        return url
    table = settings.secrets.get("connections", {}).get(name, {})
    password = env.get(password_env_var(name)) or (
        table.get("password") if isinstance(table, Mapping) else None
    )
    if password:
        parsed = parsed.set(password=str(password))
    return parsed.render_as_string(hide_password=False)


def secrets_connections(settings: Settings) -> list[ConnectionSpec]:
    """Connections declared under [connections.NAME] in the secrets file."""
    specs = []
    tables = settings.secrets.get("connections", {})
    if not isinstance(tables, Mapping):
        return specs
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            continue
        try:
            url = _url_from_fields(name, table)
        except BadURL as exc:
            logger.warning("Skipping connection %s from secrets: %s", name, exc.message)
            continue
        specs.append(ConnectionSpec(name, url.render_as_string(hide_password=False), "secrets"))
    return specs


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    backend: str  # "mysql", "sqlite" or "postgresql"
    flavor: str  # "mariadb", "mysql", "sqlite" or "postgresql"
    version: str
    database: str | None

    @property
    def sqlglot_dialect(self) -> str:
        return {"mysql": "mysql", "sqlite": "sqlite", "postgresql": "postgres"}[self.backend]

    @property
    def description(self) -> str:
        names = {
            "mariadb": "MariaDB",
            "mysql": "MySQL",
            "sqlite": "SQLite",
            "postgresql": "PostgreSQL",
        }
        return f"{names[self.flavor]} {self.version}"


def _sqlite_readonly(url: URL) -> URL:
    """Open a SQLite file read-only at the driver, so no statement can write it."""
    path = url.database or ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return url
    return url.set(database=f"file:{path}", query={**url.query, "mode": "ro", "uri": "true"})


def make_target_engine(url: str, settings: Settings) -> sa.Engine:
    """An engine for a target database: time-limited connects, pre-pinged pool.

    Read-only-ness itself is applied per query by ``core.execute``; for SQLite
    the file is also opened read-only here.
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800}
    timeout = settings.connect_timeout_s
    if backend == "mysql":
        # read_timeout stops a hung server from hanging us forever; it sits
        # above the statement limit so the server's own limit fires first.
        kwargs["connect_args"] = {
            "connect_timeout": timeout,
            "read_timeout": int(settings.query_timeout_s + 30),
            "write_timeout": int(settings.query_timeout_s + 30),
            "charset": "utf8mb4",
        }
    elif backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": timeout}
        kwargs["connect_args"]["options"] = "-c default_transaction_read_only=on"
    elif backend == "sqlite":
        parsed = _sqlite_readonly(parsed)
        kwargs = {"connect_args": {"check_same_thread": False}}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except NoSuchModuleError as exc:
        raise BadURL(f"The database driver is not installed: {exc}.") from None
    except ArgumentError as exc:
        raise BadURL(f"'{mask_url(parsed)}' cannot be used: {exc}.") from None
    sa.event.listen(engine, "connect", _READ_ONLY_ON_CONNECT[backend])
    return engine


def _mysql_read_only(dbapi_conn, _record) -> None:
    # Session-wide, so that even the implicit commit of a DDL statement
    # starts another read-only transaction rather than a writable one.
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION READ ONLY")


def _sqlite_read_only(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


_READ_ONLY_ON_CONNECT = {
    "mysql": _mysql_read_only,
    "sqlite": _sqlite_read_only,
    "postgresql": lambda _conn, _record: None,  # default_transaction_read_only, set above
}


_MYSQL_CONNECT_ERRORS = {
    1045: (
        "The server refused the user name or password.",
        "Check the user and password "
        "(secrets [connections.NAME] password, or the QUARRY_<NAME>_PASSWORD variable).",
    ),
    1044: ("The user may not use this database.", "Grant the user SELECT on it, or pick another."),
    1049: ("The database does not exist on this server.", "Check the database name in the URL."),
    2003: ("The server did not answer.", "Check host and port, and that the server is running."),
    2005: ("The server's host name could not be resolved.", "Check the host in the URL."),
    2013: (
        "The connection to the server was lost, or it did not answer in time.",
        "Check host and port, that the server is running, and that no firewall drops "
        "the connection; then try again.",
    ),
}


def explain_connect_error(exc: BaseException, url: str) -> ConnectionFailed:
    """Turn a driver's connection error into a ConnectionFailed that says what to do."""
    orig = getattr(exc, "orig", exc)
    code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
    masked = mask_url(url)
    if code in _MYSQL_CONNECT_ERRORS:
        message, hint = _MYSQL_CONNECT_ERRORS[code]
        return ConnectionFailed(f"Cannot connect to {masked}: {message}", hint=hint, url=masked)
    detail = mask_text(
        str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    )
    lowered = detail.lower()
    if "password authentication failed" in lowered:
        hint = "Check the user and password."
    elif "role" in lowered and "does not exist" in lowered:
        hint = "Check the user name in the URL."
    elif "does not exist" in lowered:
        hint = "Check the database name in the URL."
    elif "not a database" in lowered:
        hint = "The file is not a SQLite database; check the path."
    elif "unable to open database file" in lowered:
        hint = "Check that the SQLite file exists and is readable."
    else:
        hint = None
    return ConnectionFailed(f"Cannot connect to {masked}: {detail}", hint=hint, url=masked)


def server_info(engine: sa.Engine) -> ServerInfo:
    """Ask the server what it is; raises ConnectionFailed when it cannot be reached."""
    backend = engine.dialect.name
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            if backend == "mysql":
                version = conn.execute(sa.text("SELECT VERSION()")).scalar_one()
                database = conn.execute(sa.text("SELECT DATABASE()")).scalar_one()
                flavor = "mariadb" if "mariadb" in str(version).lower() else "mysql"
                version = str(version).split("-")[0]
            elif backend == "postgresql":
                version = conn.execute(sa.text("SHOW server_version")).scalar_one()
                database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
                flavor = "postgresql"
            else:
                version = conn.execute(sa.text("SELECT sqlite_version()")).scalar_one()
                database = engine.url.database
                flavor = "sqlite"
    except sa.exc.DBAPIError as exc:
        raise explain_connect_error(exc, engine.url.render_as_string(hide_password=False)) from None
    logger.info(
        "Connected to %s (%s %s) in %.0f ms",
        mask_url(engine.url),
        flavor,
        version,
        (time.perf_counter() - started) * 1000,
    )
    return ServerInfo(backend=backend, flavor=flavor, version=str(version), database=database)
