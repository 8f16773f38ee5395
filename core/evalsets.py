"""Eval sets in the store: questions with gold SQL and, optionally, an ambiguity flag.

A set is imported from and exported to JSONL in the format ``python -m core
eval`` reads (``{"id", "question", "sql", "ambiguous"}``), so a set can move
between the Prompt lab and the command line. A run marked good in the Ask
history becomes a case with one call.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import sqlalchemy as sa

from core.errors import BadInput
from core.evaluate import CASE_SHAPE, parse_jsonl
from db.database import session_scope
from db.models import EvalCase, EvalSet, QueryRun

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SetInfo:
    id: int
    name: str
    description: str
    cases: int


@dataclasses.dataclass(frozen=True)
class Case:
    id: int
    key: str
    question: str
    sql: str | None
    ambiguous: bool | None
    note: str
    source: str

    def to_json(self) -> dict[str, Any]:
        """The case as ``python -m core eval`` reads it."""
        data: dict[str, Any] = {"id": self.key, "question": self.question}
        if self.sql:
            data["sql"] = self.sql
        if self.ambiguous is not None:
            data["ambiguous"] = self.ambiguous
        if self.note:
            data["note"] = self.note
        return data


def _case(row: EvalCase) -> Case:
    return Case(
        row.id, row.case_key, row.question, row.gold_sql, row.ambiguous, row.note, row.source
    )


def create_set(name: str, description: str = "", *, store_url: str | None = None) -> SetInfo:
    name = name.strip()
    if not name:
        raise BadInput("An eval set needs a name.")
    with session_scope(store_url) as session:
        exists = session.scalars(sa.select(EvalSet).where(EvalSet.name == name)).first()
        if exists is not None:
            raise BadInput(f"There is already an eval set named '{name}'.", hint="Pick another.")
        row = EvalSet(name=name, description=description.strip())
        session.add(row)
        session.flush()
        return SetInfo(row.id, row.name, row.description, 0)


def sets(*, store_url: str | None = None) -> list[SetInfo]:
    with session_scope(store_url) as session:
        counts = dict(
            session.execute(
                sa.select(EvalCase.set_id, sa.func.count()).group_by(EvalCase.set_id)
            ).all()
        )
        rows = session.scalars(sa.select(EvalSet).order_by(EvalSet.name))
        return [SetInfo(r.id, r.name, r.description, counts.get(r.id, 0)) for r in rows]


def get_set(set_id: int, *, store_url: str | None = None) -> SetInfo:
    for found in sets(store_url=store_url):
        if found.id == set_id:
            return found
    raise BadInput(f"There is no eval set {set_id}.")


def delete_set(set_id: int, *, store_url: str | None = None) -> None:
    with session_scope(store_url) as session:
        session.execute(sa.delete(EvalCase).where(EvalCase.set_id == set_id))
        session.execute(sa.delete(EvalSet).where(EvalSet.id == set_id))


def cases(set_id: int, *, store_url: str | None = None) -> list[Case]:
    with session_scope(store_url) as session:
        rows = session.scalars(
            sa.select(EvalCase).where(EvalCase.set_id == set_id).order_by(EvalCase.position)
        )
        return [_case(r) for r in rows]


def add_case(
    set_id: int,
    question: str,
    sql: str | None = None,
    *,
    ambiguous: bool | None = None,
    key: str | None = None,
    note: str = "",
    source: str = "manual",
    store_url: str | None = None,
) -> Case:
    """Append one case; it needs a question and gold SQL or an ambiguity flag."""
    question = (question or "").strip()
    sql = (sql or "").strip() or None
    if not question:
        raise BadInput("A case needs a question.")
    if sql is None and ambiguous is None:
        raise BadInput(
            f"The case '{question[:60]}' has neither gold SQL nor an 'ambiguous' flag.",
            hint="Give the SQL that answers it, or mark it ambiguous true or false.",
        )
    with session_scope(store_url) as session:
        if session.get(EvalSet, set_id) is None:
            raise BadInput(f"There is no eval set {set_id}.")
        taken = session.scalars(sa.select(EvalCase.case_key).where(EvalCase.set_id == set_id))
        keys = set(taken)
        position = len(keys)
        key = (key or "").strip() or f"case{position + 1}"
        if key in keys:
            raise BadInput(f"The set already has a case '{key}'.", hint="Give it another id.")
        row = EvalCase(
            set_id=set_id,
            position=position,
            case_key=key,
            question=question,
            gold_sql=sql,
            ambiguous=ambiguous,
            note=note,
            source=source,
        )
        session.add(row)
        session.flush()
        return _case(row)


def import_jsonl(set_id: int, text: str, *, name: str = "the file", store_url: str | None = None):
    """Add every case of JSONL `text` to the set; nothing is added when a line is bad."""
    parsed = parse_jsonl(text, name, "question", CASE_SHAPE)
    existing = {c.key for c in cases(set_id, store_url=store_url)}
    for number, case in enumerate(parsed, start=1):
        flag = case.get("ambiguous")
        if flag is not None and not isinstance(flag, bool):
            raise BadInput(
                f"Case {number} of {name} has 'ambiguous': {flag!r}.", hint="Use true or false."
            )
        if not case.get("sql") and flag is None:
            raise BadInput(
                f"Case {number} of {name} has neither 'sql' nor 'ambiguous'.",
                hint=f"Each case is {CASE_SHAPE}.",
            )
        if str(case["id"]) in existing:
            raise BadInput(
                f"Case {number} of {name} has the id '{case['id']}', which the set already has.",
                hint="Give each case its own id.",
            )
        existing.add(str(case["id"]))
    added = [
        add_case(
            set_id,
            str(case["question"]),
            case.get("sql"),
            ambiguous=case.get("ambiguous"),
            key=str(case["id"]),
            note=str(case.get("note", "")),
            source="import",
            store_url=store_url,
        )
        for case in parsed
    ]
    logger.info("Imported %d cases into eval set %d", len(added), set_id)
    return added


def export_jsonl(set_id: int, *, store_url: str | None = None) -> str:
    """The set as JSONL, one case a line, as ``python -m core eval --cases`` reads it."""
    return "".join(
        json.dumps(c.to_json(), ensure_ascii=False) + "\n"
        for c in cases(set_id, store_url=store_url)
    )


def add_from_history(set_id: int, run_id: int, *, store_url: str | None = None) -> Case:
    """A history run marked good becomes a case: its question, its SQL as the gold."""
    with session_scope(store_url) as session:
        run = session.get(QueryRun, run_id)
        if run is None:
            raise BadInput(f"There is no history run {run_id}.")
        if not (run.marked_good and run.status == "ok" and run.sql and run.question):
            raise BadInput(
                "Only a run that asked a question, ran, and was marked good becomes a case.",
                hint="Mark the run as a good answer on the Ask page first.",
            )
        question, sql = run.question, run.sql
    return add_case(
        set_id, question, sql, key=f"history{run_id}", source="history", store_url=store_url
    )
