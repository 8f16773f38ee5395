"""The demo database: a telecom's circuits and billing, with the warts real company data has.

A new user with no database and no API key asks questions of it on first run, and the curation
features measure themselves against its ground truth (``ground_truth.json`` beside this file,
read with ``db.demo.truth.load_ground_truth``).

    url = ensure_demo()            # builds <data_dir>/demo.sqlite once, returns sqlite:///...
    load_into("mysql+pymysql://root@127.0.0.1:3306/quarry_demo")   # the same rows elsewhere

Command line: ``python -m db.demo [--path FILE | --url URL] [--force]``.
"""

from __future__ import annotations

from db.demo.build import DEMO_VERSION, ensure_demo, load_into
from db.demo.generate import SEED, generate
from db.demo.schema import metadata

__all__ = [
    "DEMO_VERSION",
    "SEED",
    "ensure_demo",
    "generate",
    "load_into",
    "metadata",
]
