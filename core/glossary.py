"""The glossary: what columns mean, which values are the same, what terms stand for.

Curation fills it and the store keeps it; the offline engine, the prompt and
the ambiguity checks read it through the ``Glossary`` object defined here.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ColumnMeaning:
    table: str
    column: str
    meaning: str
    # Where the entry came from ("dictionary", "model", "typed", "import" …); not part of equality.
    source: str = dataclasses.field(default="", compare=False)


@dataclasses.dataclass(frozen=True)
class ValueSynonym:
    """`synonym` as written in a question or the data stands for `value` in `table.column`."""

    table: str
    column: str
    synonym: str
    value: str
    source: str = dataclasses.field(default="", compare=False)


@dataclasses.dataclass(frozen=True)
class BusinessTerm:
    """A phrase analysts use ("active customer") and the condition it means."""

    term: str
    definition: str
    table: str = ""
    source: str = dataclasses.field(default="", compare=False)


@dataclasses.dataclass
class Glossary:
    meanings: list[ColumnMeaning] = dataclasses.field(default_factory=list)
    synonyms: list[ValueSynonym] = dataclasses.field(default_factory=list)
    terms: list[BusinessTerm] = dataclasses.field(default_factory=list)

    def meaning(self, table: str, column: str) -> str | None:
        t, c = table.lower(), column.lower()
        for m in self.meanings:
            if m.table.lower() == t and m.column.lower() == c:
                return m.meaning
        return None

    def variants(self, table: str, column: str, value: str) -> list[str]:
        """Every spelling the glossary knows for `value` in `table.column`, `value` first."""
        t, c, v = table.lower(), column.lower(), value.lower()
        canonical = value
        for s in self.synonyms:
            if s.table.lower() == t and s.column.lower() == c and s.synonym.lower() == v:
                canonical = s.value
        found = [canonical]
        for s in self.synonyms:
            if (
                s.table.lower() == t
                and s.column.lower() == c
                and s.value.lower() == canonical.lower()
                and s.synonym not in found
            ):
                found.append(s.synonym)
        return found

    def __bool__(self) -> bool:
        return bool(self.meanings or self.synonyms or self.terms)
