"""The project's shape: core/ stays free of Streamlit, requirements are pinned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_core_imports_no_streamlit():
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_requirements_pin_exact_versions():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if not line or line.startswith("-r"):
                continue
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][A-Za-z0-9.\-]*", line), line


def test_every_page_file_is_listed_in_the_router():
    router = (ROOT / "app.py").read_text()
    pages = [
        p.name for p in (ROOT / "pages").glob("*.py") if p.name not in ("__init__.py", "shared.py")
    ]
    assert pages
    for page in pages:
        assert f'PAGES_DIR / "{page}"' in router, page


def test_every_setting_is_documented_in_the_readme():
    from core.settings import SETTINGS

    readme = (ROOT / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert missing == []


def test_ci_runs_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = [
        line
        for line in readme.splitlines()
        if line.startswith("python3 -m venv .venv") and "pytest" in line
    ]
    assert len(commands) == 1
    assert "README.md" in (ROOT / ".ci" / "run").read_text()
