"""The prompt check: what in a prompt template leaves the model room to guess.

Rules, each finding pointing at its span in the template with a suggested
rewrite:

- ``contradiction``: two instructions that cannot both hold ("Always add a
  LIMIT" and "Never use LIMIT"); instructions under "if" or "when" are
  exceptions, not contradictions;
- ``vague``: a word such as "appropriate", "relevant" or "recent" that the
  prompt does not define;
- ``unknown name``: a table or column the connection does not have (quoted,
  dotted, snake_case or CamelCase names, or a word called a table or column);
- ``abbreviation``: an upper-case abbreviation the prompt and the glossary do
  not explain;
- ``dialect``: no dialect at all, or one that is not the connection's;
- ``format``: no word on how the answer should look;
- ``placeholder``: an unknown placeholder, or {schema} or {question} missing.

With a model configured, ``critic_findings`` asks the model for its own
findings; they are marked ``source="critic"``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any

from rapidfuzz import fuzz, process

from core.errors import ModelUnavailable
from core.generate_sql import complete
from core.glossary import Glossary
from core.naming import singular
from core.prompt import PLACEHOLDERS
from core.schema import Schema
from core.settings import Settings

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PromptFinding:
    kind: str
    start: int  # character offsets in the template; equal when something is missing
    end: int
    text: str
    message: str
    suggestion: str  # advice, in words
    replacement: str | None = None  # text for the span (inserted when the span is empty)
    source: str = "rules"  # or "critic"


def apply_finding(template: str, finding: PromptFinding) -> str:
    """`template` with the finding's replacement put in its span."""
    if finding.replacement is None:
        return template
    return template[: finding.start] + finding.replacement + template[finding.end :]


DIALECTS = {
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "postgresql": "PostgreSQL",
    "postgres": "PostgreSQL",
    "sqlite": "SQLite",
    "t-sql": "SQL Server",
    "sql server": "SQL Server",
    "oracle": "Oracle",
    "bigquery": "BigQuery",
    "snowflake": "Snowflake",
}
_SAME_FAMILY = {"MySQL": {"MySQL", "MariaDB"}, "MariaDB": {"MySQL", "MariaDB"}}

_FORMAT = re.compile(
    r"```|fenced|code block|\bjson\b|only (the )?(sql|query)|nothing else|no explanation|"
    r"return (only |just )?(the |one |a )?(sql|query)|output (only|the)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]*)\}(?!\})")

VAGUE_WORDS: dict[str, str] = {
    "appropriate": "say which: for example 'the columns the question asks for'",
    "appropriately": "say how, in one concrete rule",
    "relevant": "say which: for example 'the tables the question names'",
    "reasonable": "give the number or rule meant",
    "suitable": "say which, in one concrete rule",
    "proper": "say what is meant, in one concrete rule",
    "properly": "say how, in one concrete rule",
    "good": "say what makes it good: correct, short, fast?",
    "best": "say by what measure",
    "optimal": "say by what measure",
    "efficient": "say what to avoid: for example 'no SELECT *, no subquery per row'",
    "recent": "give the period: for example 'the 30 days before the newest date in the data'",
    "recently": "give the period",
    "large": "give the number: for example 'more than 1,000 rows'",
    "small": "give the number",
    "top": "say how many and by what: for example 'the 10 with the highest total'",
    "some": "say how many or which",
    "several": "say how many",
    "various": "say which",
    "etc": "list every case meant; the model cannot read the rest",
    "clean": "say what clean means here",
    "nice": "say what is wanted",
    "simple": "say what to avoid: for example 'no subqueries when a join does'",
}
_DEFINED = (
    r"(?:\b{w}\b\s*(?:means|is defined as|refers to|=|:)|by\s+['\"]?{w}['\"]?\s+(?:we|i)\s+mean)"
)

_NEGATIVE = re.compile(
    r"\b(never|don't|do not|must not|mustn't|should not|shouldn't|avoid|no|without|"
    r"not allowed|forbidden|refrain from)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(always|must|should|use|include|add|return|write|put|quote|prefer|make sure|end)\b",
    re.IGNORECASE,
)
_CONDITIONAL = re.compile(r"^\s*(if|when|unless|where|in case|otherwise)\b", re.IGNORECASE)
# Instruction objects a contradiction is about; a shared one of these is enough.
_TOPICS = frozenset(
    """
    limit join subquery subqueries quote quotes quoting alias aliases explanation explain
    explanations comment comments semicolon cte union order distinct star uppercase lowercase
    backtick backticks markdown fence fenced block prose text reasoning offset group having
    window cast wildcard
    """.split()
)
_OPPOSITES = (
    (
        re.compile(
            r"only (return |give |write )?(the )?(sql|query)|return only|nothing else|"
            r"no explanation|no prose",
            re.I,
        ),
        re.compile(
            r"\bexplain\b|explanation|describe (your|the) (reasoning|query)|reasoning", re.I
        ),
        "asks for the query alone and for an explanation",
    ),
    (
        re.compile(r"\b(one|a single|exactly one) (sql )?(query|statement)\b", re.I),
        re.compile(r"\b(several|multiple|two or more|many) (sql )?(queries|statements)\b", re.I),
        "asks for one query and for several",
    ),
    (
        re.compile(r"upper[- ]?case (sql )?keywords", re.I),
        re.compile(r"lower[- ]?case (sql )?keywords", re.I),
        "asks for upper-case and for lower-case keywords",
    ),
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_KNOWN_ABBREVIATIONS = frozenset(
    """
    SQL ID IDS JSON CSV SELECT WITH UNION LIMIT JOIN JOINS WHERE GROUP ORDER BY HAVING AND OR
    NOT NULL ASC DESC ISO UTC USD EUR URL API AI LLM OK DDL DML CTE CTES UI PK FK AS ON IN IS
    TABLE VIEW INNER LEFT RIGHT OUTER FULL CROSS DISTINCT COUNT SUM AVG MIN MAX CASE THEN ELSE
    END INSERT UPDATE DELETE DROP ALTER CREATE LIKE BETWEEN EXISTS ALL ANY TOP OFFSET
    INTERSECT EXCEPT OVER PARTITION TRUE FALSE II III IV NB PS
    """.split()
)
_ABBREVIATION = re.compile(r"\b[A-Z][A-Z0-9]{1,5}s?\b")
_STOP = frozenset(
    "a an the of to in on for and or be is are it its this that with as by at from your you "
    "any each every all".split()
)


def _spans(template: str) -> list[tuple[int, int, str]]:
    """The template's sentences (or lines), outside placeholders, with their offsets."""
    masked = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), template)
    return [
        (m.start(), m.end(), m.group(0)) for m in _SENTENCE.finditer(masked) if m.group(0).strip()
    ]


def _placeholders(template: str) -> list[PromptFinding]:
    found = []
    names = set()
    for m in _PLACEHOLDER.finditer(template):
        name = re.split(r"[!:]", m.group(1), maxsplit=1)[0]
        names.add(name)
        if name not in PLACEHOLDERS:
            close = process.extractOne(name, PLACEHOLDERS, scorer=fuzz.ratio)
            better = "{" + close[0] + "}" if close and close[1] >= 60 else ""
            found.append(
                PromptFinding(
                    "placeholder",
                    m.start(),
                    m.end(),
                    m.group(0),
                    f"{m.group(0)} is not a placeholder Quarry fills; the model would see it as "
                    "written.",
                    f"Did you mean {better}?" if better else "Write a literal brace twice: {{ }}.",
                    better or None,
                )
            )
    end = len(template)
    for name, why in (("schema", "the tables"), ("question", "the question")):
        if name not in names:
            found.append(
                PromptFinding(
                    "placeholder",
                    end,
                    end,
                    "",
                    f"The template has no {{{name}}}, so the model never sees {why}.",
                    f"Add {{{name}}} where the model should read {why}.",
                    f"\n{name.capitalize()}:\n{{{name}}}\n",
                )
            )
    return found


def _dialect(template: str, dialect_name: str | None) -> list[PromptFinding]:
    found = []
    named = [
        (m.start(), m.end(), m.group(0))
        for word in DIALECTS
        for m in re.finditer(rf"\b{re.escape(word)}\b", template, re.IGNORECASE)
    ]
    if "{dialect}" not in template and not named:
        found.append(
            PromptFinding(
                "dialect",
                0,
                0,
                "",
                "The prompt names no SQL dialect, so the model may write another one's syntax.",
                "Name it with the {dialect} and {server_version} placeholders.",
                "You write SQL for a {dialect} {server_version} database.\n",
            )
        )
    if dialect_name:
        allowed = _SAME_FAMILY.get(dialect_name, {dialect_name})
        for start, end, text in named:
            if DIALECTS[text.lower()] not in allowed:
                found.append(
                    PromptFinding(
                        "dialect",
                        start,
                        end,
                        text,
                        f"The prompt says {text}, but this connection is {dialect_name}.",
                        "Write {dialect}, which Quarry fills with the connection's dialect.",
                        "{dialect}",
                    )
                )
    return found


def _format(template: str) -> list[PromptFinding]:
    if _FORMAT.search(template):
        return []
    end = len(template.split("\n---\n", 1)[0])
    return [
        PromptFinding(
            "format",
            end,
            end,
            "",
            "The prompt does not say how the answer should look, so the SQL may come "
            "wrapped in prose Quarry has to dig out.",
            "Say how to return the query.",
            "\nReturn the query in a ```sql fenced block and nothing else.\n",
        )
    ]


def _topics(sentence: str) -> set[str]:
    words = {singular(w) for w in re.findall(r"[a-z]+", sentence.lower())}
    return {w for w in words if w in _TOPICS or singular(w) in {singular(t) for t in _TOPICS}}


def _contradictions(template: str) -> list[PromptFinding]:
    sentences = [s for s in _spans(template) if not _CONDITIONAL.match(s[2])]
    found = []
    polar = []
    for start, end, text in sentences:
        negative = bool(_NEGATIVE.search(text))
        positive = bool(_POSITIVE.search(text)) and not negative
        if negative or positive:
            polar.append((start, end, text.strip(), negative, _topics(text)))
    for i, (s1, e1, _, neg1, top1) in enumerate(polar):
        for s2, e2, _, neg2, top2 in polar[i + 1 :]:
            shared = top1 & top2
            if neg1 != neg2 and shared:
                found.append(_contradiction(template, s1, e1, s2, e2, ", ".join(sorted(shared))))
    for a, b, why in _OPPOSITES:
        ma = next(
            (m for m in a.finditer(template) if not _conditional_at(template, m.start())), None
        )
        mb = next(
            (m for m in b.finditer(template) if not _conditional_at(template, m.start())), None
        )
        if ma and mb:
            first, second = sorted([ma, mb], key=lambda m: m.start())
            found.append(
                PromptFinding(
                    "contradiction",
                    second.start(),
                    second.end(),
                    second.group(0),
                    f"The prompt {why} ('{first.group(0)}' and '{second.group(0)}').",
                    "Keep one of the two instructions and delete the other.",
                )
            )
    return found


def _conditional_at(template: str, offset: int) -> bool:
    for start, end, text in _spans(template):
        if start <= offset < end:
            return bool(_CONDITIONAL.match(text))
    return False


def _contradiction(template: str, s1: int, e1: int, s2: int, e2: int, topic: str):
    first = template[s1:e1].strip()
    second = template[s2:e2].strip()
    lead = len(template[s2:e2]) - len(template[s2:e2].lstrip())
    return PromptFinding(
        "contradiction",
        s2 + lead,
        s2 + lead + len(second),
        second,
        f"'{second}' contradicts '{first}' (both about {topic}).",
        f"Keep one rule about {topic}; if both hold in different cases, say when: "
        f"'If …, {second[0].lower() + second[1:]}'",
    )


def _defined(template: str, word: str, glossary: Glossary | None) -> bool:
    if re.search(_DEFINED.format(w=re.escape(word)), template, re.IGNORECASE):
        return True
    return bool(glossary) and any(word in t.term.lower().split() for t in glossary.terms)


def _vague(template: str, glossary: Glossary | None) -> list[PromptFinding]:
    found = []
    for start, _, text in _spans(template):
        for m in re.finditer(r"[A-Za-z]+", text):
            word = m.group(0).lower()
            if word in VAGUE_WORDS and not _defined(template, word, glossary):
                found.append(
                    PromptFinding(
                        "vague",
                        start + m.start(),
                        start + m.end(),
                        m.group(0),
                        f"'{m.group(0)}' is not defined; the model will pick its own meaning.",
                        f"Replace it, or define it ('{word} means …'): {VAGUE_WORDS[word]}.",
                    )
                )
    return found


_NAMED = re.compile(
    r"`([^`\n]+)`|\"([A-Za-z_][\w.]*)\"|\b([A-Za-z_]\w*\.[A-Za-z_]\w*)\b|"
    r"\b((?:[a-z]+_)+[a-z0-9]+|[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+)\b|"
    r"\b(?:table|column)s?\s+([A-Z]\w*)|\b([A-Z]\w*)\s+(?:table|column)s?\b"
)


def _unknown_names(template: str, schema: Schema) -> list[PromptFinding]:
    main = schema.main_tables
    tables = {t.name.lower(): t for t in main}
    # other databases on the server are reachable only with their name in front
    tables.update({t.qualified_name.lower(): t for t in schema.tables if t.schema})
    columns = {c.name.lower() for t in main for c in t.columns}
    known_names = [t.name for t in main] + [f"{t.name}.{c.name}" for t in main for c in t.columns]
    masked = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), template)
    masked = re.sub(r"```\w*", lambda m: " " * len(m.group(0)), masked)
    found = []
    for m in _NAMED.finditer(masked):
        group = next(g for g in range(1, 7) if m.group(g))
        name = m.group(group).strip()
        if not name or name.upper() in _KNOWN_ABBREVIATIONS or name.lower() in DIALECTS:
            continue
        if _known(name, tables, columns):
            continue
        if group in (5, 6) and name.lower() in ("the", "this", "that", "each", "a", "sql"):
            continue
        table = tables.get(name.lower().split(".")[0]) if "." in name else None
        choices = [f"{table.name}.{c.name}" for c in table.columns] if table else known_names
        close = process.extractOne(name, choices, scorer=fuzz.WRatio)
        better = close[0] if close and close[1] >= 80 else None
        if better:
            suggestion = f"Did you mean `{better}`?"
        elif table is not None:
            suggestion = f"{table.name} has " + ", ".join(c.name for c in table.columns) + "."
        else:
            suggestion = "Name a table or column of this connection, or drop the reference."
        start = m.start(group)
        found.append(
            PromptFinding(
                "unknown name",
                start,
                start + len(m.group(group)),
                m.group(group),
                f"'{name}' is not a table or column of this connection.",
                suggestion,
                better,
            )
        )
    return found


def _known(name: str, tables: dict, columns: set[str]) -> bool:
    lowered = name.lower()
    if lowered in tables or lowered in columns:
        return True
    table, _, column = lowered.rpartition(".")
    return bool(table) and table in tables and tables[table].column(column) is not None


def _abbreviations(template: str, glossary: Glossary | None) -> list[PromptFinding]:
    masked = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), template)
    masked = re.sub(r"```\w*", lambda m: " " * len(m.group(0)), masked)
    terms = {w.upper() for t in (glossary.terms if glossary else []) for w in t.term.split()}
    found, seen = [], set()
    for m in _ABBREVIATION.finditer(masked):
        word = m.group(0)
        bare = word[:-1] if word.endswith("s") and word[:-1].isupper() else word
        if (
            bare in _KNOWN_ABBREVIATIONS
            or bare.lower() in DIALECTS
            or bare in terms
            or bare in seen
            or bare.isdigit()
        ):
            continue
        seen.add(bare)
        explained = re.search(
            rf"\b{bare}s?\b\s*(\(|means|stands for|=|:|is short for)|\([^)]*\b{bare}\b[^)]*\)",
            template,
        )
        if explained:
            continue
        found.append(
            PromptFinding(
                "abbreviation",
                m.start(),
                m.end(),
                word,
                f"'{bare}' is not explained in the prompt or the glossary.",
                f"{bare} (write out what it stands for)",
            )
        )
    return found


def check_prompt(
    template: str,
    *,
    schema: Schema | None = None,
    glossary: Glossary | None = None,
    dialect_name: str | None = None,
) -> list[PromptFinding]:
    """Every rule's findings for `template`, in the order of their spans.

    `dialect_name` is the connection's ("MariaDB"); `schema` enables the check of
    table and column names.
    """
    found = (
        _placeholders(template)
        + _dialect(template, dialect_name)
        + _format(template)
        + _contradictions(template)
        + _vague(template, glossary)
        + _abbreviations(template, glossary)
        + (_unknown_names(template, schema) if schema is not None else [])
    )
    return sorted(found, key=lambda f: (f.start, f.kind))


CRITIC_PROMPT = """\
You review prompt templates that instruct a model to translate questions into SQL.
Point out what leaves the model room to guess: contradicting instructions, undefined
vague words, missing information, unclear output format. Placeholders in braces are
filled in later; do not report them.
Answer with a JSON array only, each item {"quote": exact words copied from the template,
"problem": one sentence, "rewrite": the words to put instead}. Answer [] if nothing is wrong.
"""


def critic_findings(
    template: str, client: Any, settings: Settings, *, model: str | None = None
) -> list[PromptFinding]:
    """The model's own review of `template`, each finding marked as the critic's."""
    reply = complete(
        client,
        settings,
        [
            {"role": "system", "content": CRITIC_PROMPT},
            {"role": "user", "content": f"Template:\n<<<\n{template}\n>>>"},
        ],
        model=model,
    )
    items = _json_list(reply.text)
    found = []
    for item in items:
        if not isinstance(item, dict) or not item.get("problem"):
            continue
        quote = str(item.get("quote") or "")
        start = template.find(quote) if quote else -1
        if start < 0 and quote:
            start = template.lower().find(quote.lower())
        end = start + len(quote) if start >= 0 else 0
        found.append(
            PromptFinding(
                "critic",
                max(start, 0),
                end,
                template[start:end] if start >= 0 else quote,
                str(item["problem"]),
                str(item.get("rewrite") or ""),
                (str(item["rewrite"]) if item.get("rewrite") and start >= 0 else None),
                source="critic",
            )
        )
    return found


def _json_list(text: str) -> list:
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
    if fenced:
        body = fenced.group(1)
    start, end = body.find("["), body.rfind("]")
    try:
        data = json.loads(body[start : end + 1]) if start >= 0 and end > start else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, list):
        raise ModelUnavailable(
            "The model's review was not the JSON list it was asked for.",
            hint="Try again, or use a model that follows formats more closely.",
        )
    return data
