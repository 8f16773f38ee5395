"""Benchmark: a 1,000,000-step loss log drawn downsampled versus drawn in full.

(a) parse the log, downsample and build the figure, (b) build the figure of
every point from the parsed run. Both include ``fig.to_json()``: that is the
form in which a page ships a figure to the browser, so it is part of building
it. Prints the parts, then one JSON line of ratios, last.

    python -m bench.losschart [--steps N] [--points N]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.losscurves import loss_chart  # noqa: E402
from core.losslog import read_run  # noqa: E402

SPIKE_AT = 654_321


def make_log(steps: int, seed: int = 0) -> bytes:
    """A CSV log: decaying noisy train loss, a cosine learning rate, sparse eval, one spike."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, steps + 1)
    loss = 0.4 + 2.0 * np.exp(-step / (steps / 8)) + 0.05 * rng.standard_normal(steps)
    loss[SPIKE_AT - 1 if steps >= SPIKE_AT else steps // 2] += 6.0
    lr = 1e-4 * 0.5 * (1 + np.cos(np.pi * step / steps))
    eval_every = max(1, steps // 200)
    out = io.StringIO()
    out.write("step,loss,learning_rate,eval_loss\n")
    for s, value, rate in zip(step.tolist(), loss.tolist(), lr.tolist(), strict=True):
        eval_cell = f"{value + 0.1:.5f}" if s % eval_every == 0 else ""
        out.write(f"{s},{value:.5f},{rate:.6g},{eval_cell}\n")
    return out.getvalue().encode()


def timed(task, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        result = None
        gc.collect()  # the full figure leaves ~100 MB behind; collect it outside the clock
        start = time.perf_counter()
        result = task()
        times.append(time.perf_counter() - start)
    # Best of N, as timeit reports: other processes on the machine only ever add time.
    return min(times), result


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--points", type=int, default=2000, help="points per downsampled trace")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    data = make_log(args.steps)
    spike_step = SPIKE_AT if args.steps >= SPIKE_AT else args.steps // 2 + 1
    loss_chart(read_run(make_log(5000), name="warm-up.csv"))  # imports and first-call costs

    def parse_downsample() -> tuple[object, str]:
        run = read_run(data, name="bench.csv")
        chart = loss_chart(run, max_points=args.points)
        return chart, chart.figure.to_json()

    run = read_run(data, name="bench.csv")

    def full_figure() -> tuple[object, str]:
        chart = loss_chart(run, max_points=None)
        return chart, chart.figure.to_json()

    parse_s, _ = timed(lambda: read_run(data, name="bench.csv"), args.repeats)
    small_s, (small, small_json) = timed(parse_downsample, args.repeats)
    full_s, (full, full_json) = timed(full_figure, args.repeats)

    raw = small.figure.data[0]
    spike_kept = bool(spike_step in set(np.asarray(raw.x).astype(np.int64).tolist()))
    print(
        f"log: {args.steps:,} steps, {len(data) / 1e6:.1f} MB of CSV; parse alone {parse_s:.3f} s"
    )
    print(f"(a) parse + downsample + figure + to_json: {small_s:.3f} s, {small.caption}")
    print(f"(b) figure of every point + to_json:       {full_s:.3f} s, {full.caption}")
    result = {
        "parse_downsample_s": round(small_s, 4),
        "full_figure_s": round(full_s, 4),
        "time_ratio": round(full_s / small_s, 2),
        "full_bytes": len(full_json),
        "downsampled_bytes": len(small_json),
        "size_ratio": round(len(full_json) / len(small_json), 1),
        "spike_kept": spike_kept,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
