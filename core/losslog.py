"""Training logs in many formats, read into one run shape.

``read_run`` takes a path or the bytes of an upload and returns a ``Run``: named
``Series`` of (step, value) pairs plus the hyperparameters the file states. The
format is told from the content, whatever the file is called. Readable
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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.errors import LogFormatError
from core.losslog_tensorboard import TENSORBOARD, read_tensorboard_bytes, read_tensorboard_dir
from core.lossrun import Points, Run, Series, finish_run, is_number, relative_times, series_name

__all__ = [
    "CSV",
    "HF_TRAINER_STATE",
    "JSONL",
    "LLAMAFACTORY_JSONL",
    "OPENAI_CSV",
    "TENSORBOARD",
    "ColumnChoice",
    "Run",
    "Series",
    "detect_format",
    "read_run",
    "series_name",
    "table_columns",
]

logger = logging.getLogger(__name__)

HF_TRAINER_STATE = "hf_trainer_state"
OPENAI_CSV = "openai_csv"
LLAMAFACTORY_JSONL = "llamafactory_jsonl"
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

_STEP_KEYS = ("step", "global_step", "current_steps", "_step", "steps", "iteration", "iter")
_EPOCH_KEYS = ("epoch", "train_epoch", "epochs")
_TIME_KEYS = ("elapsed_time", "relative_time", "wall_time", "timestamp", "time", "_runtime")


@dataclasses.dataclass(frozen=True)
class ColumnChoice:
    """What a table-like log offers, for a page that lets the user map columns."""

    columns: list[str]
    numeric: list[str]
    step: str | None
    losses: list[str]


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
            return read_tensorboard_dir(path, label)
        data = _read_bytes(path)

    fmt = detect_format(data, name=label)
    logger.info("Reading %s as %s (%d bytes)", label, fmt, len(data))
    renames = _renames(columns)
    if fmt == TENSORBOARD:
        return read_tensorboard_bytes(data, label)
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
    if isinstance(source, bytes | bytearray):
        data, label = bytes(source), name or "upload"
    else:
        data, label = _read_bytes(Path(source)), name or str(source)
    fmt = detect_format(data, name=label)
    if fmt in (CSV, OPENAI_CSV):
        table = _csv_table(data, label)
        columns = table.column_names
        numeric = [c for c in columns if _is_number_type(table.column(c).type)]
    elif fmt in (JSONL, LLAMAFACTORY_JSONL):
        records = [r for _, r in _json_lines(_text(data, label))[0]]
        columns = _ordered_keys(records)
        numeric = [k for k in columns if any(is_number(r.get(k)) for r in records)]
    else:
        raise LogFormatError(
            f"Column mapping applies to CSV and JSONL logs; this file is read as {fmt}.",
            hint="Open it without a mapping.",
            path=label,
        )
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
    if is_number(value):
        return float(value)
    match = _CLOCK.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        return math.nan
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _records_to_run(
    records: list[tuple[int, dict[str, Any]]],
    *,
    fmt: str,
    label: str,
    renames: Mapping[str, str],
    hyperparameters: dict[str, Any],
    warnings: list[str],
) -> Run:
    """The Run of dict records (HF log entries, JSONL lines), each with its line number."""
    keys = _ordered_keys(r for _, r in records)
    _check_renames(renames, keys, label)
    step_key = next((k for k, v in renames.items() if v == "step"), None) or _pick_key(
        keys, _STEP_KEYS
    )
    epoch_key = _pick_key(keys, _EPOCH_KEYS)
    time_key = _pick_key(keys, _TIME_KEYS)
    skip = {step_key, epoch_key, time_key}
    names = {k: renames.get(k) or series_name(k) for k in keys if k not in skip}

    points = Points()
    summary: dict[str, float] = {}
    last_step, last_epoch, guessed = math.nan, math.nan, set()
    for line, record in records:
        if fmt == HF_TRAINER_STATE and ("train_runtime" in record or "total_flos" in record):
            summary.update({k: float(v) for k, v in record.items() if is_number(v)})
            continue
        epoch = _number(record.get(epoch_key)) if epoch_key else math.nan
        time = _seconds(record.get(time_key)) if time_key else math.nan
        if step_key is None:
            step = float(line)
        elif is_number(record.get(step_key)):
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
            if name and is_number(value):
                points.add(name, step, float(value), epoch, time)
    if step_key is None:
        warnings.append("The log has no step column; row numbers are used as steps.")
    if guessed:
        prefixes = sorted({k.split("_")[0] + "_*" for k in guessed})
        warnings.append(
            f"Entries {', '.join(prefixes)} carry no step; each is placed at the step of the "
            "entry before it with the same epoch."
        )
    columns = ((n, s, v, e, relative_times(t)) for n, s, v, e, t in points.arrays())
    return finish_run(
        fmt,
        columns,
        hyperparameters=hyperparameters,
        warnings=warnings,
        source=label,
        keys=keys,
        summary=summary,
    )


def _number(value: Any) -> float:
    return float(value) if is_number(value) else math.nan


def _check_renames(renames: Mapping[str, str], keys: list[str], label: str) -> None:
    missing = [k for k in renames if k not in keys]
    if missing:
        raise LogFormatError(
            f"The mapping names {', '.join(repr(m) for m in missing)}, which the log does not "
            f"have; its columns are {', '.join(keys)}.",
            hint="Map the step and the loss to columns from that list.",
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

    return _records_to_run(
        entries, fmt=fmt, label=label, renames=renames, hyperparameters=hyper, warnings=[]
    )


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
    hyper = {out: doc[key] for key, out in _HF_KEYS.items() if is_number(doc.get(key))}
    callbacks = doc.get("stateful_callbacks")
    early = callbacks.get("EarlyStoppingCallback") if isinstance(callbacks, dict) else None
    if isinstance(early, dict) and isinstance(early.get("args"), dict):
        patience = early["args"].get("early_stopping_patience")
        if is_number(patience):
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
    if len(bad) == 1:
        warnings.append(f"Line {bad[0]} could not be read as JSON and was skipped.")
    elif bad:
        listed = ", ".join(str(n) for n in bad[:10]) + (" …" if len(bad) > 10 else "")
        warnings.append(f"{len(bad)} lines ({listed}) could not be read as JSON and were skipped.")

    hyper: dict[str, Any] = {}
    totals = [r["total_steps"] for _, r in records if is_number(r.get("total_steps"))]
    if totals:
        hyper["max_steps"] = int(totals[-1])
    return _records_to_run(
        records, fmt=fmt, label=label, renames=renames, hyperparameters=hyper, warnings=warnings
    )


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
    times = relative_times(times)

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
    return finish_run(fmt, raw, hyperparameters={}, warnings=warnings, source=label, keys=columns)
