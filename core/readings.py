"""Readings chosen on the Ask page, kept as business terms of a connection.

When the question check finds "city" ambiguous and the analyst picks
"Customer.City", saving that reading stores ``BusinessTerm("city",
"Customer.City", "Customer")`` for the connection. From then on the check
applies the reading by itself, and the model sees the term in the prompt's
glossary.

This module is the one seam between the pages and where business terms
live: today the store's ``saved_readings`` table; once the glossary store
(``core.glossary_store``) lands, ``save_reading`` and ``connection_glossary``
write and read there, and the Ask page, the Prompt lab's preview and its runs
all see the same glossary.
"""

from __future__ import annotations

import dataclasses
import logging

import sqlalchemy as sa

from core.errors import BadInput
from core.glossary import BusinessTerm, Glossary
from db.database import session_scope
from db.models import SavedReading

logger = logging.getLogger(__name__)


def save_reading(
    connection_name: str,
    term: BusinessTerm,
    *,
    author: str | None = None,
    store_url: str | None = None,
) -> None:
    """Keep `term` for the connection; a term saved again replaces the older definition."""
    if not term.term.strip() or not term.definition.strip():
        raise BadInput("A reading needs the words it explains and what they mean.")
    with session_scope(store_url) as session:
        session.execute(
            sa.delete(SavedReading).where(
                SavedReading.connection_name == connection_name,
                SavedReading.term == term.term,
            )
        )
        session.add(
            SavedReading(
                connection_name=connection_name,
                term=term.term,
                definition=term.definition,
                table_name=term.table,
                author=author,
            )
        )
    logger.info("Saved the reading %r = %r for %s", term.term, term.definition, connection_name)


def saved_terms(connection_name: str, *, store_url: str | None = None) -> list[BusinessTerm]:
    with session_scope(store_url) as session:
        rows = session.scalars(
            sa.select(SavedReading)
            .where(SavedReading.connection_name == connection_name)
            .order_by(SavedReading.id)
        )
        return [BusinessTerm(r.term, r.definition, r.table_name) for r in rows]


def with_saved_terms(
    glossary: Glossary | None, connection_name: str, *, store_url: str | None = None
) -> Glossary:
    """`glossary` (or an empty one) plus the readings saved for the connection."""
    base = glossary or Glossary()
    known = {t.term.lower() for t in base.terms}
    extra = [
        t for t in saved_terms(connection_name, store_url=store_url) if t.term.lower() not in known
    ]
    return dataclasses.replace(base, terms=[*base.terms, *extra])


def connection_glossary(connection_name: str, *, store_url: str | None = None) -> Glossary | None:
    """The glossary questions on this connection are asked with (None when it is empty)."""
    return with_saved_terms(None, connection_name, store_url=store_url) or None
