"""Runs of an eval set: one or two sides side by side, saved case by case, stoppable.

A side is the offline engine or a prompt version with a model. ``RunJob``
asks every case that has gold SQL, the cases in order and both sides for each
case before the next, through the same path as the Ask page
(``core.evaluate.run_case``: ask, then compare rows with the gold query's).
Each result is saved as it comes, so a run that is stopped, or whose page is
closed, keeps what it did. It runs in a background thread when started with
``start()``; ``stop()`` ends it after the case in hand.

Saved runs are read back with ``load_run`` and ``batches``; ``compare`` puts
two runs' results side by side, the cases where they disagree first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import uuid
from typing import Any

import sqlalchemy as sa

from core.errors import BadInput, QuarryError
from core.evalsets import cases as set_cases
from core.evaluate import CaseResult, run_case
from core.generate_sql import make_client
from core.glossary import Glossary
from core.pricing import cost_usd
from core.prompt import DEFAULT_TEMPLATE
from core.prompts import Version
from core.settings import Settings
from core.target import Target
from db.database import session_scope
from db.models import EvalResult, EvalRun, utcnow

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Side:
    """What answers the questions: the offline engine, or a template sent to a model."""

    label: str
    engine: str = "offline"  # "offline" or "openai"
    template: str = DEFAULT_TEMPLATE
    version_id: int | None = None
    model: str | None = None


OFFLINE = Side(label="offline engine")


def model_side(version: Version, model: str) -> Side:
    return Side(
        label=f"{version.label} · {model}",
        engine="openai",
        template=version.text,
        version_id=version.id,
        model=model,
    )


@dataclasses.dataclass
class Progress:
    total: int = 0
    done: int = 0
    status: str = "pending"  # "pending", "running", "done", "stopped", "failed"
    current: str = ""
    error: str | None = None
    run_ids: list[int] = dataclasses.field(default_factory=list)
    batch: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed")


class RunJob:
    """One or two sides over an eval set against a target."""

    def __init__(
        self,
        set_id: int,
        sides: list[Side],
        target: Target,
        settings: Settings,
        *,
        connection_name: str,
        glossary: Glossary | None = None,
        client: Any = None,
        author: str | None = None,
        store_url: str | None = None,
    ) -> None:
        if not 1 <= len(sides) <= 2:
            raise BadInput("A run compares one or two sides.")
        self.set_id = set_id
        self.sides = sides
        self.target = target
        self.settings = settings
        self.connection_name = connection_name
        self.glossary = glossary
        self.client = client
        self.author = author
        self.store_url = store_url
        self.cases = [c for c in set_cases(set_id, store_url=store_url) if c.sql]
        if not self.cases:
            raise BadInput(
                "The set has no case with gold SQL to run.",
                hint="Cases with only an ambiguity flag count for the question check alone.",
            )
        self.progress = Progress(total=len(self.cases) * len(sides))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> RunJob:
        self._create_runs()
        self._thread = threading.Thread(target=self._work, name="quarry-eval-run", daemon=True)
        self._thread.start()
        return self

    def run(self) -> Progress:
        """Run to the end (or to a stop) in the calling thread."""
        self._create_runs()
        self._work()
        return self.progress

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.progress.finished

    def snapshot(self) -> Progress:
        with self._lock:
            return dataclasses.replace(self.progress, run_ids=list(self.progress.run_ids))

    def _create_runs(self) -> None:
        if self.progress.run_ids:
            return
        batch = uuid.uuid4().hex[:12]
        with session_scope(self.store_url) as session:
            rows = [
                EvalRun(
                    set_id=self.set_id,
                    status="running",
                    connection_name=self.connection_name,
                    engine=side.engine,
                    model=side.model,
                    prompt_version_id=side.version_id,
                    label=side.label,
                    batch=batch,
                    case_count=len(self.cases),
                    author=self.author,
                )
                for side in self.sides
            ]
            session.add_all(rows)
            session.flush()
            self.progress.run_ids = [r.id for r in rows]
        self.progress.batch = batch
        self.progress.status = "running"

    def _work(self) -> None:
        status, error = "done", None
        try:
            client = self.client
            if client is None and any(s.engine != "offline" for s in self.sides):
                client = make_client(self.settings)
            for case in self.cases:
                for side, run_id in zip(self.sides, self.progress.run_ids, strict=True):
                    if self._stop.is_set():
                        status = "stopped"
                        break
                    with self._lock:
                        self.progress.current = f"{side.label}: {case.key}"
                    result = run_case(
                        {"id": case.key, "question": case.question, "sql": case.sql},
                        self.target,
                        self.settings,
                        engine=side.engine,
                        glossary=self.glossary,
                        template=side.template,
                        client=client,
                        model=side.model,
                    )
                    _save_result(run_id, case.sql, result, self.store_url)
                    with self._lock:
                        self.progress.done += 1
                if status == "stopped":
                    break
        except QuarryError as exc:
            status, error = "failed", exc.explanation
        except Exception as exc:  # a broken store or target must end the run, not hang it
            logger.exception("Eval run failed")
            status, error = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        with session_scope(self.store_url) as session:
            for run_id in self.progress.run_ids:
                run = session.get(EvalRun, run_id)
                run.status, run.error, run.finished_at = status, error, utcnow()
        with self._lock:
            self.progress.status, self.progress.error = status, error
            self.progress.current = ""
        logger.info(
            "Eval run batch %s %s after %d steps", self.progress.batch, status, self.progress.done
        )


def _save_result(run_id: int, gold_sql: str | None, result: CaseResult, store_url) -> None:
    with session_scope(store_url) as session:
        session.add(
            EvalResult(
                run_id=run_id,
                case_key=result.id,
                question=result.question,
                gold_sql=gold_sql,
                status=result.status,
                sql=result.sql,
                error=result.error,
                duration_ms=round(result.duration_ms, 1),
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
            )
        )


@dataclasses.dataclass(frozen=True)
class SavedResult:
    key: str
    question: str
    gold_sql: str | None
    status: str
    sql: str | None
    error: str | None
    duration_ms: float
    prompt_tokens: int
    completion_tokens: int


@dataclasses.dataclass
class SavedRun:
    id: int
    set_id: int
    label: str
    engine: str
    model: str | None
    prompt_version_id: int | None
    connection_name: str
    status: str
    created_at: dt.datetime
    batch: str
    case_count: int
    error: str | None
    results: list[SavedResult]

    @property
    def correct(self) -> int:
        return sum(r.status == "correct" for r in self.results)

    @property
    def accuracy(self) -> float:
        """Correct over the cases run, by the rule ``python -m core eval`` uses."""
        return round(self.correct / len(self.results), 4) if self.results else 0.0

    @property
    def mean_latency_ms(self) -> float:
        return sum(r.duration_ms for r in self.results) / len(self.results) if self.results else 0

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.results)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.results)

    def cost_usd(self, settings: Settings) -> float | None:
        if self.engine == "offline":
            return 0.0
        return cost_usd(
            self.model, self.prompt_tokens, self.completion_tokens, settings.model_prices
        )

    def summary(self, settings: Settings) -> dict[str, Any]:
        return {
            "run": self.id,
            "side": self.label,
            "status": self.status,
            "cases": len(self.results),
            "of": self.case_count,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "mean_latency_ms": round(self.mean_latency_ms, 1),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd(settings),
        }


def load_run(run_id: int, *, store_url: str | None = None) -> SavedRun:
    with session_scope(store_url) as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise BadInput(f"There is no eval run {run_id}.")
        rows = session.scalars(
            sa.select(EvalResult).where(EvalResult.run_id == run_id).order_by(EvalResult.id)
        )
        results = [
            SavedResult(
                r.case_key,
                r.question,
                r.gold_sql,
                r.status,
                r.sql,
                r.error,
                r.duration_ms,
                r.prompt_tokens,
                r.completion_tokens,
            )
            for r in rows
        ]
        return SavedRun(
            run.id,
            run.set_id,
            run.label,
            run.engine,
            run.model,
            run.prompt_version_id,
            run.connection_name,
            run.status,
            run.created_at,
            run.batch,
            run.case_count,
            run.error,
            results,
        )


@dataclasses.dataclass(frozen=True)
class Batch:
    """The runs started together: one side, or two compared."""

    batch: str
    created_at: dt.datetime
    set_id: int
    connection_name: str
    run_ids: tuple[int, ...]
    labels: tuple[str, ...]
    status: str


def batches(set_id: int | None = None, *, store_url: str | None = None) -> list[Batch]:
    """Saved runs grouped as they were started, the newest first."""
    with session_scope(store_url) as session:
        query = sa.select(EvalRun).order_by(EvalRun.id)
        if set_id is not None:
            query = query.where(EvalRun.set_id == set_id)
        grouped: dict[str, list[EvalRun]] = {}
        for run in session.scalars(query):
            grouped.setdefault(run.batch, []).append(run)
        found = [
            Batch(
                batch,
                runs[0].created_at,
                runs[0].set_id,
                runs[0].connection_name,
                tuple(r.id for r in runs),
                tuple(r.label for r in runs),
                runs[0].status,
            )
            for batch, runs in grouped.items()
        ]
    return sorted(found, key=lambda b: -b.run_ids[0])


@dataclasses.dataclass(frozen=True)
class Score:
    """How one saved run did, counted in the store without loading its results."""

    run_id: int
    correct: int
    cases: int

    @property
    def accuracy(self) -> float:
        """As ``SavedRun.accuracy``: correct over the cases run."""
        return round(self.correct / self.cases, 4) if self.cases else 0.0


def newest_scores(
    version_ids: list[int], *, store_url: str | None = None
) -> dict[tuple[int, int], Score]:
    """The score of the newest finished run of each prompt version on each eval set,
    keyed by (version id, set id): what is known of a version before it is promoted."""
    if not version_ids:
        return {}
    with session_scope(store_url) as session:
        rows = session.execute(
            sa.select(EvalRun.id, EvalRun.prompt_version_id, EvalRun.set_id)
            .where(EvalRun.prompt_version_id.in_(version_ids), EvalRun.status == "done")
            .order_by(EvalRun.id)
        ).all()
        newest = {(version, set_id): run_id for run_id, version, set_id in rows}
        if not newest:
            return {}
        correct = sa.func.sum(sa.case((EvalResult.status == "correct", 1), else_=0))
        counts = {
            run_id: (int(right or 0), int(cases))
            for run_id, right, cases in session.execute(
                sa.select(EvalResult.run_id, correct, sa.func.count())
                .where(EvalResult.run_id.in_(list(newest.values())))
                .group_by(EvalResult.run_id)
            )
        }
    return {key: Score(run_id, *counts.get(run_id, (0, 0))) for key, run_id in newest.items()}


def promotion_notes(
    candidate: int, promoted: int | None, *, store_url: str | None = None
) -> list[str]:
    """What to know before `candidate` replaces `promoted` in Ask: no eval run yet, or
    a lower accuracy than the promoted version's on the same eval set."""
    scores = newest_scores([v for v in (candidate, promoted) if v is not None], store_url=store_url)
    mine = {set_id: score for (version, set_id), score in scores.items() if version == candidate}
    if not mine:
        return ["This version has not been run over an eval set yet."]
    notes = []
    for set_id, run in sorted(mine.items()):
        theirs = scores.get((promoted, set_id)) if promoted is not None else None
        if theirs is not None and run.accuracy < theirs.accuracy:
            notes.append(
                f"On the eval set of run {run.run_id} it answered {run.correct} of "
                f"{run.cases} ({run.accuracy:.0%}); the version Ask uses answered "
                f"{theirs.correct} of {theirs.cases} ({theirs.accuracy:.0%})."
            )
    return notes


@dataclasses.dataclass(frozen=True)
class Comparison:
    key: str
    question: str
    gold_sql: str | None
    a: SavedResult | None
    b: SavedResult | None

    @property
    def disagree(self) -> bool:
        status_a = self.a.status if self.a else None
        status_b = self.b.status if self.b else None
        return status_a != status_b


def compare(a: SavedRun, b: SavedRun) -> list[Comparison]:
    """Both runs' results case by case, the cases where the two disagree first."""
    by_key_a = {r.key: r for r in a.results}
    by_key_b = {r.key: r for r in b.results}
    rows = []
    for key in dict.fromkeys([r.key for r in a.results] + [r.key for r in b.results]):
        first, second = by_key_a.get(key), by_key_b.get(key)
        shown = first or second
        rows.append(Comparison(key, shown.question, shown.gold_sql, first, second))
    return sorted(rows, key=lambda row: not row.disagree)
