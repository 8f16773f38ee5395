"""One question, start to finish: generate, check, run, and report.

    question → SQL (a model, or the offline engine) → guard → read-only run → AskResult

Every outcome, failures included, is an ``AskResult`` with a ``status``:
``ok``, ``declined`` (the offline engine cannot answer), ``no_sql`` (the model
answered in words), ``rejected`` (the guard refused the SQL), ``error`` (the
database refused it), ``timeout``, ``model_error`` or ``connection_error``.
The Ask page, the CLI, evaluation and training data all go through here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import logging
import time
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from core import offline_engine
from core.context import SchemaContext, select_context
from core.errors import (
    BadInput,
    ConnectionFailed,
    Declined,
    ModelUnavailable,
    NoSQLInAnswer,
    QuarryError,
    QueryFailed,
    QueryTimeout,
    UnsafeSQL,
)
from core.execute import QueryResult, run_query
from core.extract_sql import extract_sql
from core.generate_sql import complete, make_client
from core.glossary import Glossary
from core.guard import CheckedSQL, check_sql
from core.prompt import DEFAULT_TEMPLATE, Example, render, repair_message
from core.settings import Settings
from core.target import Target
from core.tokens import count_tokens

logger = logging.getLogger(__name__)

ENGINES = ("offline", "openai")
MAX_QUESTION = 1000  # characters; a longer text is a document, not a question

_STATUS = (
    (Declined, "declined"),
    (NoSQLInAnswer, "no_sql"),
    (UnsafeSQL, "rejected"),
    (QueryTimeout, "timeout"),
    (QueryFailed, "error"),
    (ModelUnavailable, "model_error"),
    (ConnectionFailed, "connection_error"),
)


def status_of(error: QuarryError) -> str:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return "error"


@dataclasses.dataclass
class AskResult:
    question: str
    engine: str
    status: str = "ok"
    sql: str | None = None
    columns: list[str] = dataclasses.field(default_factory=list)
    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    truncated: bool = False
    duration_ms: float = 0.0
    error: str | None = None
    hint: str | None = None
    answer_text: str | None = None  # the model's words, when it gave no SQL
    reading: str | None = None  # how the offline engine read the question
    limit_note: str = ""
    attempts: list[dict[str, str]] = dataclasses.field(default_factory=list)
    type_codes: list[Any] = dataclasses.field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    row_cap: int = 0
    context_note: str = ""
    tie_note: str = ""  # the one row of "LIMIT 1" shares its top value with another

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def fail(self, error: QuarryError) -> AskResult:
        self.status = status_of(error)
        self.error = error.message
        self.hint = error.hint
        if isinstance(error, NoSQLInAnswer):
            self.answer_text = error.answer
        return self

    def to_json(self) -> dict[str, Any]:
        """The CLI's shape: question, sql, engine, columns, rows, row_count, truncated, error."""
        return {
            "question": self.question,
            "sql": self.sql,
            "engine": self.engine,
            "status": self.status,
            "columns": self.columns,
            "rows": [[json_value(v) for v in row] for row in self.rows],
            "row_count": self.row_count,
            "truncated": self.truncated,
            "error": self.error,
            "hint": self.hint,
            "tie_note": self.tie_note or None,
            "answer_text": self.answer_text,
        }


def json_value(value: Any) -> Any:
    """A value as JSON can hold it: exact decimals as numbers, dates as ISO text."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, float) and value != value:
        return None
    return value


def _execute(checked: CheckedSQL, target: Target, settings: Settings, row_cap: int) -> QueryResult:
    return run_query(
        target.engine,
        checked.exec_sql,
        server=target.server,
        row_cap=row_cap,
        timeout_s=settings.query_timeout_s,
    )


def _fill(result: AskResult, checked: CheckedSQL, ran: QueryResult) -> AskResult:
    result.sql = checked.sql
    result.columns = ran.columns
    result.rows = ran.rows
    result.truncated = ran.truncated
    result.type_codes = ran.type_codes
    result.limit_note = checked.limit_note
    result.status = "ok"
    result.error = result.hint = None
    return result


def run_sql(
    sql: str,
    target: Target,
    settings: Settings,
    *,
    question: str = "",
    engine: str = "manual",
    row_cap: int | None = None,
) -> AskResult:
    """Check and run SQL written (or edited) by hand."""
    started = time.perf_counter()
    cap = row_cap or settings.row_limit
    result = AskResult(question=question, engine=engine, sql=sql, row_cap=cap)
    try:
        checked = check_sql(sql, target.schema, dialect=target.dialect, row_cap=cap)
        result.sql = checked.sql
        _fill(result, checked, _execute(checked, target, settings, cap))
    except QuarryError as exc:
        result.fail(exc)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def ask(
    question: str,
    target: Target,
    settings: Settings,
    *,
    engine: str = "offline",
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    examples: list[Example] | None = None,
    client: Any = None,
    model: str | None = None,
    row_cap: int | None = None,
) -> AskResult:
    """Answer `question` on `target` with the offline engine or a model."""
    started = time.perf_counter()
    cap = row_cap or settings.row_limit
    label = engine if engine == "offline" else f"openai:{model or settings.model}"
    result = AskResult(question=question, engine=label, row_cap=cap)
    if len(question) > MAX_QUESTION:
        return result.fail(
            BadInput(
                f"The question is {len(question):,} characters long; Quarry reads questions "
                f"of up to {MAX_QUESTION:,}.",
                hint="Ask it in fewer words, or write the SQL yourself.",
            )
        )
    try:
        if engine == "offline":
            _ask_offline(result, target, settings, glossary, cap)
        else:
            _ask_model(result, target, settings, glossary, template, examples, client, model, cap)
    except QuarryError as exc:
        result.fail(exc)
    except RecursionError:
        # A question (or a model's SQL) nested beyond what the parser can follow.
        result.fail(
            BadInput(
                "The question or its SQL is nested too deeply to read.",
                hint="Ask it in simpler parts.",
            )
        )
    if result.ok and result.row_count == 1 and result.sql:
        result.tie_note = tie_note(result.sql, result.columns, target, settings)
    result.duration_ms = (time.perf_counter() - started) * 1000
    logger.info(
        "Asked %r with %s: %s, %d rows in %.0f ms",
        question[:80],
        label,
        result.status,
        result.row_count,
        result.duration_ms,
    )
    return result


def reads_same_tables(edited: str, original: str | None, dialect: str) -> bool:
    """Whether a hand edit of `original` still reads one of its tables: then it answers
    the same question better; otherwise it is a new query and keeps no question."""
    if not original:
        return False

    def tables(sql: str) -> set[str]:
        try:
            return {
                t.name.lower() for t in sqlglot.parse_one(sql, read=dialect).find_all(exp.Table)
            }
        except (SqlglotError, RecursionError, AttributeError):
            return set()

    return bool(tables(edited) & tables(original))


def tie_note(sql: str, columns: list[str], target: Target, settings: Settings) -> str:
    """For a query that keeps the first row of an order ("LIMIT 1"), whether the second
    row has the same ordering values: then the one answer shown is one of several.
    Costs one more query of two rows; "" when there is no tie or it cannot be told."""
    try:
        tree = sqlglot.parse_one(sql, read=target.dialect)
    except (SqlglotError, RecursionError):
        return ""
    limit, order = tree.args.get("limit"), tree.args.get("order")
    if (
        not isinstance(tree, exp.Select)
        or limit is None
        or order is None
        or tree.args.get("offset")
    ):
        return ""
    if not (isinstance(limit.expression, exp.Literal) and limit.expression.name == "1"):
        return ""
    positions = []
    for ordered in order.expressions:
        key = ordered.this
        for i, selected in enumerate(tree.selects):
            inner = selected.this if isinstance(selected, exp.Alias) else selected
            by_alias = isinstance(key, exp.Column) and not key.table and key.name == selected.alias
            if by_alias or inner == key:
                positions.append(i)
                break
        else:
            return ""  # ordered by something not shown: a tie could not be read off the rows
    probe = tree.copy()
    probe.set("limit", exp.Limit(expression=exp.Literal.number(2)))
    try:
        checked = check_sql(
            probe.sql(dialect=target.dialect), target.schema, dialect=target.dialect, row_cap=2
        )
        rows = _execute(checked, target, settings, 2).rows
    except QuarryError as exc:
        logger.info("The tie check did not run: %s", exc.message)
        return ""
    if len(rows) == 2 and all(rows[0][p] == rows[1][p] for p in positions):
        names = ", ".join(columns[p] if p < len(columns) else str(p + 1) for p in positions)
        return (
            f"Another row has the same {names}: this answer is one of a tie. "
            "Ask for the top few to see them all."
        )
    return ""


def _ask_offline(
    result: AskResult, target: Target, settings: Settings, glossary: Glossary | None, cap: int
) -> None:
    answer = offline_engine.generate(
        result.question,
        target.schema,
        target.lexicon(glossary),
        target.values(),
        glossary=glossary,
        dialect=target.dialect,
    )
    result.reading = answer.reading
    result.sql = answer.sql
    checked = check_sql(answer.sql, target.schema, dialect=target.dialect, row_cap=cap)
    _fill(result, checked, _execute(checked, target, settings, cap))


@dataclasses.dataclass
class Prompt:
    """The messages a model is sent for one question, and the schema context in them."""

    messages: list[dict[str, str]]
    context: SchemaContext

    @property
    def tokens(self) -> int:
        return sum(count_tokens(m["content"]) for m in self.messages)


def build_prompt(
    question: str,
    target: Target,
    settings: Settings,
    *,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    examples: list[Example] | None = None,
) -> Prompt:
    """The template rendered for `question` on `target`, schema chosen within the budget."""
    context = select_context(
        question,
        target.schema,
        target.lexicon(glossary),
        dialect=target.dialect,
        budget_tokens=settings.context_budget_tokens,
        glossary=glossary,
        values=target.values(),
    )
    messages = render(
        template,
        server=target.server,
        schema_text=context.text,
        question=question,
        glossary=glossary,
        examples=examples,
    )
    return Prompt(messages, context)


def _ask_model(
    result: AskResult,
    target: Target,
    settings: Settings,
    glossary: Glossary | None,
    template: str,
    examples: list[Example] | None,
    client: Any,
    model: str | None,
    cap: int,
) -> None:
    client = client or make_client(settings)
    prompt = build_prompt(
        result.question,
        target,
        settings,
        glossary=glossary,
        template=template,
        examples=examples,
    )
    result.context_note = prompt.context.note
    messages = prompt.messages
    for attempt in range(settings.max_repairs + 1):
        reply = complete(client, settings, messages, model=model)
        result.prompt_tokens += reply.prompt_tokens
        result.completion_tokens += reply.completion_tokens
        sql = extract_sql(reply.text, dialect=target.dialect)
        if sql is None:
            raise NoSQLInAnswer(reply.text)
        result.sql = sql
        try:
            checked = check_sql(sql, target.schema, dialect=target.dialect, row_cap=cap)
            result.sql = checked.sql
            _fill(result, checked, _execute(checked, target, settings, cap))
            return
        except (UnsafeSQL, QueryFailed) as exc:
            result.attempts.append({"sql": sql, "error": exc.message})
            if attempt == settings.max_repairs:
                raise
            messages = messages + [
                {"role": "assistant", "content": reply.text},
                repair_message(sql, exc.message),
            ]
            logger.info("Repair %d of %d after: %s", attempt + 1, settings.max_repairs, exc.message)
