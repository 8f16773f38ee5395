"""The shape of a target database's schema, as every later step sees it.

Introspection (``core.introspect``) fills these objects; the guard, the
offline engine, the prompt, profiling and curation read them. Names are
matched case-insensitively, as MySQL on most systems and analysts do.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

_KIND_PATTERNS = (
    ("boolean", re.compile(r"^(bool|boolean|bit\(1\)|tinyint\(1\))")),
    ("integer", re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint|serial|bigserial)")),
    ("number", re.compile(r"^(decimal|numeric|float|double|real|money|number)")),
    ("datetime", re.compile(r"^(datetime|timestamp)")),
    ("date", re.compile(r"^(date|year)")),
    ("time", re.compile(r"^(time|interval)")),
    ("json", re.compile(r"^(json|jsonb)")),
    ("binary", re.compile(r"^(blob|tinyblob|mediumblob|longblob|binary|varbinary|bytea|bit)")),
    (
        "text",
        re.compile(
            r"^(char|varchar|nchar|nvarchar|text|tinytext|mediumtext|longtext|"
            r"character|string|enum|set|clob|citext|uuid|national)"
        ),
    ),
)
# A kind's name must end at a word boundary: "interval" is not an "int".
_KIND_PATTERNS = tuple((k, re.compile(p.pattern + r"(?![a-z])")) for k, p in _KIND_PATTERNS)


def type_kind(type_text: str) -> str:
    """Map a column type as the database spells it to a broad kind.

    >>> type_kind("decimal(10,2)"), type_kind("VARCHAR(40)"), type_kind("int(11) unsigned")
    ('number', 'text', 'integer')
    """
    lowered = type_text.strip().lower()
    for kind, pattern in _KIND_PATTERNS:
        if pattern.match(lowered):
            return kind
    return "other"


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    comment: str = ""

    @property
    def kind(self) -> str:
        return type_kind(self.type)

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("integer", "number")


@dataclasses.dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ref_schema: str | None = None
    name: str | None = None


@dataclasses.dataclass
class Table:
    name: str
    schema: str | None = None
    kind: str = "table"  # "table" or "view"
    columns: list[Column] = dataclasses.field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    foreign_keys: list[ForeignKey] = dataclasses.field(default_factory=list)
    row_count: int | None = None  # approximate: the server's own estimate
    comment: str = ""

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        for column in self.columns:
            if column.name.lower() == lowered:
                return column
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclasses.dataclass(frozen=True)
class ObjectError:
    """Something introspection could not read; recorded so the rest still works."""

    object: str
    message: str


@dataclasses.dataclass
class Schema:
    backend: str  # "mysql", "sqlite" or "postgresql"
    default_schema: str | None
    tables: list[Table] = dataclasses.field(default_factory=list)
    errors: list[ObjectError] = dataclasses.field(default_factory=list)

    def table(self, name: str, schema: str | None = None) -> Table | None:
        """Find a table or view by name, preferring the default schema."""
        lowered = name.lower()
        wanted_schema = schema.lower() if schema else None
        found = [
            t
            for t in self.tables
            if t.name.lower() == lowered
            and (wanted_schema is None or (t.schema or "").lower() == wanted_schema)
        ]
        if not found:
            return None
        if wanted_schema is None and len(found) > 1:
            for t in found:
                if (t.schema or "") == (self.default_schema or ""):
                    return t
        return found[0]

    @property
    def main_tables(self) -> list[Table]:
        """The objects of the default schema (all objects when none is set)."""
        if self.default_schema is None:
            return list(self.tables)
        return [t for t in self.tables if t.schema == self.default_schema]

    @property
    def schema_names(self) -> list[str]:
        return sorted({t.schema for t in self.tables if t.schema})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        tables = []
        for t in data.get("tables", []):
            tables.append(
                Table(
                    name=t["name"],
                    schema=t.get("schema"),
                    kind=t.get("kind", "table"),
                    columns=[Column(**c) for c in t.get("columns", [])],
                    primary_key=tuple(t.get("primary_key", ())),
                    foreign_keys=[
                        ForeignKey(
                            columns=tuple(fk["columns"]),
                            ref_table=fk["ref_table"],
                            ref_columns=tuple(fk["ref_columns"]),
                            ref_schema=fk.get("ref_schema"),
                            name=fk.get("name"),
                        )
                        for fk in t.get("foreign_keys", [])
                    ],
                    row_count=t.get("row_count"),
                    comment=t.get("comment", ""),
                )
            )
        return cls(
            backend=data["backend"],
            default_schema=data.get("default_schema"),
            tables=tables,
            errors=[ObjectError(**e) for e in data.get("errors", [])],
        )
