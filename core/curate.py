"""Curation: what in a database would mislead a model or a person, and how to fix it.

Three kinds of finding, each naming the table and column, with evidence and a
suggested fix:

- **cryptic name**: a name a reader cannot expand (``aloc``, ``aia``,
  ``svc_actv_dt``); suggestions come from the abbreviation dictionary, word
  splitting, the table's own name, foreign keys, the profiled values and, when
  one is configured, a model, each labelled with where it came from;
- **ambiguous name**: one generic name meaning different things in different
  tables (``status``, ``name``, ``title``), or names that differ only by case
  or underscores;
- **inconsistent values**: spellings of one value that differ by case,
  whitespace, punctuation or a little spelling ('TX', 'tx ', 'Texas'),
  sentinels standing for missing ('N/A', -1, 9999-12-31), numbers or dates
  kept as text, mixed date formats, foreign-key values without a parent row,
  and repeated values in a column that looks like a key.

Every query goes through the guard and runs read-only with the profiling time
limit. Values are read grouped by their bytes (see ``core.profile_stats``), so
'tx' and 'tx ' stay apart even under MySQL's forgiving collations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import wordninja
from rapidfuzz import fuzz
from sqlglot import exp

from core import identifiers, naming
from core.errors import QuarryError
from core.profile_stats import TableStats, _group_key, _Runner, few_values, profile_tables
from core.schema import Column, Table
from core.settings import Settings
from core.target import Target

logger = logging.getLogger(__name__)

CRYPTIC = "cryptic name"
AMBIGUOUS = "ambiguous name"
INCONSISTENT = "inconsistent values"

MAX_VALUES = 5000  # distinct values read per text column
FUZZY_MAX_DISTINCT = 200  # near-spellings are looked for among this many values at most
FUZZY_SCORE = 90
SHARE = 0.9  # of distinct values that must read as numbers or dates
GENERIC_NAMES = frozenset(
    """name title status type kind code date description value amount total category class
    flag level number note notes comment label text key group""".split()
)
KEY_WORDS = frozenset("id ref no num number key uuid guid sku serial".split())
# Name pieces of numbers that are identifiers or codes, not quantities.
CODE_WORDS = KEY_WORDS | frozenset("code cd zip postal phone fax tel".split())
TEXT_SENTINELS = frozenset(
    ["n/a", "na", "#n/a", "none", "null", "nil", "-", "--", "?", "unknown", "tbd", "missing"]
    + ["not available", "not applicable", ""]
)
NUMBER_SENTINELS = (-1, -9, -99, -999, -9999, 999, 9999, 99999, 999999, 9999999)
_FUNCTION_WORDS = frozenset("at by of on in to is up or as".split())
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_CURRENCY = re.compile(r"^[-+]?\s*[$€£¥]\s*|\s*%$")
_DATE_FORMATS = (
    ("YYYY-MM-DD", re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")),
    ("MM/DD/YYYY", re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")),
    ("DD.MM.YYYY", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")),
    ("YYYY/MM/DD", re.compile(r"^\d{4}/\d{2}/\d{2}$")),
    ("Mon DD, YYYY", re.compile(r"^[A-Za-z]{3,9}\.? \d{1,2}, \d{4}$")),
)


@dataclasses.dataclass(frozen=True)
class Suggestion:
    text: str
    source: str  # "dictionary", "word split", "table name", "foreign key", "values", "model"


@dataclasses.dataclass
class Finding:
    table: str
    column: str
    kind: str  # CRYPTIC, AMBIGUOUS or INCONSISTENT
    check: str  # the finer kind: "abbreviation", "variants", "sentinel", "duplicate_key" …
    detail: str
    suggestion: str
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)
    suggestions: list[Suggestion] = dataclasses.field(default_factory=list)
    # (synonym, canonical value) pairs the glossary gains when the finding is accepted
    synonyms: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        from core.ask import json_value

        return {
            "table": self.table,
            "column": self.column,
            "kind": self.kind,
            "check": self.check,
            "detail": self.detail,
            "suggestion": self.suggestion,
            "suggestions": [dataclasses.asdict(s) for s in self.suggestions],
            "synonyms": [list(pair) for pair in self.synonyms],
            "evidence": json.loads(json.dumps(self.evidence, default=json_value)),
        }


@dataclasses.dataclass
class Curation:
    findings: list[Finding]
    stats: list[TableStats]
    problems: list[str]  # what could not be checked, and why

    def for_table(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.table == name]

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.findings], "problems": self.problems}


# -- cryptic names ---------------------------------------------------------------


@functools.cache
def _plain_words() -> frozenset[str]:
    import json as _json

    data = _json.loads((naming._DATA / "abbreviations.json").read_text(encoding="utf-8"))
    return frozenset(data.get("words", []))


def _has_vowel(piece: str) -> bool:
    return any(ch in "aeiou" for ch in piece) or "y" in piece[1:]


def _known_word(piece: str) -> bool:
    for form in dict.fromkeys((piece, naming.singular(piece))):
        if naming.is_word(form) and (len(form) >= 4 or naming.word_rank_cost(form) < 13.4):
            return True
    return False


def cryptic_pieces(name: str) -> list[str]:
    """The pieces of a name a reader cannot expand: abbreviations, fragments, non-words.

    >>> cryptic_pieces("svc_actv_dt"), cryptic_pieces("aloc"), cryptic_pieces("opened_at")
    (['svc', 'actv', 'dt'], ['aloc'], [])
    """
    if name.isupper() and 2 < len(name) <= 5 and name.lower() not in _plain_words():
        return [name.lower()]  # an acronym of its own ('SID', 'FID')
    found = []
    for piece in naming.split_identifier(name):
        if piece.isdigit() or piece in _plain_words() or piece in _FUNCTION_WORDS:
            continue
        if (
            len(piece) <= 2
            or piece in naming.abbreviations()
            or not _has_vowel(piece)
            or not _known_word(piece)
        ):
            found.append(piece)
    return found


def _abbreviates(piece: str, word: str) -> bool:
    """'cust' abbreviates 'customer': same first letter, its letters in order."""
    if not piece or not word or piece[0] != word[0] or len(piece) >= len(word):
        return False
    rest = iter(word[1:])
    return all(ch in rest for ch in piece[1:])


def _values_hint(stats: TableStats | None, column: Column) -> str:
    col = stats.column(column.name) if stats else None
    if col is None or not col.non_null:
        return ""
    if column.is_numeric and col.min is not None:
        return f"numbers from {col.min} to {col.max}"
    shown = [str(v) for v, _ in col.top[:4]]
    if not shown:
        return ""
    many = f"{col.distinct} distinct values" if col.distinct else "values"
    return f"{many} such as " + ", ".join(f"'{v}'" for v in shown)


def _name_suggestions(
    table: Table, column: Column, pieces: list[str], stats: TableStats | None, targets: dict
) -> list[Suggestion]:
    words = naming.split_identifier(column.name)
    table_word = naming.singular(naming.split_identifier(table.name)[-1])
    out: list[Suggestion] = []
    expanded = [naming.expand(w) for w in words]
    if any(e != w for e, w in zip(expanded, words, strict=True)):
        out.append(Suggestion(" ".join(expanded), "dictionary"))
    for piece in pieces:
        split = [p for p in wordninja.split(piece) if p]
        if len(split) > 1 and all(
            (len(p) >= 3 and naming.is_word(p)) or p in naming.abbreviations() for p in split
        ):
            out.append(
                Suggestion(
                    " ".join(naming.expand(w) if w != piece else " ".join(split) for w in words),
                    "word split",
                )
            )
        if _abbreviates(piece, table_word) and piece not in naming.abbreviations():
            out.append(
                Suggestion(
                    " ".join(table_word if w == piece else naming.expand(w) for w in words),
                    "table name",
                )
            )
    if column.name.lower() in targets:
        ref_table, ref_column = targets[column.name.lower()]
        noun = naming.humanize(naming.singular(ref_table))
        out.append(Suggestion(f"{noun} (refers to {ref_table}.{ref_column})", "foreign key"))
    hint = _values_hint(stats, column)
    if hint:
        out.append(Suggestion(hint, "values"))
    return out


def _best_meaning(suggestions: list[Suggestion], column: Column) -> str:
    by_source = {s.source: s.text for s in reversed(suggestions)}
    for source in ("model", "dictionary", "table name", "word split"):
        if source in by_source:
            text = by_source[source]
            if "foreign key" in by_source and source != "model":
                text += f" — {by_source['foreign key']}"
            return text
    if "foreign key" in by_source:
        return by_source["foreign key"]
    if "values" in by_source:
        return f"{naming.humanize(column.name)}: {by_source['values']}"
    return naming.humanize(column.name)


def _cryptic(target: Target, stats: dict[str, TableStats]) -> list[Finding]:
    found = []
    for table in target.schema.main_tables:
        pieces = cryptic_pieces(table.name)
        if pieces:
            found.append(
                Finding(
                    table.name,
                    "",
                    CRYPTIC,
                    "abbreviation",
                    f"The table name {table.name} has pieces a reader cannot expand: "
                    + ", ".join(pieces)
                    + ".",
                    naming.humanize(table.name),
                    {"pieces": pieces},
                    [Suggestion(naming.humanize(table.name), "dictionary")],
                )
            )
        targets = {
            fk.columns[0].lower(): (fk.ref_table, fk.ref_columns[0])
            for fk in table.foreign_keys
            if len(fk.columns) == 1
        }
        for column in table.columns:
            pieces = cryptic_pieces(column.name)
            if not pieces:
                continue
            suggestions = _name_suggestions(table, column, pieces, stats.get(table.name), targets)
            found.append(
                Finding(
                    table.name,
                    column.name,
                    CRYPTIC,
                    "abbreviation",
                    f"{column.name} has pieces a reader cannot expand: {', '.join(pieces)}.",
                    _best_meaning(suggestions, column),
                    {
                        "pieces": pieces,
                        "siblings": [c.name for c in table.columns if c is not column][:12],
                    },
                    suggestions,
                )
            )
    return found


MODEL_PROMPT = """\
You document database columns. For each column listed below, say in at most twelve words
what it most likely means, using the table, the other columns and the example values.
Answer with one JSON object mapping each column name to its meaning, and nothing else.

Table {table}; its columns: {columns}
Columns to explain:
{cryptic}
"""


def ask_model(
    findings: list[Finding], target: Target, settings: Settings, client: Any
) -> list[str]:
    """Add the model's reading to each cryptic-name finding; returns problems met."""
    from core.generate_sql import complete

    problems: list[str] = []
    by_table: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.kind == CRYPTIC and f.column:
            by_table[f.table].append(f)
    for table_name, items in by_table.items():
        table = target.schema.table(table_name)
        lines = []
        for f in items:
            values = next((s.text for s in f.suggestions if s.source == "values"), "")
            lines.append(f"- {f.column}" + (f" ({values})" if values else ""))
        prompt = MODEL_PROMPT.format(
            table=table_name,
            columns=", ".join(table.column_names) if table else "",
            cryptic="\n".join(lines),
        )
        try:
            reply = complete(client, settings, [{"role": "user", "content": prompt}])
        except QuarryError as exc:
            problems.append(f"model suggestions for {table_name}: {exc.message}")
            break
        meanings = _json_object(reply.text)
        if meanings is None:
            problems.append(f"model suggestions for {table_name}: the answer held no JSON object")
            continue
        lowered = {str(k).lower(): str(v) for k, v in meanings.items() if str(v).strip()}
        for f in items:
            text = lowered.get(f.column.lower())
            if text:
                f.suggestions.insert(0, Suggestion(text.strip(), "model"))
                f.suggestion = text.strip()
    return problems


def _json_object(text: str) -> dict | None:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


# -- ambiguous names -------------------------------------------------------------


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def _ambiguous(target: Target, stats: dict[str, TableStats]) -> list[Finding]:
    found = []
    groups: dict[str, list[tuple[Table, Column]]] = defaultdict(list)
    spellings: dict[str, list[tuple[Table, Column]]] = defaultdict(list)
    for table in target.schema.main_tables:
        for column in table.columns:
            groups[column.name.lower()].append((table, column))
            spellings[re.sub(r"[^0-9a-z]", "", column.name.lower())].append((table, column))

    for name, members in groups.items():
        if name not in GENERIC_NAMES or len({t.name for t, _ in members}) < 2:
            continue
        tops = {}
        for table, column in members:
            col = stats.get(table.name).column(column.name) if stats.get(table.name) else None
            tops[table.name] = {_norm(v) for v, _ in (col.top if col else [])}
        for table, column in members:
            others = [t.name for t, _ in members if t.name != table.name]
            mine = tops[table.name]
            overlap = max(
                (len(mine & tops[o]) / len(mine | tops[o]) for o in others if mine | tops[o]),
                default=0.0,
            )
            if mine and overlap >= 0.5:
                continue
            found.append(
                Finding(
                    table.name,
                    column.name,
                    AMBIGUOUS,
                    "same name, other meaning",
                    f"'{column.name}' also names columns of {', '.join(others)}, which hold other "
                    "values; a question saying only "
                    f"'{column.name}' cannot tell which is meant.",
                    naming.humanize(naming.singular(table.name))
                    + " "
                    + naming.humanize(column.name),
                    {"tables": [table.name, *others], "values": sorted(mine)[:8]},
                )
            )
    for members in spellings.values():
        names = {c.name for _, c in members}
        if len(names) < 2:
            continue
        for table, column in members:
            others = sorted(f"{t.name}.{c.name}" for t, c in members if c.name != column.name)
            found.append(
                Finding(
                    table.name,
                    column.name,
                    AMBIGUOUS,
                    "spelling",
                    f"{column.name} differs from {', '.join(others)} only by case or underscores.",
                    f"Say whether {column.name} and {others[0]} mean the same; use one spelling.",
                    {"spellings": sorted(names)},
                )
            )
    return found


# -- inconsistent values ---------------------------------------------------------


def _key_text(value: str) -> str:
    """Case, whitespace and punctuation removed: 'Tx .' and 'tx' read alike."""
    return re.sub(r"[\W_]+", "", value.casefold())


def _initials(text: str) -> str:
    return "".join(w[0] for w in text.split() if w)


def _code_for(value: str, codes: dict[str, int]) -> str | None:
    """The short code a long value spells out: 'Texas' → 'TX', 'New York' → 'NY'."""
    word = value.strip().upper()
    words = word.split()
    if len(words) > 1:
        initials = _initials(word)
        if initials in codes:
            return initials
    best: tuple[int, str] | None = None
    for code in codes:
        if _abbreviates(code, word.replace(" ", "")):
            position = word.find(code[1]) if len(code) > 1 else 0
            if best is None or position < best[0]:
                best = (position, code)
    return best[1] if best else None


def _variant_groups(values: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    groups: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for value, count in values:
        key = _key_text(value)
        if key:
            groups[key].append((value, count))
    found = [sorted(g, key=lambda vc: -vc[1]) for g in groups.values() if len(g) > 1]

    codes = {
        v.strip().upper(): n for v, n in values if 0 < len(v.strip()) <= 3 and v.strip().isalpha()
    }
    code_rows = sum(n for v, n in values if v.strip().upper() in codes)
    total = sum(n for _, n in values) or 1
    if codes and code_rows / total >= 0.8:
        by_code: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for value, count in values:
            if len(value.strip()) > 3 and value.strip().replace(" ", "").isalpha():
                code = _code_for(value, codes)
                if code:
                    by_code[code].append((value, count))
        for code, spelled in by_code.items():
            group = next((g for g in found if _key_text(g[0][0]) == _key_text(code)), None)
            if group is None:
                group = [(v, n) for v, n in values if _key_text(v) == _key_text(code)]
                found.append(group)
            group.extend(spelled)
            group.sort(key=lambda vc: -vc[1])

    if len(values) <= FUZZY_MAX_DISTINCT and sum(n for _, n in values) >= 2 * len(values):
        grouped = {v for g in found for v, _ in g}
        keys = [(v, n, _key_text(v)) for v, n in values if v not in grouped and _key_text(v)]
        for i, (a, na, ka) in enumerate(keys):
            for b, nb, kb in keys[i + 1 :]:
                rare, common = ((a, na), (b, nb)) if na < nb else ((b, nb), (a, na))
                if (
                    re.sub(r"\D", "", ka) == re.sub(r"\D", "", kb)
                    and min(len(ka), len(kb)) >= 4
                    and rare[1] * 10 <= common[1]
                    and fuzz.ratio(ka, kb) >= FUZZY_SCORE
                ):
                    found.append([common, rare])
    return found


def _check_variants(table: Table, column: Column, values: list[tuple[Any, int]]) -> list[Finding]:
    texts = [(v, n) for v, n in values if isinstance(v, str)]
    groups = _variant_groups(texts)
    if not groups:
        return []
    groups.sort(key=lambda g: -sum(n for _, n in g))
    pairs = [(v, g[0][0]) for g in groups for v, _ in g[1:]]
    shown = "; ".join(" / ".join(f"'{v}' ×{n}" for v, n in g[:5]) for g in groups[:3])
    return [
        Finding(
            table.name,
            column.name,
            INCONSISTENT,
            "variants",
            f"{len(groups)} value(s) of {column.name} are written several ways: {shown}.",
            "Treat "
            + ", ".join(f"'{s}' as '{v}'" for s, v in pairs[:6])
            + (" …" if len(pairs) > 6 else "")
            + " (value synonyms), or clean the data.",
            {"groups": [[[v, n] for v, n in g] for g in groups[:10]]},
            synonyms=pairs,
        )
    ]


def _check_text_sentinels(
    table: Table, column: Column, values: list[tuple[Any, int]], dialect: str = "mysql"
) -> list[Finding]:
    hits = [(v, n) for v, n in values if isinstance(v, str) and _norm(v) in TEXT_SENTINELS]
    if not hits:
        return []
    shown = ", ".join(f"'{v}' ×{n}" for v, n in hits)
    return [
        Finding(
            table.name,
            column.name,
            INCONSISTENT,
            "sentinel",
            f"{column.name} uses {shown} for a missing value.",
            f"Read {', '.join(repr(v) for v, _ in hits)} as missing (NULL), e.g. "
            f"NULLIF({identifiers.quote(column.name, dialect)}, "
            f"{exp.Literal.string(hits[0][0]).sql(dialect=dialect)}).",
            {"values": [[v, n] for v, n in hits], "rows": sum(n for _, n in hits)},
        )
    ]


def _is_number(text: str) -> bool:
    return bool(_NUMBER.match(_CURRENCY.sub("", text.strip())))


_PARSE_DATE = {
    "mysql": "STR_TO_DATE per pattern",
    "postgres": "TO_DATE per pattern",
    "sqlite": "rewrite each as YYYY-MM-DD first: SQLite's date functions read only that",
}


def _cast_to_number(name: str, dialect: str) -> str:
    """The cast that strips '$' and ',' from a text column, written for `dialect`."""
    column = identifiers.column(name, None, dialect)
    stripped = exp.func(
        "REPLACE",
        exp.func("REPLACE", column, exp.Literal.string("$"), exp.Literal.string("")),
        exp.Literal.string(","),
        exp.Literal.string(""),
    )
    kind = "REAL" if dialect == "sqlite" else "DECIMAL(14, 2)"  # SQLite has no decimals
    return exp.cast(stripped, exp.DataType.build(kind)).sql(dialect=dialect)


def _check_text_shapes(
    table: Table, column: Column, values: list[tuple[Any, int]], dialect: str = "mysql"
) -> list[Finding]:
    texts = [(v.strip(), n) for v, n in values if isinstance(v, str) and v.strip()]
    if len(texts) < 3 or column.kind != "text":
        return []
    numbers = [(v, n) for v, n in texts if _is_number(v)]
    # Whole numbers in a column named like a code (zip, phone, id) are codes, not quantities.
    code_like = all(v.isdigit() for v, _ in numbers) and (
        bool(set(naming.split_identifier(column.name)) & CODE_WORDS)
        or len({len(v) for v, _ in numbers}) == 1
        or any(v.startswith("0") and len(v) > 1 for v, _ in numbers)
    )
    if len(numbers) >= SHARE * len(texts) and not code_like:
        formatted = [(v, n) for v, n in numbers if not re.match(r"^[-+]?\d+(\.\d+)?$", v)]
        return [
            Finding(
                table.name,
                column.name,
                INCONSISTENT,
                "number_as_text",
                f"{column.name} holds numbers as text"
                + (
                    f"; {sum(n for _, n in formatted)} rows carry symbols or separators, "
                    f"e.g. {', '.join(repr(v) for v, _ in formatted[:4])}"
                    if formatted
                    else ""
                )
                + ", so sums and comparisons on it go wrong.",
                "Strip '$' and ',' before casting: "
                f"{_cast_to_number(column.name, dialect)}; better, store it as a number.",
                {
                    "examples": [v for v, _ in (formatted or numbers)[:6]],
                    "formatted_rows": sum(n for _, n in formatted),
                },
            )
        ]
    formats: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for value, count in texts:
        for label, pattern in _DATE_FORMATS:
            if pattern.match(value):
                formats[label].append((value, count))
                break
    dated = sum(len(v) for v in formats.values())
    if dated < SHARE * len(texts) or not formats:
        return []
    rows = {label: sum(n for _, n in found) for label, found in formats.items()}
    examples = {label: [v for v, _ in found[:3]] for label, found in formats.items()}
    if len(formats) > 1:
        shown = ", ".join(
            f"{label} ({rows[label]} rows, e.g. '{examples[label][0]}')" for label in formats
        )
        return [
            Finding(
                table.name,
                column.name,
                INCONSISTENT,
                "mixed_date_formats",
                f"{column.name} holds dates as text in {len(formats)} formats: {shown}.",
                "Convert every format to one DATE column; until then compare dates only after "
                f"parsing each format ({_PARSE_DATE.get(dialect, _PARSE_DATE['mysql'])}).",
                {"formats": rows, "examples": examples},
            )
        ]
    label = next(iter(formats))
    return [
        Finding(
            table.name,
            column.name,
            INCONSISTENT,
            "date_as_text",
            f"{column.name} holds dates as text ({label}), so date arithmetic needs a cast.",
            f"Store it as a DATE, or cast it when filtering by date (format {label}).",
            {"formats": rows, "examples": examples},
        )
    ]


def _literal(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return (
            "'" + value.isoformat(sep=" ") + "'"
            if isinstance(value, dt.datetime)
            else f"'{value.isoformat()}'"
        )
    return str(value)


def _as_date(value: Any) -> Any:
    """SQLite hands dates back as text; read the ISO ones as dates."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


def _sentinel_candidate(column: Column, low: Any, high: Any) -> Any:
    if column.kind in ("date", "datetime"):
        low, high = _as_date(low), _as_date(high)
    if column.is_numeric:
        for value in (low, high):
            if value is not None and float(value) in NUMBER_SENTINELS:
                return value
    if column.kind in ("date", "datetime"):
        if isinstance(high, (dt.date, dt.datetime)) and high.year >= 9000:
            return high
        if isinstance(low, (dt.date, dt.datetime)) and (
            low.year < 1800 or low.timetuple()[:3] in ((1900, 1, 1), (1970, 1, 1))
        ):
            return low
    return None


def _check_value_sentinel(
    runner: _Runner, table: Table, column: Column, col_stats
) -> list[Finding]:
    value = _sentinel_candidate(column, col_stats.min, col_stats.max)
    if value is None:
        return []
    if column.kind == "date":
        value = value if isinstance(value, dt.date) else _as_date(value)
    dialect = runner.target.dialect
    name = identifiers.quote(column.name, dialect)
    source = identifiers.table(table.name, dialect).sql(dialect=dialect)
    literal = _literal(value)
    sql = (
        f"SELECT SUM(CASE WHEN {name} = {literal} THEN 1 ELSE 0 END), "
        f"MIN(CASE WHEN {name} <> {literal} THEN {name} END), "
        f"MAX(CASE WHEN {name} <> {literal} THEN {name} END) FROM {source}"
    )
    rows, low, high = runner.run(sql, row_cap=1).rows[0]
    if not rows:
        return []
    if column.is_numeric:
        if float(value) < 0 and (low is None or float(low) < 0):
            return []  # negative numbers are ordinary here
        if float(value) > 0 and high is not None and float(high) * 5 > float(value):
            return []  # 9999 is not far from the other values
    elif isinstance(value, (dt.date, dt.datetime)) and value.year < 9000 and low is not None:
        if getattr(_as_date(low), "year", 0) - value.year < 10:
            return []
    return [
        Finding(
            table.name,
            column.name,
            INCONSISTENT,
            "sentinel",
            f"{int(rows)} rows of {column.name} hold {value} where a value is missing; the other "
            f"values run from {low} to {high}.",
            f"Read {value} as missing: "
            f"NULLIF({identifiers.quote(column.name, runner.target.dialect)}, {literal}), "
            "or exclude it before "
            "sums, averages and date ranges.",
            {"value": value, "rows": int(rows), "others_min": low, "others_max": high},
        )
    ]


def _fk_candidates(target: Target, table: Table) -> list[tuple[str, str, str, bool]]:
    """(column, parent table, parent column, declared) for single-column references."""
    names = {t.name for t in target.schema.main_tables if t.kind == "table"}
    found = [
        (fk.columns[0], fk.ref_table, fk.ref_columns[0], True)
        for fk in table.foreign_keys
        if len(fk.columns) == 1 and fk.ref_table in names and fk.ref_schema is None
    ]
    declared = {c.lower() for c, *_ in found}
    for parent in target.schema.main_tables:
        if parent.kind != "table" or parent.name == table.name or len(parent.primary_key) != 1:
            continue
        key = parent.primary_key[0]
        child = table.column(key)
        parent_col = parent.column(key)
        if (
            child is not None
            and key.lower() not in declared
            and naming.split_identifier(key)[-1:] == ["id"]
            and child.kind == parent_col.kind == "integer"
        ):
            found.append((child.name, parent.name, key, False))
    return found


def _check_orphans(runner: _Runner, table: Table) -> list[Finding]:
    found = []
    dialect = runner.target.dialect
    for column, parent, parent_column, declared in _fk_candidates(runner.target, table):
        c = identifiers.quote(column, dialect)
        p = identifiers.quote(parent_column, dialect)
        child_src = identifiers.table(table.name, dialect, alias="c").sql(dialect=dialect)
        parent_src = identifiers.table(parent, dialect, alias="p").sql(dialect=dialect)
        sql = (
            f"SELECT v, n, COUNT(*) OVER () AS d, SUM(n) OVER () AS r FROM (SELECT c.{c} AS v, "
            f"COUNT(*) AS n FROM {child_src} LEFT JOIN {parent_src} ON c.{c} = p.{p} "
            f"WHERE c.{c} IS NOT NULL AND p.{p} IS NULL GROUP BY c.{c}) AS g "
            "ORDER BY n DESC, v LIMIT 5"
        )
        rows = runner.run(sql, row_cap=5).rows
        if not rows:
            continue
        distinct, total = int(rows[0][2]), int(rows[0][3])
        how = "" if declared else " (the name matches its key; no foreign key is declared)"
        found.append(
            Finding(
                table.name,
                column,
                INCONSISTENT,
                "orphaned_foreign_key",
                f"{total} rows of {table.name} point through {column} to {distinct} "
                f"{parent}.{parent_column} value(s) that do not exist{how}, e.g. "
                + ", ".join(str(r[0]) for r in rows[:3])
                + ".",
                f"Joins to {parent} drop these rows; use a LEFT JOIN when counting {table.name}, "
                f"or restore the missing {parent} rows.",
                {
                    "parent": f"{parent}.{parent_column}",
                    "rows": total,
                    "values": distinct,
                    "examples": [r[0] for r in rows],
                },
            )
        )
    return found


def _looks_like_key(table: Table, column: Column) -> bool:
    words = naming.split_identifier(column.name)
    in_fk = any(column.name in fk.columns for fk in table.foreign_keys)
    return (
        bool(words)
        and words[-1] in KEY_WORDS
        and not in_fk
        and column.name not in table.primary_key
    )


def _check_duplicates(runner: _Runner, table: Table, column: Column, col_stats) -> list[Finding]:
    if (
        table.kind != "table"
        or not _looks_like_key(table, column)
        or col_stats.distinct is None
        or col_stats.declared_unique
        or col_stats.unique
        or col_stats.non_null < 10
        or col_stats.distinct < 0.9 * col_stats.non_null
    ):
        return []
    dialect = runner.target.dialect
    key = _group_key(column, dialect)
    name = identifiers.quote(column.name, dialect)
    source = identifiers.table(table.name, dialect).sql(dialect=dialect)
    hint = "SQL_BIG_RESULT " if dialect == "mysql" and not few_values(column) else ""
    sql = (
        f"SELECT {hint}{key} AS v, COUNT(*) AS n FROM {source} WHERE {name} IS NOT NULL "
        f"GROUP BY {key} HAVING COUNT(*) > 1 ORDER BY n DESC, v LIMIT 5"
    )
    rows = runner.run(sql, row_cap=5).rows
    examples = [
        (v.decode("utf-8", "replace") if isinstance(v, bytes) else v, int(n)) for v, n in rows
    ]
    extra = col_stats.non_null - col_stats.distinct
    return (
        [
            Finding(
                table.name,
                column.name,
                INCONSISTENT,
                "duplicate_key",
                f"{column.name} looks like a key, but {extra} rows repeat a value held by "
                "another row, e.g. " + ", ".join(f"'{v}' ×{n}" for v, n in examples[:3]) + ".",
                f"Do not join or look rows up by {column.name} alone; find out why values repeat "
                f"(reuse, re-provisioning, a missing unique index).",
                {"repeated_rows": extra, "examples": [[v, n] for v, n in examples]},
            )
        ]
        if examples
        else []
    )


def column_values(
    runner: _Runner, table: Table, column: Column, few: bool
) -> list[tuple[Any, int]]:
    """Up to MAX_VALUES distinct values with their counts, most frequent first, grouped by bytes."""
    from core.profile_stats import _shown, grouped_sql

    sql = grouped_sql(table, column, runner.target.dialect, few=few, top=MAX_VALUES)
    rows = runner.run(sql, row_cap=MAX_VALUES).rows
    return [(_shown(v, column), int(n)) for v, n, _ in rows]


def _inconsistent(
    runner: _Runner, table: Table, stats: TableStats, problems: list[str]
) -> list[Finding]:
    found: list[Finding] = []
    for column in table.columns:
        col_stats = stats.column(column.name)
        if col_stats is None or col_stats.non_null == 0 or col_stats.error:
            continue
        try:
            if column.kind == "text" and col_stats.distinct:
                few = few_values(column) or col_stats.distinct <= MAX_VALUES
                values = column_values(runner, table, column, few)
                shapes = _check_text_shapes(table, column, values, runner.target.dialect)
                if not any(f.check == "number_as_text" for f in shapes):
                    found += _check_variants(table, column, values)
                found += _check_text_sentinels(table, column, values, runner.target.dialect)
                found += shapes
            found += _check_value_sentinel(runner, table, column, col_stats)
            found += _check_duplicates(runner, table, column, col_stats)
        except QuarryError as exc:
            problems.append(f"{table.name}.{column.name}: {exc.message}")
    try:
        found += _check_orphans(runner, table)
    except QuarryError as exc:
        problems.append(f"{table.name} foreign keys: {exc.message}")
    return found


# -- all together ----------------------------------------------------------------


def curate(
    target: Target,
    settings: Settings,
    stats: list[TableStats] | None = None,
    *,
    client: Any = None,
    on_table: Callable[[int, int, str], None] | None = None,
) -> Curation:
    """Every finding on the main schema; `stats` are profiled first when not given."""
    stats = stats if stats is not None else profile_tables(target, settings, on_table=on_table)
    by_name = {s.table: s for s in stats}
    problems = [p for s in stats for p in s.problems]
    findings = _cryptic(target, by_name) + _ambiguous(target, by_name)
    runner = _Runner(target, settings)
    for table in target.schema.main_tables:
        table_stats = by_name.get(table.name)
        if table_stats is None or table_stats.error or not table_stats.rows:
            continue
        findings += _inconsistent(runner, table, table_stats, problems)
    if client is not None:
        problems += ask_model(findings, target, settings, client)
    order = {t.name: i for i, t in enumerate(target.schema.main_tables)}
    kinds = {CRYPTIC: 0, AMBIGUOUS: 1, INCONSISTENT: 2}
    findings.sort(key=lambda f: (order.get(f.table, 99), kinds[f.kind]))
    logger.info("Curation found %d findings, %d problems", len(findings), len(problems))
    return Curation(findings, stats, problems)
