"""Putting the demo's rows into a database: a SQLite file on first run, or any target on request."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from core.errors import BadInput, BadURL, ConnectionFailed, QueryFailed
from core.settings import Settings
from db.demo.generate import generate
from db.demo.schema import ORPHANED_FK, metadata

logger = logging.getLogger(__name__)

# Raise this when the schema or the generator changes: an older demo file is then rebuilt.
DEMO_VERSION = 1
BACKENDS = ("sqlite", "mysql", "mariadb", "postgresql")
BATCH_ROWS = 5000

# Sessions of one server that open their first page together wait for one build, not start many.
_build_lock = threading.Lock()


def ensure_demo(
    path: Path | None = None, *, force: bool = False, settings: Settings | None = None
) -> str:
    """Build the demo SQLite file unless a current one is there; return its ``sqlite:///`` URL.

    The file is built under a temporary name beside `path` and renamed into place, so a crash,
    or a second process building at the same moment, never leaves a half-built file at `path`.
    """
    settings = settings or Settings.load()
    path = Path(path or settings.demo_path).resolve()
    url = f"sqlite:///{path}"
    with _build_lock:
        if force or not _is_current(path):
            _build(path, settings)
    return url


def _build(path: Path, settings: Settings) -> None:
    started = time.perf_counter()
    # A name of its own per build, so two builders never write into the same file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        load_into(f"sqlite:///{temporary}", settings=settings)
        _seal(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise BadInput(
            f"Cannot write the demo database at {path}: {exc.strerror or exc}.",
            hint="Set data_dir (QUARRY_DATA_DIR) to a folder Quarry may write to.",
        ) from exc
    finally:
        temporary.unlink(missing_ok=True)

    logger.info("Built the demo database at %s in %.2f s", path, time.perf_counter() - started)


def _is_current(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        logger.warning("Rebuilding the demo database at %s: %s", path, exc)
        return False
    if version != DEMO_VERSION:
        logger.info("Rebuilding the demo database at %s: version %s is out of date", path, version)
    return version == DEMO_VERSION


def _seal(path: Path) -> None:
    """Stamp the version and get the bytes onto the disk before the file takes its real name."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {DEMO_VERSION}")
        conn.commit()
    finally:
        conn.close()
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def load_into(url: str, *, replace: bool = False, settings: Settings | None = None) -> None:
    """Create the demo's tables in the database at `url` and fill them with the demo rows.

    SQLite, MySQL, MariaDB and PostgreSQL; the database itself must exist. Demo tables that are
    already there are an error unless `replace` is true, which drops them first.
    """
    settings = settings or Settings.load()
    engine = _engine(url, settings)
    shown = engine.url.render_as_string(hide_password=True)

    started = time.perf_counter()
    try:
        try:
            conn = engine.connect()
        except sa.exc.DBAPIError as exc:
            raise ConnectionFailed(
                f"Could not connect to {shown}: {_first_line(exc.orig)}", url=shown
            ) from exc
        with conn:
            try:
                existing = sorted(set(sa.inspect(conn).get_table_names()) & set(metadata.tables))
                if existing and not replace:
                    raise BadInput(
                        f"{shown} already has demo tables: {', '.join(existing)}.",
                        hint="Replace them (--force, or replace=True), or name an empty database.",
                    )
                demo = generate()
                _fill(conn, demo.rows, drop_first=bool(existing))
            except sa.exc.DBAPIError as exc:
                raise QueryFailed(
                    f"Loading the demo into {shown} failed: {_first_line(exc.orig)}",
                    hint="The user needs rights to create, drop and fill tables in that database.",
                ) from exc
    finally:
        engine.dispose()

    logger.info(
        "Loaded the demo into %s: %d rows in %.2f s",
        shown,
        demo.row_count,
        time.perf_counter() - started,
    )


def _fill(conn: sa.Connection, rows: dict[str, list[dict]], *, drop_first: bool) -> None:
    backend = conn.dialect.name
    orphaned = next(
        fk for fk in metadata.tables["tickets"].foreign_key_constraints if fk.name == ORPHANED_FK
    )
    # Some tickets point at circuits that are not there, on purpose; the server must let them in.
    if backend in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    elif backend == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    if drop_first:
        metadata.drop_all(conn)
    metadata.create_all(conn)
    if backend == "postgresql":
        # PostgreSQL cannot switch checks off, but keeps a key it was told not to check
        # against the rows already there (NOT VALID): the key stays declared, orphans and all.
        conn.execute(sa.schema.DropConstraint(orphaned))

    for table in metadata.sorted_tables:
        table_rows = rows[table.name]
        for start in range(0, len(table_rows), BATCH_ROWS):
            conn.execute(table.insert(), table_rows[start : start + BATCH_ROWS])

    if backend == "postgresql":
        # By default AddConstraint marks the constraint to be left out of every later CREATE
        # TABLE, so a second load in the same process would create tickets without the key.
        add = sa.schema.AddConstraint(orphaned, isolate_from_table=False).compile(
            dialect=conn.dialect
        )
        conn.exec_driver_sql(f"{add} NOT VALID")
    conn.commit()


def _engine(url: str, settings: Settings) -> sa.Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise BadURL(f"{url!r} is not a database URL.") from exc
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise BadURL(
            f"Quarry loads the demo into SQLite, MySQL, MariaDB or PostgreSQL, not {backend}.",
            hint="Pass a URL such as mysql+pymysql://user@host:3306/dbname.",
        )
    if backend in ("mysql", "mariadb") and not parsed.database:
        raise BadURL(
            f"{shown} names no database.",
            hint="Add the database to the URL, e.g. mysql+pymysql://user@host:3306/quarry_demo.",
        )

    connect_args = {} if backend == "sqlite" else {"connect_timeout": settings.connect_timeout_s}
    try:
        return sa.create_engine(parsed, connect_args=connect_args)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise BadURL(
            f"No usable driver for {parsed.drivername}: {_first_line(exc)}",
            hint="Use mysql+pymysql://, postgresql+psycopg2:// or sqlite:///, whose drivers "
            "Quarry installs.",
        ) from exc


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__
