"""TensorBoard event files read into a Run, every point kept.

The events are read one by one with TensorBoard's own event-file loader, not
through an EventAccumulator, whose reservoir keeps only 10,000 points a tag.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import LogFormatError
from core.lossrun import Points, Run, finish_run, is_number, relative_times, series_name

TENSORBOARD = "tensorboard"


def read_tensorboard_bytes(data: bytes, label: str) -> Run:
    # The event reader wants a file; an upload lives only in memory.
    with tempfile.TemporaryDirectory(prefix="quarry-tb-") as folder:
        path = Path(folder) / "events.out.tfevents.upload"
        path.write_bytes(data)
        return _read_tensorboard_files([path], Path(folder), label)


def read_tensorboard_dir(folder: Path, label: str) -> Run:
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
    # Imported here: tensorboard takes a while to load, and most logs are not event files.
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    points = Points()
    texts: dict[str, str] = {}
    for path in files:
        prefix = path.parent.relative_to(root).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        # The loader stops quietly at a truncated or damaged record, as TensorBoard does.
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

    epochs = _tensorboard_epochs(points)
    raw = []
    for tag, steps, values, _, times in points.arrays():
        name = series_name(tag)
        if name and name not in ("epoch", "train_epoch"):
            raw.append((name, steps, values, _epochs_at(epochs, steps), relative_times(times)))
    return finish_run(
        TENSORBOARD,
        raw,
        hyperparameters=_tensorboard_hyperparameters(texts),
        warnings=[],
        source=label,
        keys=points.names(),
    )


def _text_of(array: np.ndarray) -> str:
    item = array.flat[0] if array.size else b""
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)


def _tensorboard_epochs(points: Points) -> tuple[np.ndarray, np.ndarray] | None:
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
            hyper.update({out: doc[k] for k, out in _ARG_KEYS.items() if is_number(doc.get(k))})
        elif tag.startswith("model_config") and isinstance(doc.get("_name_or_path"), str):
            hyper["base_model"] = doc["_name_or_path"]
    return hyper
