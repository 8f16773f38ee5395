"""Training runs kept in the store: their curves, hyperparameters, name and source.

A run's series go into one compressed numpy archive per run (``pack_series``),
so a 6,687-step log is one row and loading it is one read; listing runs reads
only the small columns. Hyperparameters are what the file stated, overlaid by
what the user entered: ``learning_rate`` or ``learning_rate_multiplier``,
``epochs``, ``batch_size``, ``gradient_accumulation_steps`` and ``base_model``
(see ``HYPERPARAMETERS``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import orm

from core.errors import BadInput
from core.lossrun import Run, Series
from db.database import session_scope
from db.models import TrainingRun, utcnow

logger = logging.getLogger(__name__)

_MYSQL_PACKET_TOO_LARGE = 1153


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    key: str
    label: str
    kind: type
    help: str


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "learning_rate", "Learning rate", float, "Peak learning rate of a run you trained."
    ),
    Hyperparameter(
        "learning_rate_multiplier",
        "Learning-rate multiplier",
        float,
        "OpenAI fine-tuning scales its own base learning rate by this.",
    ),
    Hyperparameter("epochs", "Epochs", int, "Passes over the training data."),
    Hyperparameter("batch_size", "Batch size", int, "Examples per device per step."),
    Hyperparameter(
        "gradient_accumulation_steps",
        "Gradient accumulation",
        int,
        "Batches summed into one optimizer step; runs that differ here differ per step.",
    ),
    Hyperparameter("base_model", "Base model", str, "The model that was fine-tuned."),
)
_BY_KEY = {h.key: h for h in HYPERPARAMETERS}


@dataclasses.dataclass(frozen=True)
class SavedRun:
    """A stored run as a list shows it; ``load_run`` reads its curves."""

    id: int
    name: str
    source: str
    format: str
    author: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    points: int
    series: list[str]
    hyperparameters: dict[str, Any]
    job_id: str | None
    job_status: str | None

    @property
    def label(self) -> str:
        return f"{self.name} (#{self.id}, {self.points:,} points)"


def stated_hyperparameters(run: Run) -> dict[str, Any]:
    """The form's starting values: what the log itself says, under the canonical keys."""
    stated = run.hyperparameters
    found: dict[str, Any] = {}
    rate = stated.get("learning_rate", stated.get("peak_learning_rate"))
    if rate is not None:
        found["learning_rate"] = rate
    for key in _BY_KEY:
        if key != "learning_rate" and stated.get(key) is not None:
            found[key] = stated[key]
    done = stated.get("epochs_done")
    if "epochs" not in found and done and abs(done - round(done)) < 0.05:
        found["epochs"] = round(done)  # a finished run's epochs, read off its curve
    return clean_hyperparameters(found)


def clean_hyperparameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """Entered values checked and typed; empty ones dropped. Raises BadInput naming the field."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        spec = _BY_KEY.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if spec is None:
            clean[key] = _json_safe(value)
            continue
        if spec.kind is str:
            clean[key] = str(value).strip()
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise BadInput(
                f"{spec.label} must be a number, not {value!r}.", hint=spec.help
            ) from None
        if not math.isfinite(number) or number <= 0:
            raise BadInput(
                f"{spec.label} must be a positive number, not {value!r}.", hint=spec.help
            )
        if spec.kind is int and not number.is_integer():
            raise BadInput(f"{spec.label} must be a whole number, not {value!r}.", hint=spec.help)
        clean[key] = int(number) if spec.kind is int else number
    return clean


def pack_series(series: Mapping[str, Series]) -> bytes:
    """Every series in one compressed numpy archive, in order, without pickles."""
    arrays: dict[str, np.ndarray] = {}
    manifest = []
    for number, (name, s) in enumerate(series.items()):
        arrays[f"s{number}_steps"] = np.asarray(s.steps, dtype=np.int64)
        arrays[f"s{number}_values"] = np.asarray(s.values, dtype=np.float64)
        for part in ("epochs", "times"):
            column = getattr(s, part)
            if column is not None:
                arrays[f"s{number}_{part}"] = np.asarray(column, dtype=np.float64)
        manifest.append(name)
    arrays["manifest"] = np.array(json.dumps(manifest))
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def unpack_series(data: bytes) -> dict[str, Series]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        names = json.loads(str(archive["manifest"]))
        present = set(archive.files)
        series = {}
        for number, name in enumerate(names):
            extra = {
                part: archive[f"s{number}_{part}"]
                for part in ("epochs", "times")
                if f"s{number}_{part}" in present
            }
            series[name] = Series(
                name=name,
                steps=archive[f"s{number}_steps"],
                values=archive[f"s{number}_values"],
                **extra,
            )
    return series


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_json_safe(value), allow_nan=False, ensure_ascii=False)


def save_run(
    run: Run,
    *,
    name: str,
    hyperparameters: Mapping[str, Any] | None = None,
    author: str | None = None,
    job_id: str | None = None,
    job_status: str | None = None,
    store_url: str | None = None,
) -> int:
    """Save a run with the file's hyperparameters overlaid by `hyperparameters`; returns its id."""
    name = name.strip()
    if not name:
        raise BadInput("A run needs a name.", hint="Name it after the model and what was tried.")
    merged = {**run.hyperparameters, **clean_hyperparameters(hyperparameters or {})}
    curves = pack_series(run.series)
    with _writing(len(curves)), session_scope(store_url) as session:
        row = TrainingRun(
            name=name[:200],
            source=run.source[:1000],
            format=run.format,
            author=author,
            job_id=job_id,
            job_status=job_status,
        )
        _fill(row, run, merged, curves)
        row.created_at = row.updated_at
        session.add(row)
        session.flush()
        logger.info("Saved training run %s (#%d, %d points)", name, row.id, run.points)
        return row.id


def _fill(row: TrainingRun, run: Run, hyperparameters: Mapping[str, Any], curves: bytes) -> None:
    row.points = run.points
    row.series_names = _dumps(list(run.series))
    row.hyperparameters = _dumps(dict(hyperparameters))
    row.warnings = _dumps(list(run.warnings))
    row.summary = _dumps(dict(run.summary))
    row.curves = curves
    row.updated_at = utcnow()


def update_run(
    run_id: int,
    run: Run,
    *,
    job_status: str | None = None,
    store_url: str | None = None,
) -> None:
    """Replace a saved run's curves (a followed job's new metrics).

    Hyperparameters the new run states replace the saved ones; the others stay.
    """
    curves = pack_series(run.series)
    with _writing(len(curves)), session_scope(store_url) as session:
        row = session.get(TrainingRun, run_id)
        if row is None:
            raise _missing(run_id)
        entered = json.loads(row.hyperparameters)
        _fill(row, run, {**entered, **run.hyperparameters}, curves)
        if job_status is not None:
            row.job_status = job_status


def set_hyperparameters(
    run_id: int, values: Mapping[str, Any], *, store_url: str | None = None
) -> None:
    """Overlay entered hyperparameters on a saved run."""
    clean = clean_hyperparameters(values)
    with session_scope(store_url) as session:
        row = session.get(TrainingRun, run_id)
        if row is None:
            raise _missing(run_id)
        row.hyperparameters = _dumps({**json.loads(row.hyperparameters), **clean})
        row.updated_at = utcnow()


@contextlib.contextmanager
def _writing(curves: int) -> Iterator[None]:
    """A store that refuses the row for its size says so, and which setting lifts the limit."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        if code != _MYSQL_PACKET_TOO_LARGE:
            raise
        raise BadInput(
            f"The run's curves take {curves / 1e6:.1f} MB, more than the store's server takes in "
            "one statement.",
            hint="Raise max_allowed_packet on the store's MySQL/MariaDB server, or save a log "
            "with fewer points.",
        ) from None


def _missing(run_id: int) -> BadInput:
    return BadInput(
        f"There is no saved training run #{run_id}.",
        hint="It may have been deleted; pick another from the list.",
    )


def _saved(row: TrainingRun) -> SavedRun:
    return SavedRun(
        id=row.id,
        name=row.name,
        source=row.source,
        format=row.format,
        author=row.author,
        created_at=row.created_at,
        updated_at=row.updated_at,
        points=row.points,
        series=json.loads(row.series_names),
        hyperparameters=json.loads(row.hyperparameters),
        job_id=row.job_id,
        job_status=row.job_status,
    )


def list_runs(
    *, author: str | None = None, limit: int = 200, store_url: str | None = None
) -> list[SavedRun]:
    """Saved runs, newest first, without their curves."""
    with session_scope(store_url) as session:
        query = sa.select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)
        if author is not None:
            query = query.where(TrainingRun.author == author)
        return [_saved(r) for r in session.scalars(query)]


def find_job_run(job_id: str, *, store_url: str | None = None) -> SavedRun | None:
    """The saved run that follows an OpenAI fine-tuning job, if there is one."""
    with session_scope(store_url) as session:
        row = session.scalars(
            sa.select(TrainingRun).where(TrainingRun.job_id == job_id).order_by(TrainingRun.id)
        ).first()
        return _saved(row) if row is not None else None


def load_run(run_id: int, *, store_url: str | None = None) -> Run:
    """A saved run with its curves; its ``source`` is the saved name, which charts show."""
    with session_scope(store_url) as session:
        row = session.get(TrainingRun, run_id, options=[orm.undefer(TrainingRun.curves)])
        if row is None:
            raise _missing(run_id)
        return Run(
            format=row.format,
            series=unpack_series(row.curves),
            hyperparameters=json.loads(row.hyperparameters),
            warnings=json.loads(row.warnings),
            source=row.name,
            summary=json.loads(row.summary),
        )


def delete_run(run_id: int, *, store_url: str | None = None) -> None:
    with session_scope(store_url) as session:
        session.execute(sa.delete(TrainingRun).where(TrainingRun.id == run_id))
    logger.info("Deleted training run #%d", run_id)
