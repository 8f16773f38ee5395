"""The ydata-profiling report of a table whose names and values are hostile HTML."""

from __future__ import annotations

import sqlite3
from html.parser import HTMLParser

from core.profile_report import build_report
from core.settings import Settings
from core.target import open_target

NAMES = ["<script>alert('name')</script>", "q\" onmouseover=\"alert('quote')"]
IMAGE = "<img src=x onerror=alert('value')>"


class _Executable(HTMLParser):
    """What a browser would run: script bodies and on* handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.code: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        self.code += [value or "" for name, value in attrs if name.startswith("on")]

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.code.append(data)


def test_names_and_values_reach_the_report_as_text_never_as_markup(tmp_path):
    path = tmp_path / "hostile.db"
    con = sqlite3.connect(path)
    columns = ", ".join('"{}" TEXT'.format(n.replace('"', '""')) for n in NAMES)
    con.execute(f'CREATE TABLE "t{NAMES[0]}" (id INTEGER PRIMARY KEY, {columns}, n INT)')
    con.executemany(
        f'INSERT INTO "t{NAMES[0]}" VALUES (?, ?, ?, ?)',
        [(i, IMAGE if i % 3 else "plain", "x", 7) for i in range(60)],
    )
    con.commit()
    con.close()
    settings = Settings.load()
    target = open_target(f"sqlite:///{path}", settings)
    try:
        report = build_report(target, target.schema.main_tables[0], settings, sample_rows=100)
    finally:
        target.close()
    parser = _Executable()
    parser.feed(report.html)
    assert parser.code, "the report has scripts of its own"
    assert not [c for c in parser.code if "alert(" in c], "a name or value became code"
    assert report.sampled == 60
    assert {a.column for a in report.alerts} & {*NAMES, "n"}, "alerts name the real columns"
