"""Readings chosen on the Ask page, kept as business terms in a connection's glossary.

When the question check finds "city" ambiguous and the analyst picks
"Customer.City", saving that reading adds ``BusinessTerm("city",
"Customer.City", "Customer")`` to the connection's glossary as a new version
(``core.glossary_store``, with its author and time). From then on the check
applies the reading by itself, the offline engine and the model see it, and
the Profile page lists it with the other terms.
"""

from __future__ import annotations

import dataclasses
import logging

from core import glossary_store
from core.errors import BadInput
from core.glossary import BusinessTerm, Glossary

logger = logging.getLogger(__name__)


def save_reading(
    connection_name: str,
    term: BusinessTerm,
    *,
    author: str | None = None,
    store_url: str | None = None,
) -> None:
    """Keep `term` in the connection's glossary; a term saved again replaces its definition."""
    if not term.term.strip() or not term.definition.strip():
        raise BadInput("A reading needs the words it explains and what they mean.")
    current = glossary_store.load(connection_name, store_url=store_url)
    others = [t for t in current.terms if t.term.lower() != term.term.lower()]
    updated = dataclasses.replace(current, terms=[*others, term])
    glossary_store.save(connection_name, updated, author=author or "Ask page", store_url=store_url)
    logger.info("Saved the reading %r = %r for %s", term.term, term.definition, connection_name)


def saved_terms(connection_name: str, *, store_url: str | None = None) -> list[BusinessTerm]:
    """The business terms of a connection's glossary (saved readings among them)."""
    return list(glossary_store.load(connection_name, store_url=store_url).terms)


def connection_glossary(connection_name: str, *, store_url: str | None = None) -> Glossary | None:
    """The glossary questions on this connection are asked with (None when it is empty)."""
    return glossary_store.load(connection_name, store_url=store_url) or None
