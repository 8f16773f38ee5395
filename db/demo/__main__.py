"""``python -m db.demo``: build the demo SQLite file if it is missing, or load the demo elsewhere.

The last line printed is the database's URL (its password hidden); a failure is one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import sqlalchemy as sa

from core.errors import QuarryError
from db.demo.build import ensure_demo, load_into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.demo",
        description="Build Quarry's demo database (a telecom's circuits and billing).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--path", type=Path, help="SQLite file to build (default: demo.sqlite in data_dir)"
    )
    where.add_argument(
        "--url", help="load the demo into this existing database instead (a SQLAlchemy URL)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild the file even if it is there, or replace the demo tables at --url",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    try:
        if args.url:
            load_into(args.url, replace=args.force)
            url = sa.engine.make_url(args.url).render_as_string(hide_password=True)
        else:
            url = ensure_demo(args.path, force=args.force)
    except QuarryError as exc:
        print("FAILED: " + " ".join(exc.explanation.split()), file=sys.stderr)
        return 2

    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
