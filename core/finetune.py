"""OpenAI fine-tuning: upload the two files, start a job, list and follow jobs, read metrics.

Everything goes through the client of ``core.generate_sql.make_client``, so
OpenAI and any server speaking its files and fine-tuning API work alike.
``job_run`` turns a job into a ``Run`` for the loss charts: from its result
file once it has one (the CSV OpenAI writes, served base64-encoded), else
from the metric events logged so far, so a running job can be followed.
Every failure of the service becomes a ``QuarryError`` saying what to check.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import io
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import openai

from core.errors import BadInput, LogFormatError, ModelUnavailable
from core.losslog import read_run
from core.lossrun import Points, Run, finish_run, is_number, series_name

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "gpt-4o-mini-2024-07-18"
DEFAULT_EPOCHS = 2
DEFAULT_LR_MULTIPLIER = 0.1
FINISHED = ("succeeded", "failed", "cancelled")
OPENAI_EVENTS = "openai_events"

EPOCHS_HELP = (
    "Passes over the training examples. One or two are often enough for text-to-SQL: more "
    "make the model repeat its training questions instead of reading the schema. If the "
    "validation loss still falls at the end, add one."
)
LR_HELP = (
    "Scales OpenAI's base learning rate. A small value (0.05–0.2) changes the model gently "
    "and gives a loss that settles; if the loss chart fluctuates, lower it; if the loss is "
    "still falling steeply at the end, raise it a little."
)
BATCH_HELP = "Examples per step; 0 lets OpenAI choose from the size of the training file."


@dataclasses.dataclass(frozen=True)
class Job:
    """A fine-tuning job as the service reports it."""

    id: str
    model: str
    status: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    fine_tuned_model: str | None
    hyperparameters: dict[str, Any]
    result_files: list[str]
    training_file: str
    validation_file: str | None
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def label(self) -> str:
        # No status: a list keeps its labels while the job moves on.
        return f"{self.id} · {self.model} · started {self.created_at:%Y-%m-%d %H:%M} UTC"


def _where(client: openai.OpenAI) -> str:
    return str(client.base_url).rstrip("/")


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner.get("message"), str):
            return inner["message"]
    return f"HTTP {exc.status_code}"


@contextlib.contextmanager
def _calling(client: openai.OpenAI, what: str) -> Iterator[None]:
    """Translate the client's failures into errors that say what to do."""
    where = _where(client)
    try:
        yield
    except openai.APITimeoutError:
        raise ModelUnavailable(
            f"{what} at {where} did not answer in time.",
            hint="Try again, or raise QUARRY_MODEL_TIMEOUT_S.",
        ) from None
    except openai.AuthenticationError:
        raise ModelUnavailable(
            f"{what}: the server at {where} refused the API key.",
            hint="Check OPENAI_API_KEY (environment or .streamlit/secrets.toml).",
        ) from None
    except openai.PermissionDeniedError:
        raise ModelUnavailable(
            f"{what}: the API key may not use fine-tuning at {where}.",
            hint="Use a key of a project that has fine-tuning enabled.",
        ) from None
    except openai.NotFoundError as exc:
        raise BadInput(
            f"{what}: {_server_message(exc)}",
            hint="The job or file may belong to another account, or OPENAI_BASE_URL points at "
            "a server without fine-tuning.",
        ) from None
    except openai.RateLimitError:
        raise ModelUnavailable(
            f"{what}: the server at {where} is rate-limiting requests.",
            hint="Wait a moment and try again.",
        ) from None
    except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
        raise BadInput(
            f"{what} was refused: {_server_message(exc)}",
            hint="Fix what the message names (the file, the model or a hyperparameter) and "
            "start again.",
        ) from None
    except openai.APIStatusError as exc:
        raise ModelUnavailable(
            f"{what} failed at {where} ({_server_message(exc)}).",
            hint="Try again later.",
        ) from None
    except openai.APIConnectionError:
        raise ModelUnavailable(
            f"{what}: could not reach {where}.",
            hint="Check OPENAI_BASE_URL and that the server is running.",
        ) from None
    except (openai.APIResponseValidationError, ValueError, TypeError) as exc:
        raise ModelUnavailable(
            f"{what}: {where} answered something that is not a fine-tuning response "
            f"({type(exc).__name__}).",
            hint="Check that OPENAI_BASE_URL points at an OpenAI-compatible /v1 endpoint.",
        ) from None


def _time(stamp: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(stamp, dt.UTC) if stamp else None


def _job(raw: Any) -> Job:
    hyper = raw.hyperparameters
    method = getattr(raw, "method", None)
    supervised = getattr(method, "supervised", None) if method else None
    if supervised is not None and supervised.hyperparameters is not None:
        hyper = supervised.hyperparameters
    stated = {
        "epochs": getattr(hyper, "n_epochs", None),
        "batch_size": getattr(hyper, "batch_size", None),
        "learning_rate_multiplier": getattr(hyper, "learning_rate_multiplier", None),
    }
    return Job(
        id=raw.id,
        model=raw.model,
        status=raw.status,
        created_at=_time(raw.created_at) or dt.datetime.now(dt.UTC),
        finished_at=_time(raw.finished_at),
        fine_tuned_model=raw.fine_tuned_model,
        hyperparameters={k: v for k, v in stated.items() if is_number(v)},
        result_files=list(raw.result_files or []),
        training_file=raw.training_file,
        validation_file=raw.validation_file,
        error=raw.error.message if raw.error is not None and raw.error.message else None,
    )


def upload(client: openai.OpenAI, data: bytes, filename: str) -> str:
    """Upload one JSONL file for fine-tuning; returns its file id."""
    with _calling(client, f"Uploading {filename}"):
        uploaded = client.files.create(file=(filename, io.BytesIO(data)), purpose="fine-tune")
    logger.info("Uploaded %s (%d bytes) as %s", filename, len(data), uploaded.id)
    return uploaded.id


def start_job(
    client: openai.OpenAI,
    *,
    training: bytes,
    validation: bytes | None,
    model: str = DEFAULT_BASE_MODEL,
    epochs: int = DEFAULT_EPOCHS,
    learning_rate_multiplier: float = DEFAULT_LR_MULTIPLIER,
    batch_size: int | None = None,
    suffix: str | None = None,
) -> Job:
    """Upload the train (and validation) JSONL and start a supervised fine-tuning job.

    An empty validation file is left out: the service refuses one.
    """
    if not training.strip():
        raise BadInput(
            "The training file is empty.", hint="Build training data first, then start the job."
        )
    if epochs < 1 or learning_rate_multiplier <= 0 or (batch_size is not None and batch_size < 1):
        raise BadInput(
            "Epochs and batch size must be at least 1 and the multiplier above 0.",
            hint=f"{EPOCHS_HELP} {LR_HELP}",
        )
    training_id = upload(client, training, "quarry-train.jsonl")
    validation_id = (
        upload(client, validation, "quarry-validation.jsonl")
        if validation and validation.strip()
        else None
    )
    hyperparameters: dict[str, Any] = {
        "n_epochs": epochs,
        "learning_rate_multiplier": learning_rate_multiplier,
        "batch_size": batch_size or "auto",
    }
    with _calling(client, f"Starting a fine-tuning job of {model}"):
        raw = client.fine_tuning.jobs.create(
            model=model,
            training_file=training_id,
            validation_file=validation_id,
            suffix=suffix or None,
            method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        )
    job = _job(raw)
    logger.info("Started fine-tuning job %s of %s", job.id, model)
    return job


def list_jobs(client: openai.OpenAI, *, limit: int = 20) -> list[Job]:
    """The account's newest fine-tuning jobs."""
    with _calling(client, "Listing fine-tuning jobs"):
        page = client.fine_tuning.jobs.list(limit=limit)
        return [_job(raw) for raw in page.data]


def get_job(client: openai.OpenAI, job_id: str) -> Job:
    job_id = job_id.strip()
    if not job_id:
        raise BadInput("No job id given.", hint="Pick a job from the list, or paste its id.")
    with _calling(client, f"Reading fine-tuning job {job_id}"):
        return _job(client.fine_tuning.jobs.retrieve(job_id))


def metric_events(client: openai.OpenAI, job_id: str) -> list[dict[str, Any]]:
    """The data of every metrics event of a job, oldest first (the service lists newest first)."""
    with _calling(client, f"Reading the events of job {job_id}"):
        events = list(client.fine_tuning.jobs.list_events(job_id, limit=100))
    data = [e.data for e in events if e.type == "metrics" and isinstance(e.data, dict)]
    return list(reversed(data))


def result_csv(data: bytes) -> bytes:
    """A result file's CSV: OpenAI serves it base64-encoded, other servers may not."""
    if data.lstrip().lower().startswith(b"step"):
        return data
    try:
        decoded = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        decoded = b""
    if decoded.lstrip().lower().startswith(b"step"):
        return decoded
    raise LogFormatError(
        "The job's result file is neither a metrics CSV nor base64 of one.",
        hint="Open the job on the provider's dashboard; the file may have been deleted.",
    )


def run_from_events(events: list[dict[str, Any]], job_id: str) -> Run:
    """A Run of the metric events logged so far; raises LogFormatError when there are none."""
    points = Points()
    keys: list[str] = []
    for data in events:
        step = data.get("step")
        if not is_number(step):
            continue
        for key, value in data.items():
            name = series_name(key) if key != "step" else None
            if name and is_number(value):
                points.add(name, float(step), float(value), np.nan, np.nan)
                if key not in keys:
                    keys.append(key)
    if not points.names():
        raise LogFormatError(
            f"Job {job_id} has logged no metrics yet.",
            hint="Refresh once the job is running; it logs a loss every step.",
            path=job_id,
        )
    return finish_run(
        OPENAI_EVENTS,
        ((n, s, v, None, None) for n, s, v, _, _ in points.arrays()),
        hyperparameters={},
        warnings=[],
        source=f"{job_id} (metric events)",
        keys=keys,
    )


def job_run(client: openai.OpenAI, job: Job) -> Run:
    """The job's curves: its result file when there is one, else its metric events so far."""
    if job.result_files:
        with _calling(client, f"Downloading the result file of job {job.id}"):
            data = client.files.content(job.result_files[0]).content
        run = read_run(result_csv(data), name=f"{job.id} (result file)")
    else:
        run = run_from_events(metric_events(client, job.id), job.id)
    run.hyperparameters.update(job.hyperparameters)
    run.hyperparameters["base_model"] = job.model
    if job.fine_tuned_model:
        run.hyperparameters["fine_tuned_model"] = job.fine_tuned_model
    return run
