"""A 10-million-row result against the row cap: client memory and time.

Three ways to run ``SELECT seq FROM seq_1_to_10000000`` on MariaDB (its
sequence engine makes the rows without a table):

- guarded:  Quarry's path (``core.ask.run_sql``): the guard puts LIMIT cap + 1
  on the syntax tree, so the server sends only that;
- bypassed: ``core.execute.run_query`` on the raw SQL, as if the guard were
  skipped: rows stream and fetching stops at cap + 1;
- naive:    ``fetchall()`` of everything, as a tool without a cap would.

Memory is the peak of Python allocations (tracemalloc) during each run. The
last line printed is JSON.

    python bench/bigresult.py [--url mysql+pymysql://root@127.0.0.1:3306/] [--rows 10000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.ask import run_sql  # noqa: E402
from core.execute import run_query  # noqa: E402
from core.schema import Column, Table  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.target import open_target  # noqa: E402


def measure(func) -> tuple[float, float, object]:
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    value = func()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 2**20, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    settings = Settings.load().replace(query_timeout_s=600.0)
    sequence = f"seq_1_to_{args.rows}"
    sql = f"SELECT seq FROM {sequence}"
    url = sa.engine.make_url(args.url)
    if not url.database:
        url = url.set(database="test")  # any database will do; the rows come from a sequence
    target = open_target(url.render_as_string(hide_password=False), settings)
    # The sequence engine's tables are virtual; tell the guard this one exists.
    target.schema.tables.append(
        Table(sequence, target.schema.default_schema, columns=[Column("seq", "bigint unsigned")])
    )

    guarded_s, guarded_mb, guarded = measure(lambda: run_sql(sql, target, settings))
    bypass_s, bypass_mb, bypassed = measure(
        lambda: run_query(
            target.engine,
            sql,
            server=target.server,
            row_cap=settings.row_limit,
            timeout_s=settings.query_timeout_s,
        )
    )

    def naive():
        with target.engine.connect() as conn:
            return len(conn.exec_driver_sql(sql).fetchall())

    naive_s, naive_mb, naive_rows = measure(naive)
    target.close()
    print(
        f"guarded:  {guarded.row_count} rows (truncated={guarded.truncated}) in "
        f"{guarded_s:.2f} s, peak {guarded_mb:.1f} MB"
    )
    print(
        f"bypassed: {bypassed.row_count} rows (truncated={bypassed.truncated}) in "
        f"{bypass_s:.2f} s, peak {bypass_mb:.1f} MB"
    )
    print(f"naive:    {naive_rows} rows in {naive_s:.2f} s, peak {naive_mb:.1f} MB")
    print(
        json.dumps(
            {
                "rows": naive_rows,
                "row_cap": settings.row_limit,
                "guarded_s": round(guarded_s, 3),
                "guarded_peak_mb": round(guarded_mb, 2),
                "bypass_s": round(bypass_s, 3),
                "bypass_peak_mb": round(bypass_mb, 2),
                "naive_s": round(naive_s, 3),
                "naive_peak_mb": round(naive_mb, 1),
                "memory_ratio": round(naive_mb / max(guarded_mb, bypass_mb, 0.01), 1),
                "under_50_mb": guarded_mb < 50 and bypass_mb < 50,
            }
        )
    )


if __name__ == "__main__":
    main()
