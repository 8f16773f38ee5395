"""The glossary kept in the store, one version per save, and its files.

Each connection (by name: "demo", a secrets connection, a saved one) has its
own glossary. Saving writes a new version holding every entry, with who saved
it, when, and a summary of what changed against the version before, so the
history answers "who changed what and when" and any version can be read back.

Files: YAML or JSON with the lists ``meanings``, ``synonyms`` and ``terms``
(the fields of ``core.glossary``), and a Markdown data dictionary for people.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
import time
from typing import Any

import sqlalchemy as sa
import yaml
from sqlglot import exp

from core.errors import BadInput
from core.glossary import BusinessTerm, ColumnMeaning, Glossary, ValueSynonym
from core.offline_engine import definition_condition
from core.schema import Schema
from core.settings import Settings
from db.database import session_scope
from db.models import GlossaryEntry, GlossaryVersion

logger = logging.getLogger(__name__)

FORMATS = ("yaml", "json")
_FIELDS = {
    "meanings": (ColumnMeaning, ("table", "column", "meaning")),
    "synonyms": (ValueSynonym, ("table", "column", "synonym", "value")),
    "terms": (BusinessTerm, ("term", "definition")),
}


@dataclasses.dataclass(frozen=True)
class VersionInfo:
    version: int
    author: str
    created_at: dt.datetime
    summary: str
    entries: int


# -- entries <-> rows ------------------------------------------------------------


def _rows(glossary: Glossary) -> list[dict[str, str]]:
    rows = [
        dict(kind="meaning", table_name=m.table, column_name=m.column, phrase=m.meaning, value="")
        | {"source": m.source}
        for m in glossary.meanings
    ]
    rows += [
        dict(kind="synonym", table_name=s.table, column_name=s.column, phrase=s.synonym)
        | {"value": s.value, "source": s.source}
        for s in glossary.synonyms
    ]
    rows += [
        dict(kind="term", table_name=t.table, column_name="", phrase=t.term, value=t.definition)
        | {"source": t.source}
        for t in glossary.terms
    ]
    return rows


def _glossary(entries: list[GlossaryEntry]) -> Glossary:
    glossary = Glossary()
    for e in entries:
        if e.kind == "meaning":
            glossary.meanings.append(ColumnMeaning(e.table_name, e.column_name, e.phrase, e.source))
        elif e.kind == "synonym":
            glossary.synonyms.append(
                ValueSynonym(e.table_name, e.column_name, e.phrase, e.value, e.source)
            )
        elif e.kind == "term":
            glossary.terms.append(BusinessTerm(e.phrase, e.value, e.table_name, e.source))
    return glossary


def _latest(session, connection_name: str) -> GlossaryVersion | None:
    return session.scalars(
        sa.select(GlossaryVersion)
        .where(GlossaryVersion.connection_name == connection_name)
        .order_by(GlossaryVersion.version.desc())
        .limit(1)
    ).first()


# -- the store -------------------------------------------------------------------


def load(
    connection_name: str, *, version: int | None = None, store_url: str | None = None
) -> Glossary:
    """The newest glossary of a connection (or a given version); empty when none was saved."""
    with session_scope(store_url) as session:
        if version is None:
            row = _latest(session, connection_name)
        else:
            row = session.scalars(
                sa.select(GlossaryVersion).where(
                    GlossaryVersion.connection_name == connection_name,
                    GlossaryVersion.version == version,
                )
            ).first()
            if row is None:
                raise BadInput(
                    f"The glossary of {connection_name} has no version {version}.",
                    hint="Pick a version from the history.",
                )
        return _glossary(list(row.entries)) if row is not None else Glossary()


def save(
    connection_name: str,
    glossary: Glossary,
    *,
    author: str,
    store_url: str | None = None,
    base: int | None = None,
) -> VersionInfo | None:
    """Save `glossary` as the next version; None when it equals the newest one.

    `base` is the version the edit started from (0 for an empty glossary): when someone
    saved after it, the save is refused rather than hiding their change.
    """
    glossary = clean(glossary)
    author = (author or "").strip() or "unknown"
    try:
        return _save(connection_name, glossary, author, store_url, base=base)
    except (sa.exc.IntegrityError, _Moved):
        # Another session saved the next version first (the version number is unique).
        raise BadInput(
            f"Someone saved the glossary of {connection_name} while this one was being edited.",
            hint="Reload the glossary, make the change again and save.",
        ) from None


class _Moved(Exception):
    """The newest version is not the one a change was made on."""


def _save(
    connection_name: str,
    glossary: Glossary,
    author: str,
    store_url: str | None,
    base: int | None = None,
) -> VersionInfo | None:
    """Save as the next version; with `base`, only if the newest version is still `base`
    (0 for none), so that a change made on an older version never hides a newer one."""
    with session_scope(store_url) as session:
        latest = _latest(session, connection_name)
        if base is not None and (latest.version if latest is not None else 0) != base:
            raise _Moved()
        previous = _glossary(list(latest.entries)) if latest is not None else Glossary()
        changes = diff(previous, glossary)
        if not changes:
            return None
        row = GlossaryVersion(
            connection_name=connection_name,
            version=(latest.version + 1) if latest is not None else 1,
            author=author[:100],
            summary="; ".join(changes)[:4000],
        )
        row.entries = [GlossaryEntry(**r) for r in _rows(glossary)]
        session.add(row)
        session.flush()
        info = VersionInfo(row.version, row.author, row.created_at, row.summary, len(row.entries))
    logger.info(
        "Saved glossary version %d of %s by %s (%d entries)",
        info.version,
        connection_name,
        info.author,
        info.entries,
    )
    return info


def newest_version(connection_name: str, store_url: str | None = None) -> int:
    """The number of the newest saved version (0 when none was saved)."""
    return _newest_version(connection_name, store_url)


def _newest_version(connection_name: str, store_url: str | None) -> int:
    with session_scope(store_url) as session:
        latest = _latest(session, connection_name)
        return latest.version if latest is not None else 0


def update(
    connection_name: str,
    change,
    *,
    author: str,
    store_url: str | None = None,
    attempts: int = 100,
) -> VersionInfo | None:
    """Apply `change` (a function from the newest glossary to the new one) and save it;
    when another session saves first, read its version and apply the change again."""
    for attempt in range(attempts):
        base = _newest_version(connection_name, store_url)
        current = load(connection_name, version=base or None, store_url=store_url)
        try:
            return _save(
                connection_name,
                clean(change(current)),
                (author or "").strip() or "unknown",
                store_url,
                base=base,
            )
        except (sa.exc.IntegrityError, _Moved):
            # Back off a little, at random, so that colliding sessions spread out.
            time.sleep(random.uniform(0, min(0.05, 0.002 * 2 ** min(attempt, 5))))
    raise BadInput(
        f"The glossary of {connection_name} kept changing under this edit; try again.",
    )


def history(connection_name: str, *, store_url: str | None = None) -> list[VersionInfo]:
    """Every saved version, newest first."""
    with session_scope(store_url) as session:
        counts = dict(
            session.execute(
                sa.select(GlossaryEntry.version_id, sa.func.count())
                .join(GlossaryVersion)
                .where(GlossaryVersion.connection_name == connection_name)
                .group_by(GlossaryEntry.version_id)
            ).all()
        )
        rows = session.scalars(
            sa.select(GlossaryVersion)
            .where(GlossaryVersion.connection_name == connection_name)
            .order_by(GlossaryVersion.version.desc())
        ).all()
        return [
            VersionInfo(r.version, r.author, r.created_at, r.summary, counts.get(r.id, 0))
            for r in rows
        ]


# -- comparing and cleaning ------------------------------------------------------


def clean(glossary: Glossary) -> Glossary:
    """Whitespace trimmed, empty and repeated entries dropped (the last of a repeat wins)."""
    meanings: dict[tuple[str, str], ColumnMeaning] = {}
    for m in glossary.meanings:
        t, c, text = m.table.strip(), m.column.strip(), " ".join(m.meaning.split())
        if t and c and text:
            meanings[(t.lower(), c.lower())] = ColumnMeaning(t, c, text, m.source)
    synonyms: dict[tuple[str, str, str], ValueSynonym] = {}
    for s in glossary.synonyms:
        t, c, value = s.table.strip(), s.column.strip(), s.value
        if t and c and s.synonym != "" and value != "" and s.synonym != value:
            synonyms[(t.lower(), c.lower(), s.synonym)] = ValueSynonym(
                t, c, s.synonym, value, s.source
            )
    terms: dict[str, BusinessTerm] = {}
    for term in glossary.terms:
        name, definition = " ".join(term.term.split()), term.definition.strip()
        if name and definition:
            terms[name.lower()] = BusinessTerm(name, definition, term.table.strip(), term.source)
    return Glossary(list(meanings.values()), list(synonyms.values()), list(terms.values()))


def unknown_names(glossary: Glossary, schema: Schema) -> list[str]:
    """Entries that name a table or column the schema does not have, one sentence each:
    an imported glossary of another database, a typo, or a column since renamed."""
    problems = []
    for kind, entries in (("meaning", glossary.meanings), ("synonym", glossary.synonyms)):
        for entry in entries:
            table = schema.table(entry.table)
            if table is None:
                problems.append(
                    f"The {kind} of {entry.table}.{entry.column}: no table {entry.table}."
                )
            elif table.column(entry.column) is None:
                problems.append(
                    f"The {kind} of {entry.table}.{entry.column}: {table.name} has no column "
                    f"{entry.column}."
                )
    for term in glossary.terms:
        if term.table and schema.table(term.table) is None:
            problems.append(f"The term '{term.term}': no table {term.table}.")
            continue
        for table, column in _missing_columns(term, schema):
            problems.append(
                f"The term '{term.term}': "
                + (
                    f"{table} has no column {column}."
                    if table
                    else f"no table has a column {column}."
                )
            )
    return problems


def _missing_columns(term: BusinessTerm, schema: Schema) -> list[tuple[str, str]]:
    """Columns a definition written as a SQL condition names that are nowhere to be found
    (prose and column readings such as "Customer.City" name none)."""
    condition = definition_condition(term.definition)
    if condition is None:
        return []
    tables = [schema.table(term.table)] if term.table else list(schema.main_tables)
    missing = []
    for column in condition.find_all(exp.Column):
        owners = [schema.table(column.table)] if column.table else tables
        if not any(t is not None and t.column(column.name) for t in owners):
            missing.append((column.table or term.table, column.name))
    return list(dict.fromkeys(missing))


def diff(old: Glossary, new: Glossary) -> list[str]:
    """What changed from `old` to `new`, one short sentence per entry."""
    changes: list[str] = []
    before = {(m.table.lower(), m.column.lower()): m for m in old.meanings}
    after = {(m.table.lower(), m.column.lower()): m for m in new.meanings}
    for key, m in after.items():
        if key not in before:
            changes.append(f"meaning of {m.table}.{m.column} added")
        elif before[key].meaning != m.meaning:
            changes.append(f"meaning of {m.table}.{m.column} changed")
    changes += [
        f"meaning of {m.table}.{m.column} removed" for k, m in before.items() if k not in after
    ]
    old_synonyms, new_synonyms = set(old.synonyms), set(new.synonyms)
    changes += [
        f"synonym '{s.synonym}' → '{s.value}' in {s.table}.{s.column} added"
        for s in new.synonyms
        if s not in old_synonyms
    ]
    changes += [
        f"synonym '{s.synonym}' → '{s.value}' in {s.table}.{s.column} removed"
        for s in old.synonyms
        if s not in new_synonyms
    ]
    old_terms = {t.term.lower(): t for t in old.terms}
    new_terms = {t.term.lower(): t for t in new.terms}
    for key, t in new_terms.items():
        if key not in old_terms:
            changes.append(f"term '{t.term}' added")
        elif (old_terms[key].definition, old_terms[key].table) != (t.definition, t.table):
            changes.append(f"term '{t.term}' changed")
    changes += [f"term '{t.term}' removed" for k, t in old_terms.items() if k not in new_terms]
    return changes


# -- files -----------------------------------------------------------------------


def to_dict(glossary: Glossary) -> dict[str, list[dict[str, str]]]:
    return {
        "meanings": [
            {"table": m.table, "column": m.column, "meaning": m.meaning} for m in glossary.meanings
        ],
        "synonyms": [
            {"table": s.table, "column": s.column, "synonym": s.synonym, "value": s.value}
            for s in glossary.synonyms
        ],
        "terms": [
            {"term": t.term, "definition": t.definition, "table": t.table} for t in glossary.terms
        ],
    }


def from_dict(data: Any, *, source: str = "import") -> Glossary:
    """A glossary from parsed YAML/JSON; BadInput says which entry is wrong and why."""
    if not isinstance(data, dict):
        raise BadInput(
            "A glossary file holds a mapping with the lists meanings, synonyms and terms.",
            hint="Export a glossary to see the shape.",
        )
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise BadInput(
            f"The glossary file has unknown sections: {', '.join(sorted(map(str, unknown)))}.",
            hint="Only meanings, synonyms and terms are read.",
        )
    glossary = Glossary()
    for section, (kind, required) in _FIELDS.items():
        items = data.get(section) or []
        if not isinstance(items, list):
            raise BadInput(f"'{section}' in the glossary file must be a list.")
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise BadInput(f"Entry {n} of '{section}' is not a mapping of fields.")
            missing = [f for f in required if not str(item.get(f, "")).strip()]
            if missing:
                raise BadInput(
                    f"Entry {n} of '{section}' has no {', '.join(missing)}.",
                    hint=f"Each entry of '{section}' needs {', '.join(required)}.",
                )
            fields = {f: str(item[f]) for f in required}
            if section == "terms":
                fields["table"] = str(item.get("table") or "")
            getattr(glossary, section).append(kind(**fields, source=source))
    return clean(glossary)


def dumps(glossary: Glossary, fmt: str = "yaml") -> str:
    data = to_dict(glossary)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def loads(text: str, fmt: str | None = None, *, source: str = "import") -> Glossary:
    """Parse a YAML or JSON glossary (JSON is YAML too, so YAML is the default reader)."""
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(
            f"The glossary file is not valid {(fmt or 'YAML').upper()}: {first}",
            hint="Fix the file, or export a glossary to see the shape.",
        ) from None
    if data is None:
        raise BadInput("The glossary file is empty.", hint="Export a glossary to see the shape.")
    glossary = from_dict(data, source=source)
    if not glossary:
        raise BadInput(
            "The glossary file holds no entries, so nothing was replaced.",
            hint="Export a glossary to see the shape.",
        )
    return glossary


def read_file(path: str, *, source: str = "import") -> Glossary:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise BadInput(f"The glossary file {path} cannot be read: {exc.strerror}.") from None
    return loads(text, "json" if path.lower().endswith(".json") else None, source=source)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(glossary: Glossary, schema: Schema | None = None, title: str = "") -> str:
    """A data dictionary: each table's columns with meanings and value synonyms, then terms."""
    tables: dict[str, list[tuple[str, str]]] = {}
    if schema is not None:
        for table in schema.main_tables:
            tables[table.name] = [(c.name, c.type) for c in table.columns]
    for m in glossary.meanings:
        columns = tables.setdefault(m.table, [])
        if all(name.lower() != m.column.lower() for name, _ in columns):
            columns.append((m.column, ""))
    lines = [f"# Data dictionary{': ' + title if title else ''}", ""]
    for table, columns in tables.items():
        lines += [f"## {table}", "", "| column | type | meaning | values |", "|---|---|---|---|"]
        for name, type_ in columns:
            synonyms = [
                f"'{s.synonym}' = '{s.value}'"
                for s in glossary.synonyms
                if s.table.lower() == table.lower() and s.column.lower() == name.lower()
            ]
            lines.append(
                f"| {_cell(name)} | {_cell(type_)} | {_cell(glossary.meaning(table, name) or '')} "
                f"| {_cell(', '.join(synonyms))} |"
            )
        lines.append("")
    if glossary.terms:
        lines += ["## Business terms", "", "| term | means | table |", "|---|---|---|"]
        lines += [
            f"| {_cell(t.term)} | {_cell(t.definition)} | {_cell(t.table)} |"
            for t in glossary.terms
        ]
        lines.append("")
    return "\n".join(lines)


# -- which glossary the command line uses ------------------------------------------


def connection_key(url: str, settings: Settings) -> str:
    """The name a URL's glossary is kept under: a known connection's name, else the URL.

    The page keys glossaries by connection name; the command line gets a URL, so the
    URL is matched (without its password) against the demo and the configured
    connections, and the masked URL is the key of any other database.
    """
    from core import catalog
    from core.connections import DEMO_NAME, mask_url, secrets_connections, without_password

    wanted = without_password(url)
    if wanted == without_password("sqlite:///" + str(settings.demo_path)):
        return DEMO_NAME
    try:
        known = secrets_connections(settings) + catalog.stored_connections(settings)
    except Exception as exc:  # a store that cannot be read leaves the URL as the key
        logger.warning("Could not read the saved connections: %s", exc)
        known = []
    for spec in known:
        if without_password(spec.url) == wanted:
            return spec.name
    return mask_url(url)
