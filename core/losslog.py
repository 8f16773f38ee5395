"""Training logs in many formats, read into one run shape.

``read_run`` takes a path or the bytes of an upload and returns a ``Run``: named
``Series`` of (step, value) pairs plus the hyperparameters the file states. The
format is told from the content; the file name only breaks ties. Readable
formats: a Hugging Face ``trainer_state.json``, an OpenAI fine-tuning result
CSV, a LLaMA-Factory ``trainer_log.jsonl``, TensorBoard event files, and any CSV
or JSONL with a step and a loss column (``table_columns`` lists the columns and
``read_run(..., columns={"step": ..., "loss": ...})`` maps unusual names).

Series names are canonical: ``train_loss``, ``eval_loss``, ``eval_<set>_loss``,
``predict_loss``, ``learning_rate``, ``grad_norm``, ``train_accuracy``,
``eval_accuracy``, and the file's own metric names otherwise.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.errors import LogFormatError

logger = logging.getLogger(__name__)

HF_TRAINER_STATE = "hf_trainer_state"
OPENAI_CSV = "openai_csv"
LLAMAFACTORY_JSONL = "llamafactory_jsonl"
TENSORBOARD = "tensorboard"
CSV = "csv"
JSONL = "jsonl"
JSON_DOC = "json"

FORMAT_HINT = (
    "Quarry reads a Hugging Face trainer_state.json, an OpenAI fine-tuning result CSV, "
    "a LLaMA-Factory trainer_log.jsonl, TensorBoard event files (events.out.tfevents.*), "
    "and CSV or JSONL files with a step and a loss column."
)

_TB_MARKER = b"brain.Event:"
_HEAD_BYTES = 1 << 16
_OPENAI_HEADER = ("step", "train_loss", "train_accuracy")

# Keys that describe the logging itself rather than the model; they never become series.
_BOOKKEEPING = re.compile(
    r"(^|_)(runtime|samples_per_second|steps_per_second|total_flos|num_tokens|"
    r"num_input_tokens_seen|total_steps|percentage|remaining_time|throughput|"
    r"total_tokens|timestamp|wall_time|elapsed_time|relative_time)$"
)
_STEP_KEYS = ("step", "global_step", "current_steps", "_step", "steps", "iteration", "iter")
_EPOCH_KEYS = ("epoch", "train_epoch", "epochs")
_TIME_KEYS = ("elapsed_time", "relative_time", "wall_time", "timestamp", "time", "_runtime")
_ALIASES = {
    "loss": "train_loss",
    "training_loss": "train_loss",
    "loss_train": "train_loss",
    "lr": "learning_rate",
    "train_lr": "learning_rate",
    "train_learning_rate": "learning_rate",
    "train_grad_norm": "grad_norm",
    "gradnorm": "grad_norm",
    "accuracy": "train_accuracy",
    "acc": "train_accuracy",
    "train_acc": "train_accuracy",
    "mean_token_accuracy": "train_accuracy",
    "train_mean_token_accuracy": "train_accuracy",
    "eval_mean_token_accuracy": "eval_accuracy",
    "eval_acc": "eval_accuracy",
    "loss_eval": "eval_loss",
    "loss_val": "eval_loss",
    "full_eval_loss": "eval_full_loss",
    "full_eval_mean_token_accuracy": "eval_full_accuracy",
}
_EVAL_PREFIX = re.compile(r"^(val|valid|validation)_")


@dataclasses.dataclass(frozen=True, eq=False)
class Series:
    """One logged quantity: values at strictly increasing steps.

    ``epochs`` and ``times`` (seconds since the run started) are parallel to
    ``steps`` when the log has them. Values may be NaN or infinite where the
    trainer logged that.
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray | None = None
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def finite(self) -> np.ndarray:
        return np.isfinite(self.values)

    def non_finite_steps(self) -> list[int]:
        return [int(s) for s in self.steps[~self.finite]]

    @property
    def is_loss(self) -> bool:
        return self.name.endswith("loss")


@dataclasses.dataclass(eq=False)
class Run:
    """A training run as read from one log file."""

    format: str
    series: dict[str, Series]
    hyperparameters: dict[str, Any]
    warnings: list[str]
    source: str
    # The closing summary some trainers write (mean train loss, runtime); not a curve.
    summary: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def loss(self) -> Series | None:
        """The main loss curve: the train loss, else the first loss series."""
        if "train_loss" in self.series:
            return self.series["train_loss"]
        return next((s for s in self.series.values() if s.is_loss), None)

    @property
    def points(self) -> int:
        main = self.loss
        return len(main) if main is not None else 0

    @property
    def eval_losses(self) -> list[Series]:
        return [s for name, s in self.series.items() if name.startswith("eval_") and s.is_loss]


@dataclasses.dataclass(frozen=True)
class ColumnChoice:
    """What a table-like log offers, for a page that lets the user map columns."""

    columns: list[str]
    numeric: list[str]
    step: str | None
    losses: list[str]


def series_name(key: str) -> str | None:
    """The canonical series name for a log key, or None for bookkeeping keys.

    >>> series_name("loss"), series_name("eval/loss"), series_name("valid_loss")
    ('train_loss', 'eval_loss', 'eval_loss')
    """
    name = re.sub(r"[^0-9a-z]+", "_", key.strip().lower()).strip("_")
    if not name or _BOOKKEEPING.search(name):
        return None
    name = _EVAL_PREFIX.sub("eval_", name)
    name = _ALIASES.get(name, name)
    if name.startswith("eval_") and name.endswith("_mean_token_accuracy"):
        name = name[: -len("_mean_token_accuracy")] + "_accuracy"
    return name


def read_run(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str = "",
    columns: Mapping[str, str] | None = None,
) -> Run:
    """Read one training log from a path or from the bytes of an upload.

    ``name`` is the upload's file name (a tie-breaker for the format and the
    run's label). ``columns`` maps canonical names to the file's own keys,
    for example ``{"step": "it", "loss": "objective"}``.
    """
    if isinstance(source, bytes | bytearray):
        data, label = bytes(source), name or "upload"
    else:
        path = Path(source)
        label = name or str(path)
        if path.is_dir():
            return _read_tensorboard_dir(path, label)
        data = _read_bytes(path)

    fmt = detect_format(data, name=label)
    logger.info("Reading %s as %s (%d bytes)", label, fmt, len(data))
    renames = _renames(columns)
    if fmt == TENSORBOARD:
        return _read_tensorboard_bytes(data, label)
    if fmt in (CSV, OPENAI_CSV):
        return _read_csv(data, label, fmt, renames)
    if fmt in (JSONL, LLAMAFACTORY_JSONL):
        return _read_jsonl(data, label, fmt, renames)
    return _read_json(data, label, renames)


def detect_format(data: bytes, *, name: str = "") -> str:
    """Which reader suits these bytes; raises LogFormatError when none does.

    Only the head of the file is looked at, so a large log is not read twice.
    """
    if not data or data.isspace():
        raise LogFormatError(
            "The file is empty.",
            hint="Choose the log file the trainer wrote; " + FORMAT_HINT,
            path=name,
        )
    if _TB_MARKER in data[:64]:
        return TENSORBOARD
    head = _head_text(data, name).lstrip()
    if head.startswith("["):
        return JSON_DOC
    if head.startswith("{"):
        return _json_kind(head)
    header = _csv_header(head)
    if header is None:
        raise LogFormatError(
            f"This is not a training log Quarry can read: {Path(name).name or 'the file'} "
            "is neither JSON, JSONL, CSV nor a TensorBoard event file.",
            hint=FORMAT_HINT,
            path=name,
        )
    return OPENAI_CSV if tuple(header[:3]) == _OPENAI_HEADER else CSV


def table_columns(source: str | os.PathLike[str] | bytes, *, name: str = "") -> ColumnChoice:
    """The columns of a CSV or JSONL log, with Quarry's guess for step and loss."""
    data = bytes(source) if isinstance(source, bytes | bytearray) else _read_bytes(Path(source))
    fmt = detect_format(data, name=name or str(source)[:200])
    if fmt in (CSV, OPENAI_CSV):
        table = _csv_table(data, name)
        cols = {n: table.column(n) for n in table.column_names}
        numeric = [n for n, c in cols.items() if _is_number_type(c.type)]
    elif fmt in (JSONL, LLAMAFACTORY_JSONL):
        records = [r for _, r in _json_lines(data.decode("utf-8-sig", "replace"))[0]]
        keys = _ordered_keys(records)
        cols = dict.fromkeys(keys)
        numeric = [k for k in keys if any(_is_number(r.get(k)) for r in records)]
    else:
        raise LogFormatError(
            f"Column mapping applies to CSV and JSONL logs; this file is read as {fmt}.",
            hint="Open it without a mapping.",
            path=name,
        )
    columns = list(cols)
    return ColumnChoice(
        columns=columns,
        numeric=numeric,
        step=_pick_key(numeric, _STEP_KEYS),
        losses=[c for c in numeric if (series_name(c) or "").endswith("loss")],
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LogFormatError(
            f"There is no file at {path}.", hint="Check the path and try again.", path=str(path)
        ) from None
    except OSError as exc:
        raise LogFormatError(
            f"The file {path} could not be read: {exc.strerror or exc}.",
            hint="Check that the file exists and that Quarry may read it.",
            path=str(path),
        ) from exc


def _not_text(name: str) -> LogFormatError:
    return LogFormatError(
        f"This is not a training log Quarry can read: {Path(name).name or 'the file'} "
        "holds binary data that is not a TensorBoard event file.",
        hint=FORMAT_HINT,
        path=name,
    )


def _head_text(data: bytes, name: str) -> str:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        head = decoder.decode(data[:_HEAD_BYTES], final=len(data) <= _HEAD_BYTES)
    except UnicodeDecodeError:
        raise _not_text(name) from None
    if "\x00" in head:
        raise _not_text(name)
    return head


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LogFormatError(
            f"The file is not UTF-8 text: byte {exc.start} cannot be decoded.",
            hint="Save the log as UTF-8, as trainers write it.",
            path=name,
        ) from None


def _json_kind(head: str) -> str:
    """JSONL when the first lines are JSON objects each; one document otherwise."""
    objects = []
    for line in [line for line in head.splitlines() if line.strip()][:5]:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            objects.append(record)
    if len(objects) < 2:
        return JSON_DOC
    return LLAMAFACTORY_JSONL if any("current_steps" in r for r in objects) else JSONL


def _renames(columns: Mapping[str, str] | None) -> dict[str, str]:
    """File key -> canonical name, from a user's {canonical: file key} mapping."""
    if not columns:
        return {}
    renames = {}
    for target, key in columns.items():
        canonical = "step" if target == "step" else series_name(target) or target
        renames[key] = canonical
    return renames


# ---------------------------------------------------------------- building series


class _Points:
    """Collects (step, value, epoch, time) per series in file order."""

    def __init__(self) -> None:
        self._rows: dict[str, list[tuple[float, float, float, float]]] = {}

    def add(self, name: str, step: float, value: float, epoch: float, time: float) -> None:
        self._rows.setdefault(name, []).append((step, value, epoch, time))

    def names(self) -> list[str]:
        return list(self._rows)

    def arrays(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        for name, rows in self._rows.items():
            table = np.asarray(rows, dtype=np.float64)
            yield name, table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def _build_series(
    columns: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]],
    warnings: list[str],
) -> dict[str, Series]:
    """Series from raw columns in file order; a resumed run keeps its later segment."""
    series: dict[str, Series] = {}
    repeats: dict[str, list[str]] = {}
    for name, steps, values, epochs, times in columns:
        keep = _later_segment(steps)
        if keep.all():
            keep = slice(None)  # a view, not a copy of a million points
        else:
            for span in _spans(steps[~keep]):
                repeats.setdefault(span, []).append(name)
        series[name] = Series(
            name=name,
            steps=steps[keep].astype(np.int64),
            values=np.asarray(values[keep], dtype=np.float64),
            epochs=_optional(epochs, keep),
            times=_optional(times, keep),
        )
    for span, names in repeats.items():
        warnings.append(
            f"Steps {span} appear twice ({', '.join(names)}): the run was resumed from an "
            "earlier checkpoint; the later values are kept."
        )
    return series


def _later_segment(steps: np.ndarray) -> np.ndarray:
    """Mask of points no later point overrides: a point stays only if every later step is larger."""
    keep = np.ones(len(steps), dtype=bool)
    if len(steps) < 2 or np.all(steps[1:] > steps[:-1]):
        return keep
    later_min = np.minimum.accumulate(steps[::-1])[::-1]
    keep[:-1] = steps[:-1] < later_min[1:]
    return keep


def _spans(steps: np.ndarray) -> list[str]:
    """Dropped steps as "30–50" spans, one span per block the resume repeated."""
    order = np.sort(np.unique(steps))
    if len(order) == 0:
        return []
    gap = np.median(np.diff(order)) if len(order) > 1 else 1
    breaks = np.flatnonzero(np.diff(order) > gap) + 1
    return [
        f"{int(b[0])}–{int(b[-1])}" if len(b) > 1 else f"{int(b[0])}"
        for b in np.split(order, breaks)
    ]


def _optional(column: np.ndarray | None, keep: np.ndarray | slice) -> np.ndarray | None:
    if column is None:
        return None
    kept = np.asarray(column[keep], dtype=np.float64)
    return kept if np.isfinite(kept).any() else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pick_key(keys: Iterable[str], wanted: tuple[str, ...]) -> str | None:
    by_norm = {re.sub(r"[^0-9a-z_]+", "_", k.lower()): k for k in keys}
    for candidate in wanted:
        if candidate in by_norm:
            return by_norm[candidate]
    return None


def _ordered_keys(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for r in records for k in r))


_CLOCK = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def _seconds(value: Any) -> float:
    """A time value as seconds: a number, or an "H:MM:SS" string as LLaMA-Factory writes."""
    if _is_number(value):
        return float(value)
    match = _CLOCK.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        return math.nan
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _relative_times(times: np.ndarray | None) -> np.ndarray | None:
    """Times from the run's start; absolute clock readings (Unix seconds) are shifted."""
    if times is None or not np.isfinite(times).any():
        return None
    first = np.nanmin(times)
    return times - first if first > 1e8 else times


def _peak_learning_rate(series: Mapping[str, Series], hyper: dict[str, Any]) -> None:
    lr = series.get("learning_rate")
    if lr is not None and lr.finite.any():
        hyper["peak_learning_rate"] = float(np.max(lr.values[lr.finite]))


def _epochs_done(series: Mapping[str, Series], hyper: dict[str, Any]) -> None:
    ends = [float(np.nanmax(s.epochs)) for s in series.values() if s.epochs is not None]
    if ends:
        hyper["epochs_done"] = round(max(ends), 4)


# ---------------------------------------------------------------- key-value records


def _records_to_series(
    records: list[tuple[int, dict[str, Any]]],
    label: str,
    fmt: str,
    renames: Mapping[str, str],
    warnings: list[str],
) -> tuple[dict[str, Series], dict[str, float]]:
    """Series from dict records (HF log entries, JSONL lines); returns series and summary."""
    keys = _ordered_keys(r for _, r in records)
    _check_renames(renames, keys, label)
    step_key = next((k for k, v in renames.items() if v == "step"), None) or _pick_key(
        keys, _STEP_KEYS
    )
    epoch_key = _pick_key(keys, _EPOCH_KEYS)
    time_key = _pick_key(keys, _TIME_KEYS)
    skip = {step_key, epoch_key, time_key}
    names = {k: renames.get(k) or series_name(k) for k in keys if k not in skip}

    points = _Points()
    summary: dict[str, float] = {}
    last_step, last_epoch, guessed = math.nan, math.nan, set()
    for line, record in records:
        if fmt == HF_TRAINER_STATE and ("train_runtime" in record or "total_flos" in record):
            summary.update({k: float(v) for k, v in record.items() if _is_number(v)})
            continue
        epoch = _number(record.get(epoch_key)) if epoch_key else math.nan
        time = _seconds(record.get(time_key)) if time_key else math.nan
        if step_key is None:
            step = float(line)
        elif _is_number(record.get(step_key)):
            step = float(record[step_key])
        elif epoch == last_epoch and not math.isnan(last_step):
            # HF writes predict_* entries without a step, right after the eval they follow.
            step = last_step
            guessed.update(k for k in record if k != epoch_key)
        else:
            continue
        last_step, last_epoch = step, epoch
        for key, value in record.items():
            name = names.get(key)
            if name and _is_number(value):
                points.add(name, step, float(value), epoch, time)
    if step_key is None:
        warnings.append("The log has no step column; row numbers are used as steps.")
    if guessed:
        prefixes = sorted({k.split("_")[0] + "_*" for k in guessed})
        warnings.append(
            f"Entries {', '.join(prefixes)} carry no step; each is placed at the step of the "
            "entry before it with the same epoch."
        )
    columns = ((n, s, v, e, _relative_times(t)) for n, s, v, e, t in points.arrays())
    return _build_series(columns, warnings), summary


def _number(value: Any) -> float:
    return float(value) if _is_number(value) else math.nan


def _check_renames(renames: Mapping[str, str], keys: list[str], label: str) -> None:
    missing = [k for k in renames if k not in keys]
    if missing:
        raise LogFormatError(
            f"The mapping names {', '.join(repr(m) for m in missing)}, which the log does not "
            f"have; its columns are {', '.join(keys)}.",
            hint="Map the step and the loss to columns from that list.",
            path=label,
        )


def _require_loss(series: Mapping[str, Series], columns: list[str], label: str) -> None:
    if any(s.is_loss for s in series.values()):
        return
    raise LogFormatError(
        f"No column holds a loss: the columns found are {', '.join(columns)}, and none of "
        "them is named like a loss.",
        hint='Name the loss column with a mapping such as {"step": "step", "loss": "<column>"}.',
        path=label,
    )


def _read_json(data: bytes, label: str, renames: Mapping[str, str]) -> Run:
    text = _text(data, label)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line after all, the first ones broken
            return _read_jsonl(data, label, JSONL, renames)
        # An error on the last line means the text stops mid-document: a copy taken too early.
        cut = "\n" not in text[exc.pos :].rstrip()
        raise LogFormatError(
            f"The file is not valid JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg.lower().removesuffix(' at')})"
            + ("; the file ends there, so it looks truncated." if cut else "."),
            hint="Copy the file again after the trainer has finished writing it.",
            path=label,
        ) from None

    warnings: list[str] = []
    if isinstance(doc, dict) and isinstance(doc.get("log_history"), list):
        entries = [(i + 1, e) for i, e in enumerate(doc["log_history"]) if isinstance(e, dict)]
        fmt, hyper = HF_TRAINER_STATE, _hf_hyperparameters(doc)
    elif isinstance(doc, list) and doc and all(isinstance(e, dict) for e in doc):
        entries, fmt, hyper = list(enumerate(doc, start=1)), JSONL, {}
    else:
        raise LogFormatError(
            "This is not a training log Quarry can read: the JSON has no log_history list "
            "of entries.",
            hint=FORMAT_HINT,
            path=label,
        )

    series, summary = _records_to_series(entries, label, fmt, renames, warnings)
    _require_loss(series, _ordered_keys(e for _, e in entries), label)
    _peak_learning_rate(series, hyper)
    _epochs_done(series, hyper)
    return Run(fmt, series, hyper, warnings, label, summary)


_HF_KEYS = {
    "num_train_epochs": "epochs",
    "train_batch_size": "batch_size",
    "logging_steps": "logging_steps",
    "eval_steps": "eval_steps",
    "save_steps": "save_steps",
    "max_steps": "max_steps",
    "global_step": "global_step",
}


def _hf_hyperparameters(doc: Mapping[str, Any]) -> dict[str, Any]:
    hyper = {out: doc[key] for key, out in _HF_KEYS.items() if _is_number(doc.get(key))}
    callbacks = doc.get("stateful_callbacks")
    early = callbacks.get("EarlyStoppingCallback") if isinstance(callbacks, dict) else None
    if isinstance(early, dict) and isinstance(early.get("args"), dict):
        patience = early["args"].get("early_stopping_patience")
        if _is_number(patience):
            hyper["early_stopping_patience"] = patience
    return hyper


def _json_lines(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[int]]:
    records, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        if isinstance(record, dict):
            records.append((number, record))
        else:
            bad.append(number)
    return records, bad


def _read_jsonl(data: bytes, label: str, fmt: str, renames: Mapping[str, str]) -> Run:
    records, bad = _json_lines(_text(data, label))
    if not records:
        raise LogFormatError(
            "No line of the file is a JSON object, so it is not a JSONL training log.",
            hint=FORMAT_HINT,
            path=label,
        )
    warnings = []
    if bad:
        listed = ", ".join(str(n) for n in bad[:10]) + (" …" if len(bad) > 10 else "")
        noun = "Line" if len(bad) == 1 else f"{len(bad)} lines"
        warnings.append(f"{noun} {listed} could not be read as JSON and were skipped.")
        if len(bad) == 1:
            warnings[-1] = f"Line {listed} could not be read as JSON and was skipped."

    series, _ = _records_to_series(records, label, fmt, renames, warnings)
    _require_loss(series, _ordered_keys(r for _, r in records), label)
    hyper: dict[str, Any] = {}
    totals = [r["total_steps"] for _, r in records if _is_number(r.get("total_steps"))]
    if totals:
        hyper["max_steps"] = int(totals[-1])
    _peak_learning_rate(series, hyper)
    _epochs_done(series, hyper)
    return Run(fmt, series, hyper, warnings, label)


# ---------------------------------------------------------------- CSV


def _csv_header(text: str) -> list[str] | None:
    first = text.lstrip().splitlines()[0]
    if not re.search(r"[A-Za-z]", first):
        return None
    delimiter = _delimiter(first)
    fields = next(csv.reader([first], delimiter=delimiter))
    names = [f.strip() for f in fields]
    # A header is a list of short names; prose or binary junk is not.
    if all(names) and all(re.fullmatch(r"[\w./\- ()\[\]:%#]{1,80}", n) for n in names):
        return [n.lower() for n in names]
    return None


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _csv_table(data: bytes, label: str) -> pa.Table:
    text_head = data[:4096].decode("utf-8-sig", "replace").lstrip().splitlines()[0]
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(delimiter=_delimiter(text_head)),
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise LogFormatError(
            f"The CSV could not be read: {str(exc).splitlines()[0]}",
            hint="Check that every row has as many fields as the header.",
            path=label,
        ) from None


def _is_number_type(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _column_values(
    column: pa.ChunkedArray, name: str, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """A column as floats, and a mask of the rows where it holds a logged value.

    An empty cell was not logged; a "nan" or "inf" cell was logged as non-finite.
    """
    if _is_number_type(column.type):
        logged = ~pc.is_null(column).to_numpy(zero_copy_only=False)
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False), logged
    cells = column.cast(pa.string()).to_pylist() if not pa.types.is_null(column.type) else []
    values = np.full(len(column), np.nan)
    logged = np.zeros(len(column), dtype=bool)
    unreadable = []
    for row, cell in enumerate(cells):
        if cell is None or not cell.strip():
            continue
        try:
            values[row] = float(cell)
            logged[row] = True
        except ValueError:
            unreadable.append(row + 2)  # +1 for the header, +1 for counting from one
    if unreadable:
        rows = ", ".join(str(r) for r in unreadable[:5]) + (" …" if len(unreadable) > 5 else "")
        warnings.append(f"Column {name} holds values that are not numbers (rows {rows}); skipped.")
    return values, logged


def _read_csv(data: bytes, label: str, fmt: str, renames: Mapping[str, str]) -> Run:
    table = _csv_table(data, label)
    columns = table.column_names
    _check_renames(renames, columns, label)
    warnings: list[str] = []
    step_col = next((k for k, v in renames.items() if v == "step"), None) or _pick_key(
        columns, _STEP_KEYS
    )
    epoch_col = _pick_key(columns, _EPOCH_KEYS)
    time_col = _pick_key(columns, _TIME_KEYS)

    if step_col is None:
        steps, has_step = np.arange(1, table.num_rows + 1, dtype=np.float64), True
        warnings.append("The log has no step column; row numbers are used as steps.")
    else:
        steps, has_step = _column_values(table.column(step_col), step_col, warnings)
    epochs = _column_values(table.column(epoch_col), epoch_col, warnings)[0] if epoch_col else None
    times = _column_values(table.column(time_col), time_col, warnings)[0] if time_col else None
    times = _relative_times(times)

    raw, unlogged = [], []
    for column in columns:
        name = renames.get(column) or series_name(column)
        if column in (step_col, epoch_col, time_col) or not name:
            continue
        values, logged = _column_values(table.column(column), column, warnings)
        logged &= has_step
        if not logged.any():
            if name.startswith("eval_"):
                unlogged.append(column)
            continue
        rows = slice(None) if logged.all() else logged
        raw.append(
            (
                name,
                steps[rows],
                values[rows],
                epochs[rows] if epochs is not None else None,
                times[rows] if times is not None else None,
            )
        )

    if unlogged:
        warnings.append(
            f"No validation was logged: {', '.join(unlogged)} "
            f"{'is' if len(unlogged) == 1 else 'are'} empty in every row."
        )
    series = _build_series(raw, warnings)
    _require_loss(series, columns, label)
    hyper: dict[str, Any] = {}
    _peak_learning_rate(series, hyper)
    _epochs_done(series, hyper)
    return Run(fmt, series, hyper, warnings, label)


# ---------------------------------------------------------------- TensorBoard


def _read_tensorboard_bytes(data: bytes, label: str) -> Run:
    # The event reader wants a file; an upload lives only in memory.
    with tempfile.TemporaryDirectory(prefix="quarry-tb-") as folder:
        path = Path(folder) / "events.out.tfevents.upload"
        path.write_bytes(data)
        return _read_tensorboard_files([path], Path(folder), label)


def _read_tensorboard_dir(folder: Path, label: str) -> Run:
    files = sorted(p for p in folder.rglob("*tfevents*") if p.is_file())
    if not files:
        raise LogFormatError(
            f"The folder {folder} holds no TensorBoard event files (events.out.tfevents.*).",
            hint="Choose the folder the trainer logged to, or one of the files in it.",
            path=label,
        )
    return _read_tensorboard_files(files, folder, label)


def _read_tensorboard_files(files: list[Path], root: Path, label: str) -> Run:
    """Every scalar event, read directly: no reservoir sampling drops points."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    points = _Points()
    texts: dict[str, str] = {}
    warnings: list[str] = []
    for path in files:
        prefix = path.parent.relative_to(root).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        try:
            for event in EventFileLoader(str(path)).Load():
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    plugin = value.metadata.plugin_data.plugin_name
                    array = tensor_util.make_ndarray(value.tensor)
                    if plugin == "text":
                        texts[value.tag] = _text_of(array)
                    elif plugin == "scalars" and array.size == 1:
                        tag = prefix + value.tag
                        points.add(tag, event.step, float(array.item()), math.nan, event.wall_time)
        except Exception as exc:  # the reader raises plain errors on a damaged record
            warnings.append(f"{path.name} stops being readable partway ({exc}); read up to there.")

    epochs = _tensorboard_epochs(points)
    raw = []
    for tag, steps, values, _, times in points.arrays():
        name = series_name(tag)
        if name and name not in ("epoch", "train_epoch"):
            raw.append((name, steps, values, _epochs_at(epochs, steps), _relative_times(times)))
    series = _build_series(raw, warnings)
    _require_loss(series, points.names(), label)
    hyper = _tensorboard_hyperparameters(texts)
    _peak_learning_rate(series, hyper)
    _epochs_done(series, hyper)
    return Run(TENSORBOARD, series, hyper, warnings, label)


def _text_of(array: np.ndarray) -> str:
    item = array.flat[0] if array.size else b""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _tensorboard_epochs(points: _Points) -> tuple[np.ndarray, np.ndarray] | None:
    for tag, steps, values, _, _ in points.arrays():
        if series_name(tag) in ("epoch", "train_epoch"):
            order = np.argsort(steps, kind="stable")
            return steps[order], values[order]
    return None


def _epochs_at(epochs: tuple[np.ndarray, np.ndarray] | None, steps: np.ndarray) -> np.ndarray:
    if epochs is None:
        return np.full(len(steps), np.nan)
    return np.interp(steps, *epochs)


_ARG_KEYS = {
    "learning_rate": "learning_rate",
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "logging_steps": "logging_steps",
    "eval_steps": "eval_steps",
    "save_steps": "save_steps",
    "max_steps": "max_steps",
}


def _tensorboard_hyperparameters(texts: Mapping[str, str]) -> dict[str, Any]:
    """Hyperparameters from the JSON text summaries the HF TensorBoard callback writes."""
    hyper: dict[str, Any] = {}
    for tag, text in texts.items():
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            continue
        if not isinstance(doc, dict):
            continue
        if tag.startswith("args"):
            hyper.update({out: doc[k] for k, out in _ARG_KEYS.items() if _is_number(doc.get(k))})
        elif tag.startswith("model_config") and isinstance(doc.get("_name_or_path"), str):
            hyper["base_model"] = doc["_name_or_path"]
    return hyper
