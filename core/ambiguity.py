"""The question check: what a question leaves open, before any SQL is written.

It reads the question with the same schema linking the offline engine uses
(``core.linking``) and reports, as findings with the readings that exist:

- ``column``: a word naming several columns about equally ("city" is the
  customer's city, the employee's, or the invoice's billing city), with no
  table in the question to decide;
- ``entity``: the same when the question names no table at all ("List the
  names."), or names nothing of the database;
- ``value``: a value found in several columns ("Canada" as a customer's,
  an employee's or a billing country);
- ``vague``: a quantity or quality with nothing saying by what or how many
  ("top customers", "the most popular genre", "long tracks");
- ``time``: a relative time ("recent", "last year") in data whose dates end
  long before today, or "recent" with no period at all.

A table the question names settles a column or value when exactly one
reading lies in it, or when one lies clearly nearest along foreign keys
(a parent before a child, a row's name before other text). A business term
of the glossary that matches a finding's words settles it: when its
definition is one of the finding's readings, that reading is applied to the
question (``QuestionCheck.question_to_ask``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Mapping

from core import identifiers
from core.errors import QuarryError
from core.execute import run_query
from core.glossary import BusinessTerm, Glossary
from core.guard import check_sql
from core.linking import (
    Candidate,
    Lexicon,
    Linking,
    Mention,
    Token,
    link,
    strong_value,
    tokenize,
)
from core.naming import plural, split_identifier
from core.offline_engine import join_path, label_columns
from core.schema import Schema, Table
from core.target import Target
from core.value_index import ValueIndex

logger = logging.getLogger(__name__)

ABOUT_EQUAL = 0.5  # a reading scoring at least half the best one is a real contender
STALE_AFTER_DAYS = 90  # data whose newest date is older than this is not "current"
MAX_READINGS = 6

# Words that ask for a ranking or a selection without saying by what.
VAGUE_MEASURE = frozenset(
    "top best worst popular important main major leading successful favourite favorite".split()
)
# Words that ask for a threshold without giving one, with the columns they measure.
_LENGTH = ("length", "duration", "millisecond", "second", "minute", "hour", "runtime", "len")
_SIZE = ("size", "byte", "capacity", "bandwidth", "quantity", "qty", "amount", "total", "count")
_PRICE = ("price", "cost", "amount", "charge", "fee", "rate", "total")
VAGUE_THRESHOLD: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # word: (superlative, direction, hint words)
    "long": ("longest", "DESC", _LENGTH),
    "short": ("shortest", "ASC", _LENGTH),
    "big": ("biggest", "DESC", _SIZE),
    "large": ("largest", "DESC", _SIZE),
    "small": ("smallest", "ASC", _SIZE),
    "huge": ("largest", "DESC", _SIZE),
    "expensive": ("most expensive", "DESC", _PRICE),
    "cheap": ("cheapest", "ASC", _PRICE),
    "pricey": ("most expensive", "DESC", _PRICE),
}
_THRESHOLD_WORDS = frozenset(
    "than over above under below exceeding least most between within".split()
)
_MEASURE_WORDS = frozenset(
    "by number count total sum amount revenue sales spent spending quantity value".split()
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty".split()
)
_PERIODS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}
_RELATIVE = frozenset("last past previous this current".split())
_FROM_WORDS = frozenset("from in during over of for since".split())


@dataclasses.dataclass(frozen=True)
class Reading:
    """One way to read a finding: what it means, and the question's words for it."""

    label: str  # shown to the user as a choice
    replacement: str  # replaces the finding's span in the question
    definition: str  # what the glossary keeps when the reading is saved
    table: str = ""


@dataclasses.dataclass
class Finding:
    kind: str  # "column", "entity", "value", "vague" or "time"
    start: int  # character offsets of the words in the question
    end: int
    text: str
    message: str
    readings: list[Reading] = dataclasses.field(default_factory=list)
    term: str = ""  # the words the glossary would define; the span's text when empty

    @property
    def words(self) -> str:
        return (self.term or self.text).lower()

    def as_term(self, reading: Reading) -> BusinessTerm:
        """The glossary entry that settles this finding with `reading` from now on."""
        return BusinessTerm(term=self.words, definition=reading.definition, table=reading.table)


@dataclasses.dataclass
class QuestionCheck:
    question: str
    findings: list[Finding]
    applied: list[tuple[Finding, Reading]] = dataclasses.field(default_factory=list)

    @property
    def clear(self) -> bool:
        return not self.findings

    @property
    def question_to_ask(self) -> str:
        """The question with the glossary's readings applied."""
        return rewrite(self.question, self.applied)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "clear": self.clear,
            "findings": [
                {
                    "kind": f.kind,
                    "text": f.text,
                    "start": f.start,
                    "end": f.end,
                    "message": f.message,
                    "readings": [r.label for r in f.readings],
                }
                for f in self.findings
            ],
        }


def rewrite(question: str, choices: list[tuple[Finding, Reading]]) -> str:
    """`question` with each finding's span replaced by its chosen reading's words."""
    text = question
    for finding, reading in sorted(choices, key=lambda fr: -fr[0].start):
        text = text[: finding.start] + reading.replacement + text[finding.end :]
    return re.sub(r"\s+([?.!,])", r"\1", re.sub(r" {2,}", " ", text)).strip()


def _words(name: str) -> str:
    return " ".join(split_identifier(name))


def plural_words(name: str) -> str:
    """An identifier as words, the last one plural ("InvoiceLine" → "invoice lines")."""
    words = split_identifier(name)
    return " ".join(words[:-1] + [plural(words[-1])]) if words else name


class _Check:
    """One question against one schema."""

    def __init__(
        self,
        question: str,
        schema: Schema,
        lexicon: Lexicon,
        values: ValueIndex | None,
        glossary: Glossary | None,
        latest: Mapping[tuple[str, str], dt.date | None] | None,
        today: dt.date,
    ) -> None:
        self.question = question
        self.schema = schema
        self.glossary = glossary or Glossary()
        self.latest = latest
        self.today = today
        self.linking: Linking = link(question, lexicon, values)
        self.tokens: list[Token] = self.linking.tokens
        self.words = [t.lower for t in self.tokens]
        self.named = {
            c.element.table for m in self.linking.mentions if m.kind == "schema" for c in m.tables()
        }

    # -- spans ------------------------------------------------------------------

    def _span(self, start: int, end: int) -> tuple[int, int, str]:
        a, b = self.tokens[start].start, self.tokens[end - 1].end
        return a, b, self.question[a:b]

    def _in_mention(self, index: int) -> bool:
        return self.linking.mention_at(index) is not None

    # -- columns, entities and values ---------------------------------------------

    def _distance(self, table: str) -> tuple[int, int]:
        """How far `table` lies from the tables the question names: (steps, fan-outs)."""
        best = (99, 99)
        for named in self.named:
            path = join_path(self.schema, named, table)
            if path is not None:
                best = min(best, (len(path), sum(1 for _, up in path if not up)))
        return best

    def _nearest(self, tables: list[str], prefer: set[str]) -> str | None:
        """The one table clearly nearest the named ones, if there is one."""
        keyed = sorted((self._distance(t) + (t not in prefer,), t) for t in dict.fromkeys(tables))
        if len(keyed) == 1 or (keyed and keyed[0][0] < keyed[1][0] and keyed[0][0][0] < 99):
            return keyed[0][1]
        return None

    def column_findings(self) -> list[Finding]:
        found = []
        for m in self.linking.mentions:
            if m.kind != "schema" or m.tables():
                continue
            best = m.best_score
            contenders = self._base_tables_first(
                m, [c for c in m.columns() if c.score >= ABOUT_EQUAL * best]
            )
            tables = list(dict.fromkeys(c.element.table for c in contenders))
            if len(tables) < 2 or self._settled_by_named(contenders):
                continue
            found.append(self._column_finding(m, contenders))
        return found

    def _base_tables_first(self, m: Mention, contenders: list[Candidate]) -> list[Candidate]:
        """Views repeat their tables' columns (film_list.rating is film.rating): when a
        table offers the column, the views that copy it are no separate reading. And
        a table another word of the question already reads ("rental rate" is film's)
        settles it."""

        def is_view(name: str) -> bool:
            return getattr(self.schema.table(name), "kind", "") == "view"

        tables = [c for c in contenders if not is_view(c.element.table)]
        contenders = tables or contenders
        read = set()
        for other in self.linking.mentions:
            if other is m or other.kind != "schema" or other.tables() or not other.columns():
                continue
            owners = {
                c.element.table
                for c in other.columns()
                if c.score >= ABOUT_EQUAL * other.best_score and not is_view(c.element.table)
            }
            if len(owners) == 1:  # a column only one table has
                read |= owners
        in_play = [c for c in contenders if c.element.table in read]
        if len({c.element.table for c in in_play}) == 1 and len(read) == 1:
            return in_play
        return contenders

    def _settled_by_named(self, contenders: list[Candidate]) -> bool:
        if not self.named:
            return False
        inside = {c.element.table for c in contenders if c.element.table in self.named}
        if len(inside) == 1:
            return True
        if inside:
            return False
        tables = [c.element.table for c in contenders]
        return self._nearest(tables, prefer=set()) is not None

    def _column_finding(self, m: Mention, contenders: list[Candidate]) -> Finding:
        start, end, text = self._span(m.start, m.end)
        readings = []
        owns = [_words(c.element.column or "") for c in contenders]
        for c in contenders[:MAX_READINGS]:
            table, column = c.element.table, c.element.column or ""
            own = _words(column)
            longer = len(own.split()) > len(text.split())
            words = own if longer and owns.count(own) == 1 else f"{_words(table)} {text}"
            readings.append(
                Reading(
                    label=f"{table}.{column} ({own} of {_words(table)})",
                    replacement=words,
                    definition=f"{table}.{column}",
                    table=table,
                )
            )
        kind = "column" if self.named else "entity"
        where = ", ".join(r.definition for r in readings)
        message = (
            f"'{text}' could be {where}; the question names no table to decide."
            if kind == "entity"
            else f"'{text}' could be {where}."
        )
        return Finding(kind, start, end, text, message, readings)

    def value_findings(self) -> list[Finding]:
        found = []
        for m in self.linking.mentions:
            if m.kind != "value":
                continue
            columns = list(dict.fromkeys((h.table, h.column) for h in m.values))
            if len(columns) < 2 or not self._counts(m):
                continue
            if self.named:
                inside = [tc for tc in columns if tc[0] in self.named]
                if len({tc[0] for tc in inside}) == 1 and len(inside) == 1:
                    continue
                labels = {
                    (h.table, h.column) for h in m.values if self._is_label(h.table, h.column)
                }
                if not inside and self._nearest([t for t, _ in columns], {t for t, _ in labels}):
                    continue
            found.append(self._value_finding(m, columns))
        return found

    def _counts(self, m: Mention) -> bool:
        """A value worth asking about: written as a name, or not a word of the schema."""
        return strong_value(self.tokens, m) or len(self.tokens[m.start].text) > 3

    def _is_label(self, table: str, column: str) -> bool:
        found = self.schema.table(table)
        return found is not None and column in {c.name for c in label_columns(found)}

    def _value_finding(self, m: Mention, columns: list[tuple[str, str]]) -> Finding:
        start, end, text = self._span(m.start, m.end)
        readings = [
            Reading(
                label=f"{table}.{column} = '{text}' ({_words(column)} of {_words(table)})",
                replacement=f"{_words(table)} {_words(column)} {text}",
                definition=f"{table}.{column} = '{text}'",
                table=table,
            )
            for table, column in columns[:MAX_READINGS]
        ]
        where = ", ".join(f"{t}.{c}" for t, c in columns)
        return Finding(
            "value", start, end, text, f"'{text}' occurs in {where}; which is meant?", readings
        )

    def entity_findings(self) -> list[Finding]:
        if self.linking.mentions:
            return []
        hubs = sorted(
            self.schema.main_tables,
            key=lambda t: (-len(t.foreign_keys), t.name),
        )[:MAX_READINGS]
        end = len(self.question.rstrip(" ?.!"))
        return [
            Finding(
                "entity",
                end,
                end,
                "",
                "The question names no table, column or value of this database.",
                [
                    Reading(
                        label=f"about {t.name}",
                        replacement=f" (about {plural_words(t.name)})",
                        definition=t.name,
                        table=t.name,
                    )
                    for t in hubs
                ],
            )
        ]

    # -- vague words ----------------------------------------------------------------

    def _subject_after(self, index: int) -> Mention | None:
        for m in self.linking.mentions:
            if m.kind == "schema" and m.tables() and m.start > index:
                return m
        return None

    def _subject(self, index: int) -> tuple[Mention | None, Table | None]:
        after = self._subject_after(index)
        mention = after or next(
            (m for m in self.linking.mentions if m.kind == "schema" and m.tables()), None
        )
        if mention is None:
            return None, None
        return mention, self.schema.table(mention.tables()[0].element.table)

    def _has_number(self) -> bool:
        return any(_is_number(t) for t in self.tokens)

    def _measure_after(self, index: int) -> bool:
        """Does the question say by what, after the word at `index`?"""
        for i in range(index + 1, len(self.tokens)):
            if self.words[i] in _MEASURE_WORDS:
                return True
            m = self.linking.mention_at(i)
            if m is not None and m.kind == "schema" and m.columns() and not m.tables():
                column = self._column(m.columns()[0])
                if column is not None and column.is_numeric:
                    return True
        return False

    def _column(self, candidate: Candidate):
        table = self.schema.table(candidate.element.table)
        return table.column(candidate.element.column or "") if table else None

    def vague_findings(self) -> list[Finding]:
        found = []
        for i, word in enumerate(self.words):
            if self._in_mention(i):
                continue
            if word in VAGUE_MEASURE:
                finding = self._vague_measure(i)
            elif word in VAGUE_THRESHOLD and not (i and self.words[i - 1] in ("most", "least")):
                finding = self._vague_threshold(i)
            else:
                continue
            if finding is not None:
                found.append(finding)
        return found

    def _vague_measure(self, i: int) -> Finding | None:
        word = self.words[i]
        needs_count = word == "top" and not self._has_number()
        if self._measure_after(i) and not needs_count:
            return None
        mention, subject = self._subject(i)
        start = i - 1 if i and self.words[i - 1] == "most" else i
        count = "5 " if needs_count else ""
        gap = self.tokens[i + 1 : mention.start] if mention is not None else None
        if gap is not None and mention.start > i and all(_is_number(t) for t in gap):
            # "top customers", "top 3 albums", "the most popular genre": the subject follows
            a, b, text = self._span(start, mention.end)
            noun = self.question[self.tokens[i + 1].start : b]

            def words_for(most: str, by: str) -> str:
                return f"{count}{noun} with {most}"
        elif (
            start >= 2 and self.words[start - 1] == "the" and self.words[start - 2] in ("is", "are")
        ):
            # "Which genre is the most popular?": the subject came before
            a, b, text = self._span(start - 2, i + 1)
            verb = "has" if self.words[start - 2] == "is" else "have"

            def words_for(most: str, by: str) -> str:
                return f"{verb} {most}"
        else:
            a, b, text = self._span(start, i + 1)

            def words_for(most: str, by: str) -> str:
                return f"{text} by {by}"

        readings = [
            Reading(
                label=label,
                replacement=words_for(most, by),
                definition=definition,
                table=subject.name if subject else "",
            )
            for label, most, by, definition in (self._measures(subject) if subject else [])
        ][:MAX_READINGS]
        said = self.question[self.tokens[start].start : self.tokens[i].end]
        what = "by what, nor how many" if needs_count else "by what"
        term = said if mention is None else f"{said} {self._span(mention.start, mention.end)[2]}"
        return Finding("vague", a, b, text, f"'{said}' does not say {what}.", readings, term)

    def _measures(self, subject: Table) -> list[tuple[str, str, str, str]]:
        """Ways to rank `subject`: counts and sums of the rows that refer to it, its numbers.

        Each is (label, "the most …" words, "by …" words, definition).
        """
        found: list[tuple[str, str, str, str]] = []
        children = self._children(subject.name)
        grandchildren = [(g, c) for c in children for g in self._children(c.name)]
        for child, through in [(c, None) for c in children] + grandchildren:
            via = f" (through {through.name})" if through is not None else ""
            many = plural_words(child.name)
            found.append(
                (
                    f"by the number of {child.name} rows{via}",
                    f"the most {many}",
                    f"number of {many}",
                    f"ranked by COUNT of {child.name} per {subject.name}{via}",
                )
            )
        for child in children:
            for column in child.columns:
                if column.is_numeric and not _is_key(child, column.name):
                    words = f"{_words(child.name)} {_words(column.name)}"
                    words = words if "total" in words.split() else f"total {words}"
                    found.append(
                        (
                            f"by the sum of {child.name}.{column.name}",
                            f"the highest {words}",
                            words,
                            f"ranked by SUM({child.name}.{column.name}) per {subject.name}",
                        )
                    )
        for column in subject.columns:
            if column.is_numeric and not _is_key(subject, column.name):
                found.append(
                    (
                        f"by {subject.name}.{column.name}",
                        f"the highest {_words(column.name)}",
                        _words(column.name),
                        f"ranked by {subject.name}.{column.name}",
                    )
                )
        return found

    def _children(self, name: str) -> list[Table]:
        return [
            t
            for t in self.schema.main_tables
            if t.name != name and any(fk.ref_table == name for fk in t.foreign_keys)
        ]

    def _vague_threshold(self, i: int) -> Finding | None:
        if self._has_number() or any(w in _THRESHOLD_WORDS for w in self.words[i + 1 :]):
            return None
        superlative, direction, hints = VAGUE_THRESHOLD[self.words[i]]
        mention, subject = self._subject(i)
        end = mention.end if mention is not None and mention.start == i + 1 else i + 1
        start = i - 1 if i and self.words[i - 1] == "the" else i
        a, b, text = self._span(start, end)
        noun = self.question[self.tokens[i].end : b].strip()
        readings = []
        for column in _fitting(subject, hints) if subject is not None else []:
            ref = f"{subject.name}.{column.name}"
            readings.append(
                Reading(
                    label=f"the 10 {superlative} by {ref}",
                    replacement=f"the 10 {superlative} {noun}".strip(),
                    definition=f"the 10 {superlative}: top 10 by {ref} {direction}",
                    table=subject.name,
                )
            )
            comparison = "above" if direction == "DESC" else "below"
            readings.append(
                Reading(
                    label=f"{ref} {comparison} its average",
                    replacement=f"{noun} with {_words(column.name)} {comparison} the average",
                    definition=f"{ref} {comparison} AVG({ref})",
                    table=subject.name,
                )
            )
        return Finding(
            "vague",
            a,
            b,
            text,
            f"'{self.tokens[i].text}' has no threshold: how {self.words[i]} is {self.words[i]}?",
            readings[:MAX_READINGS],
            term=f"{self.tokens[i].text} {noun}".strip(),
        )

    # -- time ---------------------------------------------------------------------------

    def time_findings(self) -> list[Finding]:
        found = []
        for i, word in enumerate(self.words):
            if word in ("recent", "recently", "lately") and not (
                i and self.words[i - 1] in ("most", "least")
            ):
                found.append(self._recent(i))
            elif (
                word in _RELATIVE
                and i + 1 < len(self.words)
                and self.tokens[i + 1].norm in _PERIODS
                and not self._in_mention(i)
            ):
                finding = self._relative_period(i)
                if finding is not None:
                    found.append(finding)
        return [f for f in found if f is not None]

    def _date_columns(self) -> list[tuple[str, str]]:
        tables = [self.schema.table(n) for n in self.named] if self.named else []
        tables = [t for t in tables if t is not None] or self.schema.main_tables
        return [
            (t.name, c.name) for t in tables for c in t.columns if c.kind in ("date", "datetime")
        ]

    def _newest(self) -> tuple[tuple[str, str], dt.date] | None:
        if self.latest is None:
            return None
        known = [(tc, self.latest.get(tc)) for tc in self._date_columns()]
        known = [(tc, d) for tc, d in known if d is not None]
        return max(known, key=lambda kd: kd[1]) if known else None

    def _recent(self, i: int) -> Finding | None:
        if not self._date_columns():
            return None
        mention, _ = self._subject(i)
        end = mention.end if mention is not None and mention.start == i + 1 else i + 1
        a, b, text = self._span(i, end)
        noun = self.question[self.tokens[i].end : b].strip()
        newest = self._newest()
        readings = []
        if newest is not None:
            (table, column), latest = newest
            ref = f"{table}.{column}"
            stale = (self.today - latest).days > STALE_AFTER_DAYS
            start = latest - dt.timedelta(days=30)
            readings.append(
                Reading(
                    label=f"the last 30 days of the data ({start} to {latest}, by {ref})",
                    replacement=f"{noun} from {start} to {latest}".strip(),
                    definition=f"{ref} within 30 days of the newest {ref}",
                    table=table,
                )
            )
            readings.append(
                Reading(
                    label=f"the newest year in the data ({latest.year})",
                    replacement=f"{noun} in {latest.year}".strip(),
                    definition=f"{ref} in the newest year of the data",
                    table=table,
                )
            )
            if stale:
                since = self.today - dt.timedelta(days=30)
                readings.insert(
                    0,
                    Reading(
                        label=f"the last 30 days before today (since {since}); the data "
                        f"ends {latest}, so no rows",
                        replacement=f"{noun} since {since}".strip(),
                        definition=f"{ref} within 30 days of today",
                        table=table,
                    ),
                )
            message = (
                f"'{self.tokens[i].text}' gives no period, and the newest {ref} is {latest}, "
                f"{(self.today - latest).days} days before today."
                if stale
                else f"'{self.tokens[i].text}' gives no period."
            )
        else:
            message = f"'{self.tokens[i].text}' gives no period."
            readings = [
                Reading(
                    label=f"the last {days} days",
                    replacement=f"{noun} from the last {days} days".strip(),
                    definition=f"within the last {days} days",
                )
                for days in (7, 30, 90)
            ]
        return Finding("time", a, b, text, message, readings, term=text)

    def _relative_period(self, i: int) -> Finding | None:
        newest = self._newest()
        if newest is None:
            return None
        (table, column), latest = newest
        if (self.today - latest).days <= STALE_AFTER_DAYS:
            return None
        period = self.tokens[i + 1].norm
        start = i - 1 if i and self.words[i - 1] in _FROM_WORDS else i
        a, b, text = self._span(start, i + 2)
        ref = f"{table}.{column}"
        days = _PERIODS[period]
        readings = []
        if period == "year":
            last = self.today.year - (0 if self.words[i] in ("this", "current") else 1)
            readings.append(
                Reading(
                    label=f"the calendar year {last}, counted from today",
                    replacement=f"in {last}",
                    definition=f"{ref} in the calendar year before today's",
                    table=table,
                )
            )
        readings.append(
            Reading(
                label=f"the {days} days before today (since {self.today - dt.timedelta(days)})",
                replacement=f"since {self.today - dt.timedelta(days)}",
                definition=f"{ref} within {days} days of today",
                table=table,
            )
        )
        readings.append(
            Reading(
                label=f"the {days} days up to the newest {ref} ({latest})",
                replacement=f"from {latest - dt.timedelta(days)} to {latest}",
                definition=f"{ref} within {days} days of the newest {ref}",
                table=table,
            )
        )
        return Finding(
            "time",
            a,
            b,
            text,
            f"'{text}' depends on the day it is counted from: the newest {ref} is {latest}, "
            f"{(self.today - latest).days} days before today.",
            readings,
            term=self._span(i, i + 2)[2],
        )

    # -- all of it ----------------------------------------------------------------------

    def run(self) -> QuestionCheck:
        findings = (
            self.entity_findings()
            + self.column_findings()
            + self.value_findings()
            + self.vague_findings()
            + self.time_findings()
        )
        findings.sort(key=lambda f: f.start)
        open_findings, applied = [], []
        for finding in findings:
            reading = self._glossary_reading(finding)
            if reading is None:
                open_findings.append(finding)
            elif reading is not _SETTLED:
                applied.append((finding, reading))
        return QuestionCheck(self.question, open_findings, applied)

    def _glossary_reading(self, finding: Finding) -> Reading | None:
        """The glossary's reading of a finding: a term spelled as the finding's words
        (singular or plural), or a term around them that the question uses ("cheap" in
        "cheap films", with the term "cheap film")."""
        found = tuple(t.norm for t in tokenize(finding.words))
        asked = tuple(t.norm for t in self.tokens)
        for term in self.glossary.terms:
            said = tuple(t.norm for t in tokenize(term.term))
            around = _contains(said, found) and _contains(asked, said)
            if not said or (said != found and not around):
                continue
            for reading in finding.readings:
                if reading.definition == term.definition:
                    return reading
            return _SETTLED
        return None


_SETTLED = Reading("settled by the glossary", "", "")


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    n = len(part)
    return n > 0 and any(words[i : i + n] == part for i in range(len(words) - n + 1))


def _is_number(token: Token) -> bool:
    return token.text.isdigit() or token.lower in _NUMBER_WORDS


def _is_key(table: Table, column: str) -> bool:
    return (
        column in table.primary_key
        or any(column in fk.columns for fk in table.foreign_keys)
        or bool(re.search(r"(^id$|_id$|Id$|ID$)", column))
    )


def _fitting(table: Table, hints: tuple[str, ...]):
    return [
        c
        for c in table.columns
        if c.is_numeric
        and not _is_key(table, c.name)
        and any(w in split_identifier(c.name) or c.name.lower().startswith(w) for w in hints)
    ]


def check_question(
    question: str,
    schema: Schema,
    lexicon: Lexicon,
    values: ValueIndex | None = None,
    *,
    glossary: Glossary | None = None,
    latest: Mapping[tuple[str, str], dt.date | None] | None = None,
    today: dt.date | None = None,
) -> QuestionCheck:
    """What `question` leaves open on `schema`; `latest` holds each date column's newest date."""
    return _Check(
        question, schema, lexicon, values, glossary, latest, today or dt.date.today()
    ).run()


_TIME_WORDS = re.compile(
    r"\b(recent|recently|lately|(last|past|previous|this|current)\s+(day|week|month|quarter|"
    r"year)s?)\b",
    re.IGNORECASE,
)
_LATEST: dict[tuple[str, str, str], tuple[float, dt.date | None]] = {}
_LATEST_LOCK = threading.Lock()
LATEST_TTL_S = 600.0


def latest_dates(target: Target, timeout_s: float = 5.0) -> dict[tuple[str, str], dt.date | None]:
    """The newest date in each date column of `target`'s main tables (one query per table)."""
    found: dict[tuple[str, str], dt.date | None] = {}
    now = time.monotonic()
    for table in target.schema.main_tables:
        columns = [c.name for c in table.columns if c.kind in ("date", "datetime")]
        if not columns:
            continue
        keys = [(target.url, table.name, c) for c in columns]
        with _LATEST_LOCK:
            cached = [_LATEST.get(k) for k in keys]
        if all(c is not None and now - c[0] < LATEST_TTL_S for c in cached):
            found.update({(table.name, k[2]): c[1] for k, c in zip(keys, cached, strict=True)})
            continue
        dialect = target.dialect
        select = ", ".join(f"MAX({identifiers.quote(c, dialect)})" for c in columns)
        source = identifiers.table(table.name, dialect).sql(dialect=dialect)
        try:
            checked = check_sql(
                f"SELECT {select} FROM {source}", target.schema, dialect=dialect, row_cap=1
            )
            row = run_query(
                target.engine,
                checked.exec_sql,
                server=target.server,
                row_cap=1,
                timeout_s=timeout_s,
            ).rows[0]
        except QuarryError as exc:
            logger.info("Newest dates of %s unknown: %s", table.name, exc.message)
            continue
        for key, value in zip(keys, row, strict=True):
            day = _as_date(value)
            found[(table.name, key[2])] = day
            with _LATEST_LOCK:
                _LATEST[key] = (now, day)
    return found


def _as_date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def check_target(
    question: str,
    target: Target,
    *,
    glossary: Glossary | None = None,
    today: dt.date | None = None,
) -> QuestionCheck:
    """``check_question`` on an open target; dates are read only when the question needs them."""
    latest = latest_dates(target) if _TIME_WORDS.search(question) else None
    return check_question(
        question,
        target.schema,
        target.lexicon(glossary),
        target.values(),
        glossary=glossary,
        latest=latest,
        today=today,
    )
