"""Every target the user can pick: the demo, secrets' connections, saved ones.

Saved connections live in the store without their password; the password
comes from ``[connections.NAME]`` in secrets or the ``QUARRY_<NAME>_PASSWORD``
environment variable (``core.connections.with_password``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.connections import (
    DEMO_NAME,
    ConnectionSpec,
    parse_url,
    password_env_var,
    secrets_connections,
    with_password,
    without_password,
)
from core.errors import BadInput
from core.settings import Settings
from db.database import session_scope
from db.models import SavedConnection

logger = logging.getLogger(__name__)


def demo_connection(settings: Settings) -> ConnectionSpec:
    """The embedded demo database, built on first use."""
    from db.demo import ensure_demo

    return ConnectionSpec(DEMO_NAME, ensure_demo(settings.demo_path), "demo")


def stored_connections(settings: Settings) -> list[ConnectionSpec]:
    with session_scope(settings.store_url) as session:
        rows = session.scalars(sa.select(SavedConnection).order_by(SavedConnection.name)).all()
        saved = [(r.name, r.url, r.created_by) for r in rows]
    return [
        ConnectionSpec(name, with_password(name, url, settings), "store", owner)
        for name, url, owner in saved
    ]


def all_connections(settings: Settings) -> list[ConnectionSpec]:
    """The demo first, then secrets' connections, then saved ones (names unique).

    A demo that cannot be built (a read-only disk, say) is logged and left out,
    so the connections the user configured stay usable.
    """
    found: list[ConnectionSpec] = []
    try:
        found.append(demo_connection(settings))
    except (OSError, ImportError, sa.exc.SQLAlchemyError) as exc:
        logger.warning("The demo database is unavailable: %s", exc)
    found += secrets_connections(settings) + stored_connections(settings)
    specs: dict[str, ConnectionSpec] = {}
    for spec in found:
        specs.setdefault(spec.name, spec)
    return list(specs.values())


def _same_database(a, b) -> bool:
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        paths = []
        for u in (a, b):
            database = (u.database or "").removeprefix("file:")
            paths.append(Path(database).resolve() if database else None)
        return paths[0] is not None and paths[0] == paths[1]

    def place(u):
        return (u.host or "localhost", u.port, u.database)

    return place(a) == place(b)


def refuse_unsafe_target(url, settings: Settings) -> None:
    """Targets a user may not add: Quarry's own store, and in team mode any file on the
    server, which another user's data could be."""
    if _same_database(url, make_url(settings.store_url)):
        raise BadInput(
            "That is Quarry's own store, not a database to query.",
            hint="Connect to the database your data is in.",
        )
    if settings.team_mode and url.get_backend_name() == "sqlite":
        raise BadInput(
            "In a team deployment, connections to files on the server are not allowed.",
            hint="Ask an administrator to add it to the secrets file as [connections.NAME].",
        )


def check_new_connection(name: str, url: str, settings: Settings, *, replace: bool = False):
    """The parsed URL of a connection the user may add under `name`; BadInput otherwise.

    Runs before anything connects, so a refused target is never even opened.
    """
    name = name.strip()
    if not name:
        raise BadInput("A connection needs a name.")
    if name == DEMO_NAME:
        raise BadInput(f"'{DEMO_NAME}' is the embedded demo's name; pick another.")
    parsed = parse_url(url)
    refuse_unsafe_target(parsed, settings)
    # Names are one if they differ only in case or punctuation: the store's collation may
    # match them as one row, and they read the same password variable.
    key = password_env_var(name)
    for spec in secrets_connections(settings):
        if password_env_var(spec.name) == key:
            raise BadInput(
                f"'{name}' is taken by the connection '{spec.name}' from the secrets file.",
                hint="Pick another name.",
            )
    for spec in stored_connections(settings):
        if password_env_var(spec.name) == key and not (replace and spec.name == name):
            raise BadInput(
                f"A connection named '{spec.name}' exists already.",
                hint="Pick another name, or remove the existing one first.",
            )
    return parsed


def save_connection(
    name: str, url: str, settings: Settings, *, replace: bool = False, author: str | None = None
) -> ConnectionSpec:
    """Save a connection without its password; returns the spec with the password kept.

    `author` (the logged-in user in team mode) is kept as its owner.
    """
    name = name.strip()
    parsed = check_new_connection(name, url, settings, replace=replace)
    with session_scope(settings.store_url) as session:
        existing = session.scalars(
            sa.select(SavedConnection).where(SavedConnection.name == name)
        ).first()
        if existing is not None and (existing.name != name or not replace):
            raise BadInput(f"A connection named '{existing.name}' exists already.")
        if existing is not None and not _owner_allows(existing.created_by, settings, author):
            raise BadInput(
                f"{existing.created_by} added the connection '{existing.name}'; only they can "
                "change it."
            )
        if existing is None:
            existing = SavedConnection(
                name=name, dialect=parsed.get_backend_name(), url="", created_by=author
            )
            session.add(existing)
        existing_owner = existing.created_by
        existing.url = without_password(parsed)
        existing.dialect = parsed.get_backend_name()
    logger.info("Saved connection %s", name)
    return ConnectionSpec(
        name, parsed.render_as_string(hide_password=False), "store", existing_owner or author
    )


def _owner_allows(owner: str | None, settings: Settings, user: str | None) -> bool:
    """In team mode a saved connection is changed or removed only by whoever added it
    (one saved before owners were kept is anyone's)."""
    return not settings.team_mode or owner is None or owner == user


def may_remove(spec: ConnectionSpec, settings: Settings, user: str | None) -> bool:
    """Only saved connections are removed here, by whom `_owner_allows`."""
    return spec.source == "store" and _owner_allows(spec.owner, settings, user)


def delete_connection(name: str, settings: Settings, *, user: str | None = None) -> None:
    """Remove a saved connection; in team mode BadInput unless `user` added it."""
    with session_scope(settings.store_url) as session:
        row = session.scalars(
            sa.select(SavedConnection).where(SavedConnection.name == name)
        ).first()
        if row is None:
            return
        if not _owner_allows(row.created_by, settings, user):
            raise BadInput(
                f"{row.created_by} added the connection '{name}'; only they can remove it.",
                hint="Ask them, or an administrator, to remove it.",
            )
        session.delete(row)
    logger.info("Removed connection %s", name)
