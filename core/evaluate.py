"""Execution accuracy: run a predicted query and a gold query, compare their rows.

Two queries agree when their rows are equal as multisets (in order only when
the gold query both orders and limits), numbers within 1e-6 relative, with
the gold columns found among the predicted ones in any order; extra predicted
columns are allowed. Comparing results, not SQL text, accepts every correct
way of writing a query.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from core.ask import AskResult, ask, run_sql
from core.errors import BadInput
from core.glossary import Glossary
from core.prompt import DEFAULT_TEMPLATE
from core.settings import Settings
from core.target import Target

REL_TOL = 1e-6
EVAL_ROW_CAP = 100_000
MAX_ASSIGNMENTS = 5000


def _norm(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, decimal.Decimal)):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def _key(value: Any) -> tuple:
    if value is None:
        return (0, "")
    if isinstance(value, float):
        return (1, float(f"{value:.6g}"))
    return (2, str(value))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)
    if isinstance(a, float) or isinstance(b, float):
        # a number stored as text on one side: compare as numbers when both read as such
        try:
            return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return a == b


def _rows_equal(gold: list[tuple], pred: list[tuple], ordered: bool) -> bool:
    if len(gold) != len(pred):
        return False
    if not ordered:
        gold = sorted(gold, key=lambda r: tuple(_key(v) for v in r))
        pred = sorted(pred, key=lambda r: tuple(_key(v) for v in r))
    return all(
        all(_same(a, b) for a, b in zip(g, p, strict=True)) for g, p in zip(gold, pred, strict=True)
    )


def results_match(
    gold_rows: Sequence[Sequence[Any]], pred_rows: Sequence[Sequence[Any]], *, ordered: bool = False
) -> bool:
    """True when the predicted rows hold the gold rows (see the module docstring).

    >>> results_match([(1, "a")], [("a", 1.0000001, "extra")])
    True
    >>> results_match([(1,), (2,)], [(2,), (1,)], ordered=True)
    False
    """
    gold = [tuple(_norm(v) for v in row) for row in gold_rows]
    pred = [tuple(_norm(v) for v in row) for row in pred_rows]
    if len(gold) != len(pred):
        return False
    if not gold:
        return True
    k, m = len(gold[0]), len(pred[0])
    if k > m:
        return False
    gold_columns = [sorted((r[i] for r in gold), key=_key) for i in range(k)]
    pred_columns = [sorted((r[j] for r in pred), key=_key) for j in range(m)]
    options = [
        [
            j
            for j in range(m)
            if all(_same(a, b) for a, b in zip(gold_columns[i], pred_columns[j], strict=True))
        ]
        for i in range(k)
    ]
    if any(not o for o in options):
        return False
    for count, assignment in enumerate(itertools.product(*options)):
        if count >= MAX_ASSIGNMENTS:
            break
        if len(set(assignment)) < k:
            continue
        projected = [tuple(row[j] for j in assignment) for row in pred]
        if _rows_equal(gold, projected, ordered):
            return True
    return False


def is_ordered(sql: str, dialect: str) -> bool:
    """True when the query's outermost level both orders and limits."""
    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except sqlglot.errors.ParseError:
        return False
    return bool(tree.args.get("order")) and isinstance(tree.args.get("limit"), exp.Limit)


def load_jsonl(path: str | Path, required: str, shape: str) -> list[dict[str, Any]]:
    """Objects from a JSONL file, each with key `required`; a bad line is named by number."""
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"No cases file at {file}.", hint="Give the path of a .jsonl file.")
    return parse_jsonl(file.read_text(encoding="utf-8"), file.name, required, shape)


def parse_jsonl(text: str, name: str, required: str, shape: str) -> list[dict[str, Any]]:
    """Objects from JSONL text (an upload, say) named `name` in messages."""
    cases = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"Line {number} of {name} is not JSON: {exc.msg}.",
                hint="Each line must be one JSON object.",
            ) from None
        if not isinstance(case, dict) or required not in case:
            raise BadInput(
                f"Line {number} of {name} has no '{required}'.", hint=f"Each case is {shape}."
            )
        case.setdefault("id", f"line{number}")
        cases.append(case)
    return cases


CASE_SHAPE = '{"id", "question", "sql"} (and optionally "ambiguous": true or false)'


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Question cases: {"id", "question", "sql"} (and optionally "ambiguous")."""
    cases = load_jsonl(path, "question", CASE_SHAPE)
    for number, case in enumerate(cases, start=1):
        if "ambiguous" in case and not isinstance(case["ambiguous"], bool | None):
            raise BadInput(
                f"Case {number} of {path} has 'ambiguous': {case['ambiguous']!r}.",
                hint="Use true or false.",
            )
    return cases


def load_guard_cases(path: str | Path) -> list[dict[str, Any]]:
    """Guard cases: {"id", "sql", "verdict"}."""
    return load_jsonl(path, "sql", '{"id", "sql", "verdict": "allow" or "reject"}')


@dataclasses.dataclass
class CaseResult:
    id: str
    question: str
    status: str  # "correct", "wrong", "declined" or "error"
    sql: str | None
    error: str | None
    duration_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "sql": self.sql, "error": self.error}


@dataclasses.dataclass
class EvalReport:
    results: list[CaseResult]

    @property
    def cases(self) -> int:
        return len(self.results)

    @property
    def answered(self) -> int:
        return sum(r.status in ("correct", "wrong") for r in self.results)

    @property
    def correct(self) -> int:
        return sum(r.status == "correct" for r in self.results)

    @property
    def accuracy(self) -> float:
        return round(self.correct / self.cases, 4) if self.cases else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "answered": self.answered,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "results": [r.to_json() for r in self.results],
        }


def judge(
    case: dict[str, Any], predicted: AskResult, target: Target, settings: Settings
) -> CaseResult:
    """Compare one prediction with the case's gold query."""
    base = dict(
        id=str(case["id"]),
        question=case["question"],
        sql=predicted.sql,
        duration_ms=predicted.duration_ms,
        prompt_tokens=predicted.prompt_tokens,
        completion_tokens=predicted.completion_tokens,
    )
    if predicted.status in ("declined", "no_sql"):
        return CaseResult(status="declined", error=predicted.error, **base)
    if not predicted.ok:
        return CaseResult(status="error", error=predicted.error, **base)
    gold = run_sql(case["sql"], target, settings, row_cap=EVAL_ROW_CAP)
    if not gold.ok:
        return CaseResult(status="error", error=f"The gold query failed: {gold.error}", **base)
    if gold.truncated or predicted.truncated:
        return CaseResult(
            status="error", error="A result has more rows than evaluation compares.", **base
        )
    ordered = is_ordered(case["sql"], target.dialect)
    matched = results_match(gold.rows, predicted.rows, ordered=ordered)
    return CaseResult(
        status="correct" if matched else "wrong",
        error=None if matched else "The rows differ from the gold query's.",
        **base,
    )


def evaluate(
    cases: Iterable[dict[str, Any]],
    target: Target,
    settings: Settings,
    *,
    engine: str = "offline",
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    client: Any = None,
    model: str | None = None,
    on_result: Callable[[int, CaseResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvalReport:
    """Run every case that has a gold query and judge it."""
    results: list[CaseResult] = []
    for index, case in enumerate(c for c in cases if c.get("sql")):
        if should_stop is not None and should_stop():
            break
        result = run_case(
            case,
            target,
            settings,
            engine=engine,
            glossary=glossary,
            template=template,
            client=client,
            model=model,
        )
        results.append(result)
        if on_result is not None:
            on_result(index, result)
    return EvalReport(results)


def run_case(
    case: dict[str, Any],
    target: Target,
    settings: Settings,
    *,
    engine: str = "offline",
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    client: Any = None,
    model: str | None = None,
) -> CaseResult:
    """Ask one case's question the way the Ask page would, and judge the answer."""
    predicted = ask(
        case["question"],
        target,
        settings,
        engine=engine,
        glossary=glossary,
        template=template,
        client=client,
        model=model,
        row_cap=EVAL_ROW_CAP,
    )
    return judge(case, predicted, target, settings)


def ambiguity_report(
    cases: Iterable[dict[str, Any]],
    target: Target,
    *,
    glossary: Glossary | None = None,
    today: dt.date | None = None,
) -> dict[str, Any] | None:
    """How the question check does on the cases that carry ``"ambiguous"``; None if none do.

    ``flagged`` counts every case the check flagged, ``missed`` the ambiguous
    ones it did not, ``false_alarms`` the clear ones it flagged; ``recall`` is
    over the ambiguous cases, ``false_alarm_rate`` over the clear ones.
    """
    from core.ambiguity import check_target

    judged = []
    for case in cases:
        if not isinstance(case.get("ambiguous"), bool):
            continue
        check = check_target(case["question"], target, glossary=glossary, today=today)
        judged.append((case, not check.clear, check))
    if not judged:
        return None
    ambiguous = [flag for case, flag, _ in judged if case["ambiguous"]]
    clear = [flag for case, flag, _ in judged if not case["ambiguous"]]
    missed = sum(not flag for flag in ambiguous)
    false_alarms = sum(clear)
    return {
        "cases": len(judged),
        "flagged": sum(flag for _, flag, _ in judged),
        "missed": missed,
        "false_alarms": false_alarms,
        "recall": round((len(ambiguous) - missed) / len(ambiguous), 4) if ambiguous else None,
        "false_alarm_rate": round(false_alarms / len(clear), 4) if clear else None,
        "results": [
            {
                "id": case["id"],
                "ambiguous": case["ambiguous"],
                "flagged": flag,
                "findings": [f"{f.kind}: {f.message}" for f in check.findings],
            }
            for case, flag, check in judged
        ],
    }
