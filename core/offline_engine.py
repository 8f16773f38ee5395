"""The offline engine: simple questions to SQL from the schema and the data alone.

It needs no model and no key. It reads a question as a small frame (what is
counted, listed or aggregated; filters on values that occur in the data;
a grouping; an order and a limit), joins tables along foreign keys, and
writes SQL in the connection's dialect. It handles counts, lists,
sum/average/minimum/maximum, top-N, group-by, equality filters on values,
years, joins and superlatives ("the longest track").

Business terms of the glossary whose definition is a condition on one table
("premium plan" = ``sla_pct >= 99.9`` on plans) are applied as filters when
the question uses them.

It declines rather than guesses: when a word of the question means nothing
it can place, when a value occurs nowhere, or when tables cannot be joined,
it raises ``Declined`` saying what it could not read.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from core import identifiers
from core.errors import Declined
from core.glossary import BusinessTerm, Glossary
from core.linking import (
    FILLERS,
    STOPWORDS,
    Lexicon,
    Linking,
    Mention,
    Token,
    link,
    strong_value,
    tokenize,
)
from core.naming import singular
from core.schema import Column, Schema, Table
from core.value_index import ValueHit, ValueIndex

ENGINE_NAME = "offline"
MAX_FILTERS = 6

_AGGREGATES = {
    "total": "SUM",
    "sum": "SUM",
    "average": "AVG",
    "avg": "AVG",
    "mean": "AVG",
    "maximum": "MAX",
    "max": "MAX",
    "highest": "MAX",
    "largest": "MAX",
    "biggest": "MAX",
    "greatest": "MAX",
    "minimum": "MIN",
    "min": "MIN",
    "lowest": "MIN",
    "smallest": "MIN",
}

# Column-name words that say what a superlative adjective measures.
_LENGTH = (
    "length",
    "duration",
    "millisecond",
    "ms",
    "second",
    "minute",
    "hour",
    "runtime",
    "len",
    "mttr",
    "hrs",
)
_PRICE = ("price", "cost", "amount", "amt", "charge", "fee", "rate", "total", "prc", "mrc", "nrc")
_SIZE = (
    "size",
    "byte",
    "capacity",
    "bandwidth",
    "bw",
    "mbps",
    "quantity",
    "qty",
    "amount",
    "total",
    "population",
    "area",
    "count",
)
_DATE_KINDS = ("date", "datetime")
# Timestamps a database keeps about its own rows, not dates an analyst counts by.
BOOKKEEPING_DATE = re.compile(r"(^|_)(last_?)?(update|updated|modified|changed)(_|$)", re.I)

# adjective words -> (direction, hint words or "date"/"birth")
_SUPERLATIVES: dict[tuple[str, ...], tuple[str, object]] = {
    ("longest",): ("DESC", _LENGTH),
    ("shortest",): ("ASC", _LENGTH),
    ("most", "expensive"): ("DESC", _PRICE),
    ("priciest",): ("DESC", _PRICE),
    ("least", "expensive"): ("ASC", _PRICE),
    ("cheapest",): ("ASC", _PRICE),
    ("largest",): ("DESC", _SIZE),
    ("biggest",): ("DESC", _SIZE),
    ("smallest",): ("ASC", _SIZE),
    ("newest",): ("DESC", "date"),
    ("latest",): ("DESC", "date"),
    ("most", "recent"): ("DESC", "date"),
    ("earliest",): ("ASC", "date"),
    ("oldest",): ("ASC", "birth"),
    ("youngest",): ("DESC", "birth"),
    ("highest",): ("DESC", None),
    ("lowest",): ("ASC", None),
}
_HINT_WORDS = {w for _, hint in _SUPERLATIVES.values() if isinstance(hint, tuple) for w in hint}

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}
_LIST_WORDS = {"list", "show", "display", "give", "which", "what", "who", "name", "find", "get"}
_GROUP_WORDS = {"each", "per", "every", "by"}
# "fewest" is left out on purpose: an inner join never sees the rows with none, and
# the many ties at the bottom make one answer arbitrary.
_RANK_WORDS = {"most": "DESC"}
# "the smallest number of tracks" is "the fewest tracks", not the smallest track.
_RANK_PHRASES = {
    (size, *tail): direction
    for direction, sizes in (
        ("ASC", ("smallest", "lowest", "least")),
        ("DESC", ("largest", "highest", "greatest", "biggest")),
    )
    for size in sizes
    for tail in (("number", "of"), ("count", "of"), ("amount", "of"))
}
# "least expensive" is a superlative of its own, read elsewhere.
_LEAST_OK = frozenset({"expensive"})
_MONTH_ABBREVIATIONS = frozenset("jan feb mar apr may jun jul aug sep sept oct nov dec".split())
_PART_OF_YEAR = re.compile(r"^(q[1-4]|h[12])$")
_YEAR_PREPOSITIONS = {"in", "during", "of", "for"}
# Constructions the offline engine does not handle. Answering as if they were absent
# would be wrong, so a question holding one is declined (the words say why).
_UNHANDLED = {
    "not": "negation",
    "no": "negation",
    "without": "negation",
    "never": "negation",
    "except": "negation",
    "excluding": "negation",
    "exclude": "negation",
    "none": "negation",
    "neither": "negation",
    "nor": "negation",
    "or": "alternatives",
    "either": "alternatives",
    "second": "an ordinal",
    "third": "an ordinal",
    "fourth": "an ordinal",
    "fifth": "an ordinal",
    "2nd": "an ordinal",
    "3rd": "an ordinal",
    "4th": "an ordinal",
    "5th": "an ordinal",
    "penultimate": "an ordinal",
    "more": "a comparison",
    "less": "a comparison",
    "fewer": "a comparison",
    "greater": "a comparison",
    "above": "a comparison",
    "below": "a comparison",
    "over": "a comparison",
    "under": "a comparison",
    "between": "a range",
    "before": "a date range",
    "after": "a date range",
    "since": "a date range",
    "until": "a date range",
    "percent": "a ratio",
    "percentage": "a ratio",
    "ratio": "a ratio",
    "share": "a ratio",
    "proportion": "a ratio",
    "january": "a month",
    "february": "a month",
    "march": "a month",
    "april": "a month",
    "june": "a month",
    "july": "a month",
    "august": "a month",
    "september": "a month",
    "october": "a month",
    "november": "a month",
    "december": "a month",
}
_LABEL = re.compile(r"(^|_)(name|title|nm)$|name$|title$", re.IGNORECASE)


@dataclasses.dataclass
class OfflineAnswer:
    sql: str
    reading: str  # how the question was read, in words


@dataclasses.dataclass
class _Filter:
    table: str
    column: str
    values: list[str]  # empty: the column is a yes/no flag that must be true
    # A business term's condition on `table` (column names as the schema spells them);
    # `column` is then empty and `values` unused.
    condition: exp.Expression | None = None
    term: str = ""


@dataclasses.dataclass
class _Frame:
    subject: Table
    action: str = "list"  # "count", "aggregate", "list", "superlative", "rank"
    aggregate: str | None = None
    measure: tuple[str, str] | None = None  # (table, column)
    group: tuple[str, str] | None = None  # (table, column or "" for the table itself)
    filters: list[_Filter] = dataclasses.field(default_factory=list)
    years: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    select: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    direction: str = "DESC"
    limit: int | None = None
    distinct_count: tuple[str, str] | None = None


class _Reader:
    """Reads one question against one schema; every method consumes tokens."""

    def __init__(
        self,
        question: str,
        schema: Schema,
        lexicon: Lexicon,
        values: ValueIndex | None,
        glossary: Glossary | None,
        dialect: str,
    ) -> None:
        self.question = question
        self.schema = schema
        self.glossary = glossary or Glossary()
        self.dialect = dialect
        self.tokens: list[Token] = tokenize(question)
        self.used: set[int] = set()
        self.words = [t.lower for t in self.tokens]
        self.norms = [t.norm for t in self.tokens]
        self._read_intents()
        self.term_filters = self._read_terms()
        self.values = values
        self._year_mentions: set[int] = set()
        self.linking: Linking = link(
            question, lexicon, values, blocked=set(self.used), tokens=self.tokens
        )
        self.mentions = self.linking.mentions
        self._read_total()

    def _read_total(self) -> None:
        """'total' names a column when one is called that; otherwise it means SUM."""
        for i, w in enumerate(self.words):
            if w in ("total", "sum") and i not in self.used and self.linking.mention_at(i) is None:
                self._take(i)
                if self.aggregate is None:
                    self.aggregate, self.aggregate_at = "SUM", i

    # -- intents ------------------------------------------------------------------

    def _find(self, words: tuple[str, ...], start: int = 0, *, norms: bool = False) -> int:
        """Where `words` first stand in the question, none of them taken (-1: nowhere);
        with `norms`, compared in their singular lower-case forms."""
        seq = self.norms if norms else self.words
        for i in range(start, len(seq) - len(words) + 1):
            if (
                words
                and tuple(seq[i : i + len(words)]) == words
                and not (set(range(i, i + len(words))) & self.used)
            ):
                return i
        return -1

    def _take(self, i: int, n: int = 1) -> None:
        self.used.update(range(i, i + n))

    def _refuse_unhandled(self) -> None:
        phrases = {p for p in _SUPERLATIVES if len(p) > 1}
        inside = {
            i + k
            for i in range(len(self.words))
            for p in phrases
            if tuple(self.words[i : i + len(p)]) == p
            for k in range(len(p))
        }
        for i, t in enumerate(self.tokens):
            kind = _UNHANDLED.get(t.lower)
            if kind and not t.quoted and i not in inside:
                raise Declined(
                    f"'{t.text}' asks for {kind}, which the offline engine does not handle."
                )

    @staticmethod
    def _fewest(words: str) -> Declined:
        return Declined(
            f"'{words}' asks for the smallest count, and the offline engine counts only rows "
            "that exist: a parent with none at all (an artist with no albums) would be "
            "missed. Ask for the counts per parent and sort them, or use a model."
        )

    def _refuse_parts_of_years(self) -> None:
        """'May 2005', 'Sept 2023', 'Q3 2005', 'H1': a part of a year, which the engine
        cannot filter by; read as the whole year they would give a wrong count."""
        for i, t in enumerate(self.tokens):
            if t.quoted:
                continue
            after = self.tokens[i + 1].text if i + 1 < len(self.tokens) else ""
            before = self.words[i - 1] if i > 0 else ""
            yearish = after.isdigit() and len(after) in (2, 4)
            if _PART_OF_YEAR.match(t.lower) or (
                t.lower in _MONTH_ABBREVIATIONS and (yearish or before in _YEAR_PREPOSITIONS)
            ):
                raise Declined(
                    f"'{t.text}' asks for part of a year, which the offline engine does not "
                    "handle; it filters by whole years."
                )

    def _read_intents(self) -> None:
        self._refuse_unhandled()
        self._refuse_parts_of_years()
        phrase_rank: tuple[str | None, int] = (None, -1)
        for phrase, direction in _RANK_PHRASES.items():
            i = self._find(phrase)
            if i >= 0:  # before "number of" is read as a count and "smallest" as a size
                if direction == "ASC":
                    raise self._fewest(" ".join(self.tokens[j].text for j in range(i, i + 3)))
                phrase_rank = (direction, i)
                self._take(i, len(phrase))
                break
        for i, w in enumerate(self.words):
            if w in ("fewest", "least") and i not in self.used and not self.tokens[i].quoted:
                if not (
                    w == "least" and i + 1 < len(self.words) and self.words[i + 1] in _LEAST_OK
                ):
                    raise self._fewest(self.tokens[i].text)
        # "top 3 genres by number of tracks": a ranking by a count, not a count.
        for phrase in (("by", "the", "number", "of"), ("by", "number", "of")):
            i = self._find(phrase)
            if i >= 0:
                self._take(i, len(phrase))
                self.by_count_at = i
                break
        else:
            self.by_count_at = -1
        self.count_at = -1
        for phrase in (("how", "many"), ("number", "of"), ("count", "of"), ("count",)):
            i = self._find(phrase)
            if i >= 0:
                self.count_at = i
                self._take(i, len(phrase))
                break
        self.superlative: tuple[str, object] | None = None
        self.superlative_at = -1
        for phrase, meaning in sorted(_SUPERLATIVES.items(), key=lambda kv: -len(kv[0])):
            i = self._find(phrase)
            if i >= 0:
                self.superlative, self.superlative_at = meaning, i
                self._take(i, len(phrase))
                break
        self.aggregate: str | None = None
        self.aggregate_at = -1
        for i, w in enumerate(self.words):
            if w in _AGGREGATES and i not in self.used and w != "total":
                self.aggregate, self.aggregate_at = _AGGREGATES[w], i
                self._take(i)
                break
        self.rank, self.rank_at = phrase_rank
        for i, w in enumerate(self.words if self.rank is None else ()):
            if w in _RANK_WORDS and i not in self.used:
                self.rank, self.rank_at = _RANK_WORDS[w], i
                self._take(i)
                break
        if self.rank is None and self.by_count_at >= 0:
            self.rank, self.rank_at = "DESC", self.by_count_at
        self.limit: int | None = None
        for i, t in enumerate(self.tokens):
            if i in self.used or t.quoted:
                continue
            number = int(t.text) if t.text.isdigit() else _NUMBER_WORDS.get(t.lower)
            if number is None:
                continue
            before = self.words[i - 1] if i > 0 else ""
            if (
                t.text.isdigit()
                and len(t.text) == 4
                and 1800 <= number <= 2200
                and (before in _YEAR_PREPOSITIONS or before in ("since", "before", "after"))
            ):
                continue  # a year; read with the filters
            if before in ("top", "first", "which", "the", "") or i + 1 < len(self.words):
                self.limit = number
                self._take(i)
                if before == "top":
                    self._take(i - 1)
                break
        if self.limit is None:
            i = self._find(("top",))
            if i >= 0:
                self._take(i)
                self.limit = 0  # "top" with no number: how many is not said
        self.group_marks: list[int] = [
            i for i, w in enumerate(self.words) if w in _GROUP_WORDS and i not in self.used
        ]
        self.list_intent = bool(
            {"list", "show", "display", "give", "which", "what", "who"} & set(self.words)
        )

    def _read_terms(self) -> list[_Filter]:
        """Glossary terms the question uses whose definition is a condition on one
        table. Their words are taken, except those naming a table, which stay for the
        subject ("premium plans" leaves "plans")."""
        found: list[_Filter] = []
        table_words = {singular(w) for t in self.schema.tables for w in _words(t.name)[-1:]}
        for term in sorted(self.glossary.terms, key=lambda t: -len(t.term)):
            norms = tuple(t.norm for t in tokenize(term.term))
            start = self._find(norms, norms=True)
            if start < 0:
                continue
            applied = term_condition(term, self.schema, self.dialect)
            if applied is None:
                continue  # a column reading or prose: the question check and the model use it
            table, condition = applied
            for i in range(start, start + len(norms)):
                if self.norms[i] not in table_words:
                    self.used.add(i)
            found.append(_Filter(table.name, "", [], condition=condition, term=term.term))
        return found

    # -- helpers ------------------------------------------------------------------

    def table(self, name: str) -> Table:
        found = self.schema.table(name)
        assert found is not None
        return found

    def _mention_after(self, index: int) -> Mention | None:
        for m in self.mentions:
            if m.start > index:
                return m
        return None

    def _schema_mentions(self) -> list[Mention]:
        return [m for m in self.mentions if m.kind == "schema"]

    def _span(self, m: Mention) -> str:
        return " ".join(t.text for t in self.tokens[m.start : m.end])

    def decline(self, message: str) -> Declined:
        return Declined(message)

    # -- reading ------------------------------------------------------------------

    def read(self) -> _Frame:
        subject = self._subject()
        frame = _Frame(subject=subject)
        consumed: set[int] = set(self.used)
        mentions = list(self.mentions)
        subject_mention = self._subject_mention
        if subject_mention is not None:
            consumed.update(range(subject_mention.start, subject_mention.end))

        group_mention = self._group_mention(subject_mention)
        strict = [i for i in self.group_marks if self.words[i] in ("each", "per", "every")]
        if strict and group_mention is None:
            word = self.tokens[strict[0]].text
            raise self.decline(
                f"'{word}' needs a table or column to group by right after it; "
                "the offline engine could not find one."
            )
        for m in mentions:
            if m.kind == "value":
                flt = self._filter_for(m, frame)
                frame.filters.append(flt)
                consumed.update(range(m.start, m.end))
                if m.source == "glossary":
                    consumed.update(self._meaning_neighbours(m, flt))
        frame.filters.extend(self.term_filters)
        frame.filters = _merge_filters(frame.filters)
        frame.years = self._years(frame, consumed)

        columns: list[tuple[Mention, tuple[str, str]]] = []
        for m in mentions:
            if m.kind != "schema" or m is subject_mention:
                continue
            if id(m) in self._year_mentions:  # the date column a year is counted by
                consumed.update(range(m.start, m.end))
                continue
            if m is group_mention:
                frame.group = self._resolve_group(m, frame)
                consumed.update(range(m.start, m.end))
                continue
            tables = m.tables()
            columns_of = m.columns()
            prefer_table = tables and (not columns_of or tables[0].score >= columns_of[0].score)
            resolved = None if prefer_table else self._resolve_column(m, frame)
            if resolved is None:
                if tables:
                    consumed.update(range(m.start, m.end))  # a table named as context
                    self._context_tables.append(tables[0].element.table)
                    continue
                raise self.decline(
                    f"'{self._span(m)}' could mean {self._readings(m)}; say which one."
                )
            columns.append((m, resolved))
            consumed.update(range(m.start, m.end))

        self._decide(frame, columns, consumed)
        self._use_leftover_columns(frame, columns)
        unknown = [
            t.text
            for i, t in enumerate(self.tokens)
            if i not in consumed
            and t.lower not in STOPWORDS
            and t.lower not in FILLERS
            and not (t.norm in _HINT_WORDS and (frame.measure or self.superlative))
            and t.lower not in _LIST_WORDS
            and t.lower not in ("name", "names")
        ]
        if unknown:
            raise self.decline(
                "The offline engine could not place "
                + ", ".join(f"'{w}'" for w in unknown)
                + " in the schema or the data."
            )
        return frame

    def _use_leftover_columns(
        self, frame: _Frame, columns: list[tuple[Mention, tuple[str, str]]]
    ) -> None:
        """A column the question names must be used: a yes/no flag becomes a filter
        ("customers are active"); any other left over means the reading missed something."""
        used = {frame.measure, frame.group, frame.distinct_count, *frame.select}
        used |= {(f.table, f.column) for f in frame.filters}
        for mention, column in columns:
            if column in used:
                continue
            table = self.schema.table(column[0])
            found = table.column(column[1]) if table is not None else None
            if found is not None and found.kind == "boolean":
                frame.filters.append(_Filter(column[0], column[1], []))
                continue
            raise self.decline(
                f"'{self._span(mention)}' names {column[0]}.{column[1]}, but the offline "
                "engine cannot tell what the question wants of it."
            )

    def _meaning_neighbours(self, m: Mention, flt: _Filter) -> set[int]:
        """Words beside a code's meaning that the column's meaning also uses: in
        "enterprise accounts", "accounts" belongs to "account type: ENT enterprise"."""
        meaning = self.glossary.meaning(flt.table, flt.column) or ""
        words = {singular(w) for w in re.findall(r"[a-z0-9]+", meaning.lower())}
        found = set()
        for i in (m.start - 1, m.end):
            if 0 <= i < len(self.tokens) and self.tokens[i].norm in words:
                if self.linking.mention_at(i) is None:
                    found.add(i)
        return found

    def _readings(self, m: Mention) -> str:
        names = [str(c.element) for c in m.candidates[:6]]
        return " or ".join(names)

    def _subject(self) -> Table:
        self._subject_mention: Mention | None = None
        self._context_tables: list[str] = []
        schema_mentions = self._schema_mentions()
        if self.count_at >= 0:
            m = self._mention_after(self.count_at)
            if m is not None and m.kind == "schema":
                tables = m.tables()
                if tables:
                    self._subject_mention = m
                    return self.table(tables[0].element.table)
        for m in schema_mentions:
            tables = m.tables()
            if tables and not (self.group_marks and self._follows_group_word(m)):
                self._subject_mention = m
                return self.table(tables[0].element.table)
        for m in schema_mentions:
            columns = m.columns()
            if columns:
                best = columns[0].score
                tables = {c.element.table for c in columns if c.score >= best - 1e-9}
                if len(tables) > 1:
                    raise self.decline(
                        f"'{self._span(m)}' could mean {self._readings(m)}; say which one."
                    )
                return self.table(columns[0].element.table)
        for m in self.mentions:
            if m.kind == "value":
                return self.table(m.values[0].table)
        if self.term_filters:
            return self.table(self.term_filters[0].table)
        raise self.decline("The question names no table, column or value of this database.")

    def _follows_group_word(self, m: Mention) -> bool:
        return (
            m.start > 0
            and self.words[m.start - 1] in _GROUP_WORDS
            and (m.start - 1 in self.group_marks)
        )

    def _group_mention(self, subject_mention: Mention | None) -> Mention | None:
        for i in self.group_marks:
            m = self._mention_after(i)
            if m is None or m.kind != "schema" or m is subject_mention:
                continue
            if m.start in (i + 1, i + 2):
                self.used.add(i)
                return m
        return None

    def _resolve_group(self, m: Mention, frame: _Frame) -> tuple[str, str]:
        column = self._resolve_column(m, frame)
        tables = m.tables()
        if tables and (column is None or tables[0].score >= m.columns()[0].score):
            return (tables[0].element.table, "")
        if column is None:
            raise self.decline(f"'{self._span(m)}' could mean {self._readings(m)}; say which one.")
        return column

    def _near_tables(self, frame: _Frame) -> list[str]:
        names = [frame.subject.name, *self._context_tables]
        for f in frame.filters:
            names.append(f.table)
        return names

    def _resolve_column(self, m: Mention, frame: _Frame) -> tuple[str, str] | None:
        """The one column a mention names, using the tables in play to decide."""
        columns = m.columns()
        if not columns:
            return None
        best = max(c.score for c in columns)
        top = [c for c in columns if c.score >= best - 1e-9]
        context = set(self._near_tables(frame)) | {
            c.element.table for mm in self._schema_mentions() for c in mm.tables()
        }
        for preferred in (frame.subject.name,):
            picked = [c for c in top if c.element.table == preferred]
            if len(picked) == 1:
                return (picked[0].element.table, picked[0].element.column or "")
        picked = [c for c in top if c.element.table in context]
        if len(picked) == 1:
            return (picked[0].element.table, picked[0].element.column or "")
        if len(top) == 1:
            return (top[0].element.table, top[0].element.column or "")
        # several columns fit as well; one in the subject table, if any, still wins
        in_subject = [c for c in columns if c.element.table == frame.subject.name]
        if len(in_subject) == 1 and m.tables() == []:
            return (in_subject[0].element.table, in_subject[0].element.column or "")
        return None

    def _filter_for(self, m: Mention, frame: _Frame) -> _Filter:
        hits = m.values
        near = self._near_tables(frame)
        mentioned = {
            (c.element.table, c.element.column)
            for mm in self._schema_mentions()
            for c in mm.columns()
        }

        def distance(h: ValueHit) -> tuple[int, int]:
            path = join_path(self.schema, frame.subject.name, h.table)
            if path is None:
                return (99, 99)
            return (len(path), sum(1 for _, up in path if not up))

        def is_label(h: ValueHit) -> bool:
            table = self.schema.table(h.table)
            return table is not None and h.column in {c.name for c in label_columns(table)}

        hits = self._narrow_hits(m, hits, frame, mentioned)
        labelled = {h.table for h in hits if is_label(h)}
        if len(labelled) > 1:
            # 'Iron Maiden' names an album, an artist and a track: which one is meant?
            readings = " or ".join(f"{h.table}.{h.column}" for h in hits if is_label(h))
            raise self.decline(
                f"'{self._span(m)}' could be {readings}; say which (for example "
                f"'the {singular(_snake(sorted(labelled)[0]).replace('_', ' '))} "
                f"{self._span(m)}')."
            )
        ranked = sorted(
            hits,
            key=lambda h: (
                (h.table, h.column) not in mentioned,
                h.table not in near,
                distance(h),
                not is_label(h),
                -h.count,
            ),
        )
        hit: ValueHit = ranked[0]
        named = {c.element.table for mm in self._schema_mentions() for c in mm.candidates}
        weak = m.source != "glossary" and not strong_value(self.tokens, m)
        if weak and hit.table != frame.subject.name and hit.table not in named:
            # "How many circuits are active?" with 'active' only in customers.status is a
            # guess about whose status is meant; better to ask.
            raise self.decline(
                f"'{self._span(m)}' occurs in {hit.table}.{hit.column}, not in "
                f"{frame.subject.name}; say which column you mean, or add the meaning to the "
                "glossary."
            )
        if hit.table not in named:  # "the album Iron Maiden" says whose value it is
            self._refuse_near_miss(m, hit, frame, mentioned)
        same = [h.value for h in hits if (h.table, h.column) == (hit.table, hit.column)]
        variants = self.glossary.variants(hit.table, hit.column, hit.value)
        return _Filter(hit.table, hit.column, list(dict.fromkeys(same + variants)))

    def _refuse_near_miss(
        self, m: Mention, hit: ValueHit, frame: _Frame, mentioned: set[tuple[str, str]]
    ) -> None:
        """ "customers from Brasil": 'Brasil' is exactly a track's name, but the customers'
        own 'Brazil' is one letter away. Joining to tracks would answer another question."""
        subject = frame.subject.name
        if hit.table == subject or (hit.table, hit.column) in mentioned or self.values is None:
            return
        close = self.values.near(self._span(m), subject)
        if close:
            raise self.decline(
                f"'{self._span(m)}' is a value of {hit.table}.{hit.column}, not of {subject}; "
                f"did you mean {subject}.{close[0].column} '{close[0].value}'? Ask with that "
                "spelling, or add it to the glossary as a synonym."
            )

    def _narrow_hits(
        self, m: Mention, hits: list[ValueHit], frame: _Frame, mentioned: set[tuple[str, str]]
    ) -> list[ValueHit]:
        """The hits the question's own words point at, when they point anywhere."""
        in_mentioned = [h for h in hits if (h.table, h.column) in mentioned]
        if in_mentioned:
            return in_mentioned
        # "the artist Iron Maiden", "album Let There Be Rock": a table named beside the value.
        for other in self._schema_mentions():
            gap = self.words[other.end : m.start]
            beside = (other.end <= m.start and gap in ([], ["the"], ["named"], ["called"])) or (
                other.start == m.end
            )
            if beside:
                tables = {c.element.table for c in other.tables()}
                named = [h for h in hits if h.table in tables]
                if named:
                    return named
        # "albums by AC/DC": "by" names who made it, a table the subject points up to.
        if m.start > 0 and self.words[m.start - 1] == "by":
            parents = []
            for h in hits:
                path = join_path(self.schema, frame.subject.name, h.table)
                if h.table != frame.subject.name and path and all(up for _, up in path):
                    parents.append(h)
            if parents:
                return parents
        return hits

    def _years(self, frame: _Frame, consumed: set[int]) -> list[tuple[str, str, int]]:
        years = []
        for i, t in enumerate(self.tokens):
            if i in consumed or not (t.text.isdigit() and len(t.text) == 4):
                continue
            year = int(t.text)
            if not 1800 <= year <= 2200:
                continue
            dates = [c for c in frame.subject.columns if c.kind in _DATE_KINDS]
            date = dates[0] if len(dates) == 1 else self._date_of_year(frame.subject, dates)
            if date is None:
                raise self.decline(
                    f"'{year}' is a year, but {frame.subject.name} has "
                    + (
                        "no date column."
                        if not dates
                        else "several date columns: "
                        + ", ".join(c.name for c in dates)
                        + f"; say which (for example 'in {year} by "
                        + " ".join(_words(dates[0].name))
                        + "')."
                    )
                )
            years.append((frame.subject.name, date.name, year))
            consumed.add(i)
            if i > 0:
                consumed.add(i - 1)
        return years

    def _date_of_year(self, table: Table, dates: list[Column]) -> Column | None:
        """Which of several date columns a year is about: one the question names ("in 2005
        by return date"), else the table's own date, named after it (rental.rental_date),
        leaving out the bookkeeping ones (last_update)."""
        named = [
            m
            for m in self._schema_mentions()
            if any(
                c.element.table == table.name and c.element.column in {d.name for d in dates}
                for c in m.columns()[:1]
            )
        ]
        if len(named) == 1:
            self._year_mentions.add(id(named[0]))
            return table.column(named[0].columns()[0].element.column)
        kept = [d for d in dates if not BOOKKEEPING_DATE.search(d.name)]
        if len(kept) == 1:
            return kept[0]
        own = {singular(w) for w in _words(table.name)}
        owned = [d for d in kept if singular(_words(d.name)[0]) in own]
        return owned[0] if len(owned) == 1 else None

    def _hint_column(self, table: Table, hint: object) -> Column | None:
        if hint in ("date", "birth"):
            dates = [c for c in table.columns if c.kind in _DATE_KINDS]
            if hint == "birth":
                births = [c for c in dates if "birth" in c.name.lower() or "dob" in c.name.lower()]
                return births[0] if len(births) == 1 else None
            return dates[0] if len(dates) == 1 else None
        if not isinstance(hint, tuple):
            return None
        fitting = [
            c
            for c in table.columns
            if c.is_numeric
            and not _is_key(table, c)
            and any(
                w in {x.lower() for x in _words(c.name)} or c.name.lower().startswith(w)
                for w in hint
            )
        ]
        return fitting[0] if len(fitting) == 1 else None

    def _decide(
        self, frame: _Frame, columns: list[tuple[Mention, tuple[str, str]]], consumed: set[int]
    ) -> None:
        numeric = [c for _, c in columns if self._is_numeric(c)]
        hint_words = [i for i, t in enumerate(self.tokens) if t.norm in _HINT_WORDS]
        if self.limit is not None:
            frame.limit = self.limit

        if self.count_at >= 0 and not self._subject_mention and columns:
            # "how many countries ..." counts distinct values of a column; a key column
            # ("employees report to": ReportsTo) names a relation, not values to count.
            table = self.schema.table(columns[0][1][0])
            column = table.column(columns[0][1][1]) if table is not None else None
            if column is not None and _is_key(table, column):
                raise self.decline(
                    f"'{self._span(columns[0][0])}' names the key {table.name}.{column.name}; "
                    "the offline engine cannot follow such a relation in a count."
                )
            frame.action = "count"
            frame.distinct_count = columns[0][1]
            return
        if self.superlative is not None:
            direction, hint = self.superlative
            measure = numeric[0] if numeric else None
            if measure is None and hint is None and columns:
                measure = columns[0][1]
            if measure is None:
                column = self._hint_column(frame.subject, hint)
                if column is None:
                    raise self.decline(
                        f"'{self.words[self.superlative_at]}' needs a column to order "
                        f"{frame.subject.name} by; name it (for example 'highest price')."
                    )
                measure = (frame.subject.name, column.name)
            frame.direction = direction
            frame.measure = measure
            entity = (
                self.words[0] in ("which", "who", "list", "show")
                or (
                    self._subject_mention is not None
                    and self._subject_mention.start < self.superlative_at
                    and self.words[0] != "what"
                )
                or (
                    self._subject_mention is not None
                    and self.aggregate is None
                    and hint is not None
                    and not numeric
                )
            )
            # "Which customer has the highest total charge": the charge is summed per
            # customer, not read off one row.
            per_entity = (
                self.aggregate in ("SUM", "AVG")
                and self._subject_mention is not None
                and self._subject_mention.start < self.superlative_at
                and measure[0] != frame.subject.name
            )
            if per_entity:
                frame.group = (frame.subject.name, "")
                frame.subject = self.table(measure[0])
            if frame.group is not None or (
                self.words[0] == "which" and columns and not self._is_numeric(columns[0][1])
            ):
                if frame.group is None:
                    frame.group = columns[0][1]
                frame.action = "aggregate"
                frame.aggregate = self.aggregate or "SUM"
                frame.limit = frame.limit if frame.limit else 1
                return
            if entity:
                frame.action = "superlative"
                frame.limit = frame.limit or 1
                frame.select = self._requested(frame, columns, exclude={measure})
                return
            frame.action = "aggregate"
            frame.aggregate = "MAX" if direction == "DESC" else "MIN"
            return
        if self.rank is not None:
            # "the artist with the most albums": count the other table per subject
            counted = [
                mm
                for mm in self._schema_mentions()
                if mm.start > self.rank_at and mm.tables() and mm is not self._subject_mention
            ]
            if frame.group is None and counted and self._subject_mention is not None:
                frame.group = (frame.subject.name, "")
                frame.subject = self.table(counted[0].tables()[0].element.table)
            elif frame.group is None and columns and columns[0][0].start < self.rank_at:
                # "Which city has the most sites": count the subject per that column.
                grouping = self._resolve_column(columns[0][0], frame)
                if grouping is not None and grouping[0] == frame.subject.name:
                    frame.group = grouping
            if frame.group is None:
                raise self.decline(f"'{self.words[self.rank_at]}' needs something to count.")
            frame.action = "count"
            frame.direction = self.rank
            frame.limit = frame.limit or 1
            return
        if self.count_at >= 0:
            frame.action = "count"
            return
        total_column = self._total_column(frame, consumed)
        if self.aggregate is not None or total_column is not None:
            frame.action = "aggregate"
            frame.aggregate = self.aggregate or "SUM"
            measure = numeric[0] if numeric else total_column
            if measure is None and hint_words:
                column = self._hint_column(frame.subject, tuple(self.norms[i] for i in hint_words))
                if column is not None:
                    measure = (frame.subject.name, column.name)
            if measure is None:
                raise self.decline(
                    f"Which number of {frame.subject.name} should be aggregated? "
                    "Name the column (for example 'average total')."
                )
            frame.measure = measure
            if frame.limit and frame.group is not None:
                frame.direction = "DESC"
            return
        if frame.limit == 0:
            raise self.decline("'top' needs a number and a measure (for example 'top 5 by total').")
        frame.action = "list"
        frame.select = self._requested(frame, columns)

    def _total_column(self, frame: _Frame, consumed: set[int]) -> tuple[str, str] | None:
        """'total of all invoices' where the table has a Total column: SUM of it."""
        for i, w in enumerate(self.words):
            if w != "total":
                continue
            m = self.linking.mention_at(i)
            if m is not None and m.kind == "schema" and m.end - m.start == 1:
                resolved = self._resolve_column(m, frame)
                if resolved and self._is_numeric(resolved) and self.aggregate is None:
                    return resolved
        return None

    def _is_numeric(self, column: tuple[str, str]) -> bool:
        table = self.schema.table(column[0])
        found = table.column(column[1]) if table else None
        return bool(found and found.is_numeric and not _is_key(table, found))

    def _requested(
        self,
        frame: _Frame,
        columns: list[tuple[Mention, tuple[str, str]]],
        exclude: set | None = None,
    ) -> list[tuple[str, str]]:
        exclude = exclude or set()
        filters = {(f.table, f.column) for f in frame.filters}
        chosen = [c for _, c in columns if c not in exclude and c not in filters]
        if chosen:
            return list(dict.fromkeys(chosen))
        return [(frame.subject.name, c.name) for c in label_columns(frame.subject)]


def _merge_filters(filters: list[_Filter]) -> list[_Filter]:
    """Values of one column are alternatives: "from Brazil and Canada" is either one
    (both at once matches nothing)."""
    merged: dict[tuple[str, str], _Filter] = {}
    for flt in filters:
        key = (flt.table, flt.column or f"term {flt.term}")
        if key in merged and flt.values and merged[key].values:
            merged[key].values = list(dict.fromkeys(merged[key].values + flt.values))
        else:
            merged.setdefault(key, flt)
    if len(merged) > MAX_FILTERS:
        raise Declined(
            f"The question filters on {len(merged)} columns; the offline engine "
            f"reads up to {MAX_FILTERS}."
        )
    return list(merged.values())


def _words(name: str) -> list[str]:
    from core.naming import split_identifier

    return split_identifier(name)


def _is_key(table: Table | None, column: Column) -> bool:
    if table is None:
        return False
    if column.name in table.primary_key:
        return True
    if any(column.name in fk.columns for fk in table.foreign_keys):
        return True
    return bool(re.search(r"(^id$|_id$|Id$|ID$)", column.name))


def label_columns(table: Table) -> list[Column]:
    """The columns that name a row of `table` to a person: Name, first + last name, Title."""
    texts = [c for c in table.columns if c.kind == "text"]
    exact = [c for c in texts if c.name.lower() == "name"]
    if exact:
        return exact[:1]
    names = [c for c in texts if _LABEL.search(c.name) and "title" not in c.name.lower()]
    firsts = [c for c in names if "first" in c.name.lower()]
    lasts = [c for c in names if "last" in c.name.lower()]
    if firsts and lasts:
        return [firsts[0], lasts[0]]
    if names:
        return names[:1]
    titles = [c for c in texts if "title" in c.name.lower()]
    if titles:
        return titles[:1]
    others = [c for c in texts if not _is_key(table, c)]
    if others:
        return others[:1]
    return [c for c in table.columns if c.name in table.primary_key][:1] or table.columns[:1]


# -- joins --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Edge:
    child: str
    child_columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]


def _edges(schema: Schema) -> list[_Edge]:
    names = {t.name for t in schema.main_tables}
    edges = []
    for t in schema.main_tables:
        for fk in t.foreign_keys:
            if fk.ref_table in names and fk.ref_schema is None:
                edges.append(_Edge(t.name, fk.columns, fk.ref_table, fk.ref_columns))
    return edges


def join_path(schema: Schema, start: str, goal: str) -> list[tuple[_Edge, bool]] | None:
    """Shortest chain of foreign keys from `start` to `goal`; each step says whether
    it goes from child to parent (True) or fans out from parent to children."""
    if start == goal:
        return []
    graph: dict[str, list[tuple[str, _Edge, bool]]] = {}
    for e in _edges(schema):
        graph.setdefault(e.child, []).append((e.parent, e, True))
        graph.setdefault(e.parent, []).append((e.child, e, False))
    seen = {start}
    queue: deque[tuple[str, list[tuple[_Edge, bool]]]] = deque([(start, [])])
    while queue:
        node, path = queue.popleft()
        for nxt, edge, up in sorted(graph.get(node, []), key=lambda x: (not x[2], x[0])):
            if nxt in seen:
                continue
            step = path + [(edge, up)]
            if nxt == goal:
                return step
            seen.add(nxt)
            queue.append((nxt, step))
    return None


class _Builder:
    def __init__(self, schema: Schema, dialect: str, frame: _Frame) -> None:
        self.schema = schema
        self.dialect = dialect
        self.frame = frame
        self.aliases: dict[str, str] = {}
        self.fans_out = False
        self.joins: list[tuple[str, exp.Expression]] = []

    def _alias(self, table: str) -> str:
        if table not in self.aliases:
            base = (
                "".join(w[0] for w in re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", table)).lower() or "t"
            )
            alias, n = base, 2
            while alias in self.aliases.values() or identifiers.needs_quotes(alias, "mysql"):
                alias, n = f"{base}{n}", n + 1
            self.aliases[table] = alias
        return self.aliases[table]

    def _ordered(self, key: exp.Expression, desc: bool) -> exp.Ordered:
        """An order as the dialect sorts by itself: NULLs where it puts them anyway, so
        the SQL reads "ORDER BY n ASC" and not an emulation of another dialect's rule."""
        nulls = sqlglot.Dialect.get_or_raise(self.dialect).NULL_ORDERING
        first = nulls == ("nulls_are_large" if desc else "nulls_are_small")
        return exp.Ordered(this=key, desc=desc, nulls_first=first)

    def col(self, table: str, column: str) -> exp.Column:
        return identifiers.column(column, self._alias(table), self.dialect)

    def need(self, table: str) -> None:
        subject = self.frame.subject.name
        if table == subject or table in self.aliases and any(t == table for t, _ in self.joins):
            return
        path = join_path(self.schema, subject, table)
        if path is None:
            raise Declined(
                f"{subject} and {table} are not linked by foreign keys, so the offline "
                "engine cannot join them."
            )
        current = subject
        for edge, up in path:
            nxt = edge.parent if up else edge.child
            if not up:
                self.fans_out = True
            if any(t == nxt for t, _ in self.joins):
                current = nxt
                continue
            left, right = (edge.child, edge.parent)
            conditions = [
                self.col(left, lc).eq(self.col(right, rc))
                for lc, rc in zip(edge.child_columns, edge.parent_columns, strict=False)
            ]
            on = conditions[0]
            for c in conditions[1:]:
                on = on.and_(c)
            self._alias(nxt)
            self.joins.append((nxt, on))
            current = nxt
        del current

    def build(self) -> str:
        f = self.frame
        subject = f.subject
        select: list[exp.Expression] = []
        group_by: list[exp.Expression] = []
        order: exp.Expression | None = None

        where: list[exp.Expression] = []
        for flt in f.filters:
            self.need(flt.table)
            if flt.condition is not None:
                condition = flt.condition.copy().transform(
                    lambda node, table=flt.table: (
                        self.col(table, node.name) if isinstance(node, exp.Column) else node
                    )
                )
                where.append(exp.paren(condition) if isinstance(condition, exp.Or) else condition)
                continue
            column = self.col(flt.table, flt.column)
            if not flt.values:
                where.append(exp.Is(this=column, expression=exp.true()))
                continue
            literals = [exp.Literal.string(v) for v in flt.values]
            where.append(column.eq(literals[0]) if len(literals) == 1 else column.isin(*literals))
        for table, column_name, year in f.years:
            self.need(table)
            column = self.col(table, column_name)
            where.append(column >= exp.Literal.string(f"{year}-01-01"))
            where.append(column < exp.Literal.string(f"{year + 1}-01-01"))

        if f.group is not None:
            gtable, gcolumn = f.group
            self.need(gtable)
            if gcolumn:
                key = self.col(gtable, gcolumn)
                select.append(key)
                group_by.append(self.col(gtable, gcolumn))
            else:
                table = self.schema.table(gtable)
                labels = label_columns(table)
                for label in labels:
                    column = self.col(gtable, label.name)
                    # "Name" alone does not say whose name; the table does.
                    generic = label.name.lower() in ("name", "title") and len(labels) == 1
                    select.append(exp.alias_(column, _snake(gtable)) if generic else column)
                for pk in table.primary_key:
                    if pk not in {c.name for c in labels}:
                        group_by.append(self.col(gtable, pk))
                group_by.extend(self.col(gtable, label.name) for label in labels)
        if f.measure is not None:
            self.need(f.measure[0])
        for table, _ in f.select:
            self.need(table)

        value: exp.Expression | None = None
        if f.action == "count":
            if f.distinct_count:
                self.need(f.distinct_count[0])
                value = exp.Count(this=exp.Distinct(expressions=[self.col(*f.distinct_count)]))
                alias = f"{f.distinct_count[1]}_count"
            elif self.fans_out and subject.primary_key:
                value = exp.Count(
                    this=exp.Distinct(
                        expressions=[self.col(subject.name, pk) for pk in subject.primary_key]
                    )
                )
                alias = f"{_snake(subject.name)}_count"
            else:
                value = exp.Count(this=exp.Star())
                alias = f"{_snake(subject.name)}_count"
            select.append(exp.alias_(value, alias))
        elif f.action == "aggregate":
            measure = self.col(*f.measure)
            func = {"SUM": exp.Sum, "AVG": exp.Avg, "MAX": exp.Max, "MIN": exp.Min}[f.aggregate]
            value = func(this=measure)
            alias = f"{f.aggregate.lower()}_{_snake(f.measure[1])}"
            select.append(exp.alias_(value, alias))
        elif f.action == "superlative":
            for table, column in f.select:
                select.append(self.col(table, column))
            measure = self.col(*f.measure)
            if f.measure not in f.select:
                select.append(measure.copy())
            order = self._ordered(measure, f.direction == "DESC")
            where.append(exp.Not(this=exp.Is(this=measure.copy(), expression=exp.Null())))
        else:
            for table, column in f.select:
                select.append(self.col(table, column))

        query = exp.select(*select).from_(
            identifiers.table(
                subject.name, self.dialect, alias=self._alias(subject.name) if self.joins else None
            )
        )
        for table, on in self.joins:
            query = query.join(
                identifiers.table(table, self.dialect, alias=self.aliases[table]), on=on
            )
        for condition in where:
            query = query.where(condition)
        if group_by:
            query = query.group_by(*group_by)
        if f.group is not None and value is not None:
            order = self._ordered(exp.column(alias), f.direction == "DESC")
        if order is not None:
            query = query.order_by(order)
        if f.limit:
            query = query.limit(f.limit)
        if not self.joins:
            _drop_qualifiers(query)
        return query.sql(dialect=self.dialect, pretty=True)


_CONDITIONS = (exp.Predicate, exp.Connector, exp.Not, exp.Paren)


def definition_condition(definition: str, dialect: str = "mysql") -> exp.Expression | None:
    """A glossary definition read as a SQL condition without subqueries ("length > 150"),
    or None when it is something else (prose, "Customer.City", a query)."""
    try:
        condition = sqlglot.parse_one(definition, read=dialect)
    except (SqlglotError, RecursionError, ValueError):
        return None
    if not isinstance(condition, _CONDITIONS) or condition.find(exp.Query) is not None:
        return None
    return condition


def term_condition(
    term: BusinessTerm, schema: Schema, dialect: str = "mysql"
) -> tuple[Table, exp.Expression] | None:
    """The table and condition a business term's definition states, or None when the
    definition is not a condition on the columns of one table (prose, a column
    reading such as "Customer.City", a subquery)."""
    condition = definition_condition(term.definition, dialect)
    if condition is None:
        return None
    columns = list(condition.find_all(exp.Column))
    if not columns:
        return None
    named = {c.table.lower() for c in columns if c.table}
    if term.table:
        named.add(term.table.lower())
    if len(named) > 1:
        return None
    if named:
        candidates = [t for t in schema.tables if t.name.lower() in named]
    else:
        candidates = [t for t in schema.tables if all(t.column(c.name) for c in columns)]
    if len(candidates) != 1 or not all(candidates[0].column(c.name) for c in columns):
        return None
    table = candidates[0]

    def plain(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return exp.column(table.column(node.name).name)
        return node

    return table, condition.transform(plain)


def _drop_qualifiers(query: exp.Expression) -> None:
    """With one table, 'Name' reads better than 't.Name'."""
    for column in query.find_all(exp.Column):
        column.set("table", None)


def _snake(name: str) -> str:
    from core.naming import split_identifier

    return "_".join(split_identifier(name)) or "value"


def _reading(frame: _Frame) -> str:
    parts = []
    what = frame.subject.name
    if frame.action == "count":
        parts.append(
            f"count {what} rows"
            if not frame.distinct_count
            else f"count distinct {'.'.join(frame.distinct_count)}"
        )
    elif frame.action == "aggregate":
        parts.append(f"{frame.aggregate} of {'.'.join(frame.measure)}")
    elif frame.action == "superlative":
        parts.append(
            f"{what} ordered by {'.'.join(frame.measure)} "
            f"{'descending' if frame.direction == 'DESC' else 'ascending'}"
        )
    else:
        parts.append(f"list {', '.join('.'.join(c) for c in frame.select)}")
    for flt in frame.filters:
        if flt.condition is not None:
            parts.append(f"where {flt.term} ({flt.table}: {flt.condition.sql()})")
            continue
        parts.append(
            f"where {flt.table}.{flt.column} is {' or '.join(repr(v) for v in flt.values)}"
        )
    for table, column, year in frame.years:
        parts.append(f"in {year} by {table}.{column}")
    if frame.group:
        parts.append(f"per {frame.group[0]}{'.' + frame.group[1] if frame.group[1] else ''}")
    if frame.limit:
        parts.append(f"top {frame.limit}")
    return "; ".join(parts)


def generate(
    question: str,
    schema: Schema,
    lexicon: Lexicon,
    values: ValueIndex | None = None,
    *,
    glossary: Glossary | None = None,
    dialect: str = "mysql",
) -> OfflineAnswer:
    """SQL for `question`, or Declined with the reason it cannot be answered offline."""
    if not question or not question.strip():
        raise Declined("There is no question to answer.")
    reader = _Reader(question, schema, lexicon, values, glossary, dialect)
    frame = reader.read()
    sql = _Builder(schema, dialect, frame).build()
    reading = _reading(frame)
    slips = [
        f"'{reader._span(m)}' as {m.candidates[0].source.removeprefix('typo of ')}"
        for m in reader.mentions
        if m.source == "typo" and m.candidates
    ]
    if slips:
        reading += "; read " + ", ".join(slips)
    return OfflineAnswer(sql=sql, reading=reading)
