"""In-database statistics against ydata-profiling on the whole table, on 1,000,000 rows.

Builds a 10-column, 1,000,000-row table in a scratch MariaDB database (dropped at the end),
then runs each side in its own process so each has its own peak memory:

- pushdown: ``core.profile_stats.table_stats`` (exact, computed by the server);
- profile: the whole table loaded with pandas, then ydata-profiling's minimal report.

For orientation it also times one naive query with COUNT(DISTINCT …) of every column.
The last line is JSON: pushdown_s, profile_s, ratio, pushdown_peak_mb, profile_peak_mb,
memory_ratio, counts_agree (null and distinct counts of every column equal on both sides).

    python bench/profile.py [--server mysql+pymysql://root@127.0.0.1:3306/] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLE = """
CREATE TABLE events (
  id INT PRIMARY KEY,
  customer_id INT NOT NULL,
  status VARCHAR(12) NOT NULL,
  amount DECIMAL(10,2),
  email VARCHAR(60) NOT NULL,
  created DATE NOT NULL,
  updated DATETIME NOT NULL,
  score DOUBLE,
  country CHAR(2) NOT NULL,
  note VARCHAR(100),
  KEY ix_customer (customer_id)
)
"""
# Deterministic rows from MariaDB's sequence engine: every run builds the same table.
# (%% is the driver's escape for a literal %.)
FILL = """
INSERT INTO events
SELECT seq,
  1 + (seq * 7919) %% 50000,
  ELT(1 + (seq * 31) %% 5, 'active', 'pending', 'closed', 'cancelled', 'on hold'),
  IF(seq %% 50 = 0, NULL, ((seq * 104729) %% 100000) / 100),
  CONCAT('user', (seq * 15485863) %% 900000, '@example.com'),
  DATE('2015-01-01') + INTERVAL (seq * 13) %% 3650 DAY,
  TIMESTAMP('2015-01-01') + INTERVAL (seq * 7) SECOND,
  IF(seq %% 20 = 0, NULL, ((seq * 2654435761) %% 1000003) / 7.0),
  ELT(1 + (seq * 17) %% 40, 'US','GB','DE','FR','IT','ES','NL','BE','SE','NO','DK','FI','PL',
      'CZ','AT','CH','PT','IE','GR','HU','RO','BG','HR','SI','SK','LT','LV','EE','CA','MX',
      'BR','AR','CL','CO','PE','JP','KR','CN','IN','AU'),
  IF(seq %% 10 < 7, NULL, CONCAT('note ', (seq * 97) %% 1000))
FROM seq_1_to_{rows}
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def side_pushdown(url: str) -> dict:
    from core.profile_stats import table_stats
    from core.settings import Settings
    from core.target import open_target

    settings = Settings.load()
    target = open_target(url, settings)
    started = time.perf_counter()
    stats = table_stats(target, target.schema.table("events"), settings)
    seconds = time.perf_counter() - started
    counts = {c.name: [c.nulls, c.distinct] for c in stats.columns}
    return {
        "seconds": seconds,
        "peak_mb": _peak_mb(),
        "counts": counts,
        "statements": stats.statements,
    }


def side_profile(url: str) -> dict:
    import warnings

    import pandas as pd

    os.environ["YDATA_PROFILING_NO_ANALYTICS"] = "True"
    warnings.filterwarnings("ignore")
    try:
        from data_profiling import ProfileReport
    except ImportError:
        from ydata_profiling import ProfileReport

    engine = sa.create_engine(url)
    started = time.perf_counter()
    frame = pd.read_sql("SELECT * FROM events", engine)
    loaded = time.perf_counter() - started
    description = ProfileReport(frame, minimal=True, progress_bar=False).get_description()
    seconds = time.perf_counter() - started
    counts = {
        name: [int(v["n_missing"]), int(v["n_distinct"])]
        for name, v in description.variables.items()
    }
    return {"seconds": seconds, "load_s": loaded, "peak_mb": _peak_mb(), "counts": counts}


def naive_seconds(url: str) -> float:
    engine = sa.create_engine(url)
    columns = [c["name"] for c in sa.inspect(engine).get_columns("events")]
    sql = "SELECT " + ", ".join(f"COUNT(DISTINCT `{c}`)" for c in columns) + " FROM events"
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.exec_driver_sql(sql).all()
    engine.dispose()
    return time.perf_counter() - started


def _run_side(name: str, url: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--side", name, "--url", url],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--side", choices=("pushdown", "profile"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side = side_pushdown if args.side == "pushdown" else side_profile
        print(json.dumps(side(args.url)))
        return 0

    name = f"quarry_bench_{os.getpid()}"
    admin = sa.create_engine(args.server)
    url = sa.engine.make_url(args.server).set(database=name).render_as_string(False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    try:
        started = time.perf_counter()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"USE `{name}`")
            conn.exec_driver_sql(TABLE)
            conn.exec_driver_sql(FILL.format(rows=args.rows))
            conn.exec_driver_sql("ANALYZE TABLE events")
        print(f"built {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        naive = naive_seconds(url)
        print(f"naive COUNT(DISTINCT …) of every column: {naive:.2f} s")
        pushdown = _run_side("pushdown", url)
        print(
            f"pushdown: {pushdown['seconds']:.2f} s, {pushdown['statements']} statements, "
            f"peak {pushdown['peak_mb']:.0f} MB"
        )
        profile = _run_side("profile", url)
        print(
            f"ydata-profiling (minimal) on the whole table: {profile['seconds']:.2f} s "
            f"(loading {profile['load_s']:.2f} s), peak {profile['peak_mb']:.0f} MB"
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()

    differ = {
        c: (pushdown["counts"][c], profile["counts"].get(c))
        for c in pushdown["counts"]
        if pushdown["counts"][c] != profile["counts"].get(c)
    }
    if differ:
        print(f"counts differ (nulls, distinct): {differ}")
    result = {
        "pushdown_s": round(pushdown["seconds"], 3),
        "profile_s": round(profile["seconds"], 3),
        "ratio": round(profile["seconds"] / pushdown["seconds"], 2),
        "pushdown_peak_mb": round(pushdown["peak_mb"], 1),
        "profile_peak_mb": round(profile["peak_mb"], 1),
        "memory_ratio": round(profile["peak_mb"] / pushdown["peak_mb"], 2),
        "counts_agree": not differ,
        "naive_s": round(naive, 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
