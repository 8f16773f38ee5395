"""Quarry's own store: the engine, sessions, and the schema's migrations.

The store holds what Quarry remembers (connections, query history and, as
the product grows, glossary, prompts, eval runs, training runs and users).
It is never one of the databases analysts query.

Use ``session_scope`` for one unit of work::

    with session_scope() as session:
        session.add(QueryRun(question="How many tracks?", ...))

It commits when the block ends normally, rolls back when it raises, and always
closes the session. Alembic owns the schema: ``upgrade_to_head`` runs at
start-up; nothing here calls ``create_all``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event, orm

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(orm.DeclarativeBase):
    """Declarative base of every store model."""


_lock = threading.Lock()
_engines: dict[str, sa.Engine] = {}
_factories: dict[str, orm.sessionmaker[orm.Session]] = {}
_migrated: set[str] = set()
_default_url: str | None = None


def _configure_sqlite(engine: sa.Engine) -> None:
    """WAL and a busy timeout let several sessions write without 'database is locked'."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - driver callback
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def make_store_engine(url: str) -> sa.Engine:
    """A new engine for a store URL; SQLite files get their folder created."""
    parsed = sa.engine.make_url(url)
    kwargs: dict = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    else:
        kwargs["pool_recycle"] = 3600
    engine = sa.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def configure(url: str) -> None:
    """Make `url` the store that ``session_scope()`` uses when given no URL."""
    global _default_url
    _default_url = url


def _resolve(url: str | None) -> str:
    if url:
        return url
    if _default_url:
        return _default_url
    from core.settings import Settings

    return Settings.load().store_url


def get_engine(url: str | None = None) -> sa.Engine:
    """The shared engine of a store URL, created once per process."""
    key = _resolve(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_store_engine(key)
            _factories[key] = orm.sessionmaker(bind=engine, expire_on_commit=False)
        return engine


def session_factory(url: str | None = None) -> orm.sessionmaker[orm.Session]:
    key = _resolve(url)
    get_engine(key)
    return _factories[key]


@contextlib.contextmanager
def session_scope(url: str | None = None) -> Iterator[orm.Session]:
    """One session for one unit of work: commit on success, roll back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is interpolation syntax in Alembic's ini layer; a password may hold one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str | None = None) -> None:
    """Bring the store's schema to the newest migration (once per process and URL)."""
    key = _resolve(url)
    with _lock:
        if key in _migrated:
            return
    from alembic import command

    engine = get_engine(key)
    with engine.begin() as connection:
        config = alembic_config(key)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with _lock:
        _migrated.add(key)
    logger.info("Store ready at %s", engine.url.render_as_string(hide_password=True))


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def dispose(url: str | None = None) -> None:
    """Close a store's pooled connections and forget it (tests use this)."""
    key = _resolve(url)
    with _lock:
        engine = _engines.pop(key, None)
        _factories.pop(key, None)
        _migrated.discard(key)
    if engine is not None:
        engine.dispose()
