"""An open target database: engine, server, schema, and what is derived from them.

``open_target`` connects, asks the server what it is and reads the schema;
the value index and the lexicon are built on first use and kept, since every
question on the same connection needs them.
"""

from __future__ import annotations

import dataclasses
import threading

import sqlalchemy as sa

from core.connections import (
    ServerInfo,
    make_target_engine,
    mask_text,
    mask_url,
    parse_url,
    server_info,
)
from core.errors import ConnectionFailed
from core.glossary import Glossary
from core.introspect import introspect
from core.linking import Lexicon, build_lexicon
from core.schema import Schema
from core.settings import Settings
from core.value_index import ValueIndex, build_value_index


@dataclasses.dataclass
class Target:
    name: str
    url: str = dataclasses.field(repr=False)
    engine: sa.Engine = dataclasses.field(repr=False)
    server: ServerInfo
    schema: Schema
    _values: ValueIndex | None = dataclasses.field(default=None, repr=False)
    _lexicons: dict = dataclasses.field(default_factory=dict, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def dialect(self) -> str:
        return self.server.sqlglot_dialect

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def values(self, timeout_s: float = 10.0) -> ValueIndex:
        with self._lock:
            if self._values is None:
                self._values = build_value_index(
                    self.engine, self.schema, self.server, timeout_s=timeout_s
                )
            return self._values

    def lexicon(self, glossary: Glossary | None = None) -> Lexicon:
        key = _glossary_key(glossary)
        # A glossary's meanings name stored codes ("ACTV active"); the values tell which.
        values = self.values() if glossary else None
        with self._lock:
            if key not in self._lexicons:
                self._lexicons[key] = build_lexicon(self.schema, glossary, values)
            return self._lexicons[key]

    def close(self) -> None:
        self.engine.dispose()


def _glossary_key(glossary: Glossary | None) -> tuple:
    if not glossary:
        return ()
    return (tuple(glossary.meanings), tuple(glossary.synonyms), tuple(glossary.terms))


def open_target(url: str, settings: Settings, name: str | None = None) -> Target:
    """Connect to `url` and read its schema; raises BadURL or ConnectionFailed."""
    parsed = parse_url(url)
    full = parsed.render_as_string(hide_password=False)
    engine = make_target_engine(full, settings)
    try:
        server = server_info(engine)
        schema = introspect(engine)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        detail = mask_text(str(exc.orig).strip().splitlines()[0])
        raise ConnectionFailed(
            f"Connected to {mask_url(parsed)} but could not read its schema: {detail}",
            hint="The user needs SELECT on the database and on information_schema.",
            url=mask_url(parsed),
        ) from None
    except Exception:
        engine.dispose()
        raise
    return Target(
        name=name or mask_url(parsed), url=full, engine=engine, server=server, schema=schema
    )
