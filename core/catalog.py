"""Every target the user can pick: the demo, secrets' connections, saved ones.

Saved connections live in the store without their password; the password
comes from ``[connections.NAME]`` in secrets or the ``QUARRY_<NAME>_PASSWORD``
environment variable (``core.connections.with_password``).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from core.connections import (
    DEMO_NAME,
    ConnectionSpec,
    parse_url,
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
        saved = [(r.name, r.url) for r in rows]
    return [
        ConnectionSpec(name, with_password(name, url, settings), "store") for name, url in saved
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


def save_connection(name: str, url: str, settings: Settings) -> ConnectionSpec:
    """Save a connection without its password; returns the spec with the password kept."""
    name = name.strip()
    if not name:
        raise BadInput("A connection needs a name.")
    if name == DEMO_NAME:
        raise BadInput(f"'{DEMO_NAME}' is the embedded demo's name; pick another.")
    parsed = parse_url(url)
    with session_scope(settings.store_url) as session:
        existing = session.scalars(
            sa.select(SavedConnection).where(SavedConnection.name == name)
        ).first()
        if existing is None:
            existing = SavedConnection(name=name, dialect=parsed.get_backend_name(), url="")
            session.add(existing)
        existing.url = without_password(parsed)
        existing.dialect = parsed.get_backend_name()
    logger.info("Saved connection %s", name)
    return ConnectionSpec(name, parsed.render_as_string(hide_password=False), "store")


def delete_connection(name: str, settings: Settings) -> None:
    with session_scope(settings.store_url) as session:
        session.execute(sa.delete(SavedConnection).where(SavedConnection.name == name))
