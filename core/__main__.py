"""Quarry's command line: ``python -m core <command> ...``.

Commands print JSON with ``--json`` and a short text otherwise. Exit codes:
0 success; 1 the command ran but the question or a case failed (the JSON
says why); 2 bad input (a malformed URL, a server that does not answer, an
unreadable file), with a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from core.errors import BadInput, QuarryError
from core.settings import Settings

logger = logging.getLogger("core.cli")

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[..., int]]] = {}


def command(name: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    def register(func: Callable[..., int]):
        COMMANDS[name] = (add_arguments, func)
        return func

    return register


def emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def _url_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the target database")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _open(args: argparse.Namespace, settings: Settings):
    from core.target import open_target

    return open_target(args.url, settings)


def _glossary_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--glossary",
        metavar="FILE",
        help="a YAML or JSON glossary to use instead of the one stored for this database",
    )
    group.add_argument(
        "--no-glossary", action="store_true", help="use no glossary, not even the stored one"
    )


def _glossary(args: argparse.Namespace, settings: Settings):
    """The glossary a command uses: --glossary FILE, else the one stored for the URL's
    connection (the page's, when the URL is the demo's or a configured connection's)."""
    from core import glossary_store

    if args.no_glossary:
        return None
    if args.glossary:
        return glossary_store.read_file(args.glossary)
    from db.database import upgrade_to_head

    try:
        upgrade_to_head()
        return glossary_store.load(glossary_store.connection_key(args.url, settings)) or None
    except Exception as exc:  # the question matters more than its glossary
        logger.warning("Could not read the stored glossary: %s", exc)
        return None


def _ask_arguments(parser: argparse.ArgumentParser) -> None:
    _url_arguments(parser)
    _glossary_arguments(parser)
    parser.add_argument("question", help="the question, in plain English")
    parser.add_argument(
        "--engine",
        choices=("offline", "openai"),
        default=None,
        help="offline (default without an API key) or openai",
    )
    parser.add_argument("--no-history", action="store_true", help="do not save the run")
    parser.add_argument(
        "--as-written",
        action="store_true",
        help="skip the question check that asks back when the question is ambiguous",
    )
    _prompt_argument(parser)


def _prompt_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prompt-version",
        type=int,
        default=None,
        help="the store's prompt version the model is sent (default: the promoted one)",
    )


def _default_engine(args: argparse.Namespace, settings: Settings) -> str:
    return args.engine or ("openai" if settings.has_model else "offline")


def _template(args: argparse.Namespace) -> str:
    """The prompt version the Prompt lab promoted (or the one asked for), as the Ask page uses."""
    from core import prompts
    from core.prompt import DEFAULT_TEMPLATE
    from db.database import upgrade_to_head

    try:
        upgrade_to_head()
        if args.prompt_version is not None:
            return prompts.get_version(args.prompt_version).text
        return prompts.promoted_template()
    except QuarryError:
        raise
    except Exception as exc:  # no store to read: the built-in template still answers
        if args.prompt_version is not None:
            raise QuarryError(
                f"Prompt version {args.prompt_version} could not be read from the store: "
                f"{str(exc).splitlines()[0]}",
                hint="Check QUARRY_STORE_URL.",
            ) from None
        logger.warning("Using the built-in prompt; the store could not be read: %s", exc)
        return DEFAULT_TEMPLATE


@command("ask", _ask_arguments)
def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from core.ask import ask

    target = _open(args, settings)
    glossary = _glossary(args, settings)
    engine = _default_engine(args, settings)
    prompt = {"template": _template(args)} if engine == "openai" else {}  # bad input first
    question = args.question
    if not args.as_written:
        check = _question_check(question, target, glossary)
        if check is not None and not check.clear:
            return _asked_back(args, check)
        if check is not None:
            question = check.question_to_ask  # the glossary's saved readings applied
    result = ask(question, target, settings, engine=engine, glossary=glossary, **prompt)
    if not args.no_history:
        # under the connection's name when the URL is a known one, as the app keeps it
        _record(result, _connection_key(args, settings))
    lines = [f"SQL: {result.sql}" if result.sql else "SQL: (none)"]
    if result.ok:
        lines.append("\t".join(result.columns))
        lines.extend("\t".join(str(v) for v in row) for row in result.rows[:50])
        lines.append(f"({result.row_count} rows{', truncated' if result.truncated else ''})")
    else:
        lines.append(f"FAILED: {result.error} {result.hint or ''}".strip())
    emit(args, result.to_json(), "\n".join(lines))
    if not result.ok:
        print(f"FAILED: {result.error}", file=sys.stderr)
    return 0 if result.ok else 1


def _question_check(question: str, target, glossary):
    """The check the Ask page runs before any SQL; None when it cannot run."""
    from core.ambiguity import check_target

    try:
        return check_target(question, target, glossary=glossary)
    except QuarryError as exc:
        logger.warning("The question check did not run: %s", exc.message)
        return None


def _asked_back(args: argparse.Namespace, check) -> int:
    """An ambiguous question: its readings, as the Ask page offers them; nothing runs."""
    findings = check.to_json()["findings"]
    data = {
        "question": check.question,
        "sql": None,
        "engine": None,
        "status": "ambiguous",
        "columns": [],
        "rows": [],
        "row_count": 0,
        "truncated": False,
        "error": " ".join(f["message"] for f in findings),
        "hint": "Reword the question with one of the readings, or pass --as-written.",
        "findings": findings,
    }
    lines = ["AMBIGUOUS: nothing was run."]
    for finding in check.findings:
        lines.append(finding.message)
        lines += [f"  - {r.label}" for r in finding.readings]
    lines.append(data["hint"])
    emit(args, data, "\n".join(lines))
    return 1


def _connection_key(args: argparse.Namespace, settings: Settings) -> str:
    from core import glossary_store

    return glossary_store.connection_key(args.url, settings)


def _record(result, connection_name: str) -> None:
    from core import history
    from db.database import upgrade_to_head

    try:
        upgrade_to_head()
        history.record(result, connection_name)
    except Exception as exc:  # the answer matters more than its history entry
        logger.warning("Could not save the run in the store: %s", exc)


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    _url_arguments(parser)
    parser.add_argument(
        "--cases",
        required=True,
        help='JSONL file of {id, question, sql}; cases with "ambiguous" also score the check',
    )
    parser.add_argument("--engine", choices=("offline", "openai"), default=None)
    _glossary_arguments(parser)
    _prompt_argument(parser)


@command("eval", _eval_arguments)
def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from core.evaluate import ambiguity_report, evaluate, load_cases

    cases = load_cases(args.cases)
    if not any(c.get("sql") or "ambiguous" in c for c in cases):
        raise BadInput(
            f"No case in {args.cases} has a gold 'sql' or an 'ambiguous' flag, so there is "
            "nothing to score.",
            hint='Each case is {"id", "question", "sql"}; "ambiguous": true|false may stand '
            "in for the sql.",
        )
    target = _open(args, settings)
    glossary = _glossary(args, settings)
    engine = _default_engine(args, settings)
    prompt = {"template": _template(args)} if engine == "openai" else {}
    report = evaluate(cases, target, settings, engine=engine, glossary=glossary, **prompt)
    data = report.to_json()
    lines = [
        f"{r['id']}\t{r['status']}\t{r['sql'] or ''}".replace("\n", " ") for r in data["results"]
    ] + [
        f"accuracy {data['accuracy']:.3f}: {data['correct']} correct of {data['cases']}, "
        f"{data['answered']} answered"
    ]
    ambiguity = ambiguity_report(cases, target)
    if ambiguity is not None:
        data["ambiguity_results"] = ambiguity.pop("results")
        data["ambiguity"] = ambiguity
        lines += [
            f"{r['id']}\t{'flagged' if r['flagged'] else 'clear'}\t"
            f"{'ambiguous' if r['ambiguous'] else 'clear'}\t" + "; ".join(r["findings"])
            for r in data["ambiguity_results"]
        ]
        lines.append(
            f"ambiguity: recall {ambiguity['recall']}, false-alarm rate "
            f"{ambiguity['false_alarm_rate']} over {ambiguity['cases']} cases "
            f"({ambiguity['missed']} missed, {ambiguity['false_alarms']} false alarms)"
        )
    emit(args, data, "\n".join(lines))
    return 0


def _guard_arguments(parser: argparse.ArgumentParser) -> None:
    _url_arguments(parser)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--sql", help="one statement to judge")
    group.add_argument("--cases", help='JSONL file of {"id", "sql", "verdict"}')


@command("guard", _guard_arguments)
def cmd_guard(args: argparse.Namespace, settings: Settings) -> int:
    from core.evaluate import load_guard_cases
    from core.guard import verdict

    target = _open(args, settings)

    def judge(sql: str) -> tuple[str, str]:
        return verdict(sql, target.schema, dialect=target.dialect, row_cap=settings.row_limit)

    if args.sql is not None:
        result, reason = judge(args.sql)
        data = {
            "verdict": result,
            "reason": reason if result == "reject" else "",
            "sql": reason if result == "allow" else None,
        }
        emit(args, data, f"{result}: {reason}")
        return 0 if result == "allow" else 1  # a refused query "ran but failed", as in ask
    results = []
    guard_cases = load_guard_cases(args.cases)
    if not any(c.get("verdict") in ("allow", "reject") for c in guard_cases):
        raise BadInput(
            f"No case in {args.cases} has a 'verdict' of allow or reject.",
            hint='Each case is {"id", "sql", "verdict": "allow" or "reject"}.',
        )
    for case in guard_cases:
        result, reason = judge(case["sql"])
        results.append(
            {
                "id": case["id"],
                "expected": case.get("verdict"),
                "verdict": result,
                "reason": reason if result == "reject" else "",
            }
        )
    agree = sum(r["expected"] == r["verdict"] for r in results)
    data = {"cases": len(results), "agree": agree, "results": results}
    text = "\n".join(
        [
            f"{r['id']}\t{r['verdict']}\t{'ok' if r['expected'] == r['verdict'] else 'DISAGREES'}\t"
            f"{r['reason']}"
            for r in results
        ]
        + [f"{agree} of {len(results)} agree"]
    )
    emit(args, data, text)
    return 0


def _profile_arguments(parser: argparse.ArgumentParser) -> None:
    _url_arguments(parser)
    parser.add_argument("--table", help="profile only this table or view")


@command("profile", _profile_arguments)
def cmd_profile(args: argparse.Namespace, settings: Settings) -> int:
    """Exact column statistics computed in the database: nulls, distinct, min/max, top values."""
    from core.errors import BadInput
    from core.profile_stats import profile_tables

    target = _open(args, settings)
    tables = None
    if args.table:
        table = target.schema.table(args.table)
        if table is None:
            raise BadInput(
                f"There is no table or view '{args.table}' in {target.masked_url}.",
                hint="Run without --table to profile every table and view.",
            )
        tables = [table]
    found = profile_tables(target, settings, tables)
    lines = []
    for stats in found:
        lines.append(
            f"{stats.table}: {stats.rows} rows" + (f" FAILED: {stats.error}" if stats.error else "")
        )
        for c in stats.columns:
            top = ", ".join(f"{v!s}×{n}" for v, n in c.top[:3])
            lines.append(
                f"  {c.name}\tnulls {c.nulls}\tdistinct {c.distinct}\tmin {c.min!s}\t"
                f"max {c.max!s}\ttop {top}"
            )
    emit(args, {"tables": [s.to_json() for s in found]}, "\n".join(lines))
    return 0


@command("curate", _url_arguments)
def cmd_curate(args: argparse.Namespace, settings: Settings) -> int:
    """Findings: cryptic names, ambiguous names, inconsistent values, each with a fix."""
    from core.curate import curate
    from core.generate_sql import make_client

    target = _open(args, settings)
    client = make_client(settings) if settings.has_model else None
    curation = curate(target, settings, client=client)
    lines = [
        f"{f.table}.{f.column}\t{f.kind}\t{f.detail}\n\t→ {f.suggestion}" for f in curation.findings
    ]
    lines += [f"could not check {p}" for p in curation.problems]
    lines.append(f"{len(curation.findings)} findings")
    emit(args, curation.to_json(), "\n".join(lines))
    return 0


def _loss_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="trainer_state.json, trainer_log.jsonl, a CSV or event file")
    parser.add_argument("--json", action="store_true", help="print JSON")


@command("loss-report", _loss_arguments)
def cmd_loss_report(args: argparse.Namespace, settings: Settings) -> int:
    """Read a training log and say whether the run converged."""
    from core.loss_report import loss_report, report_text

    report = loss_report(args.file)
    emit(args, report, report_text(report))
    return 0


def _user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the user name people log in with")
    parser.add_argument("--reset", action="store_true", help="set a new password for a user")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


@command("add-user", _user_arguments)
def cmd_add_user(args: argparse.Namespace, settings: Settings) -> int:
    """Add a user of a team deployment (or reset a password) in the store."""
    import getpass

    from core.auth import add_user
    from db.database import upgrade_to_head

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("FAILED: the two passwords differ.", file=sys.stderr)
            return 2
    upgrade_to_head(settings.store_url)
    add_user(args.name, password, reset=args.reset, store_url=settings.store_url)
    print(f"{'Reset' if args.reset else 'Added'} user {args.name}.")
    return 0


def _training_data_arguments(parser: argparse.ArgumentParser) -> None:
    _url_arguments(parser)
    parser.add_argument("--out", required=True, help="folder for train.jsonl and validation.jsonl")
    parser.add_argument("--cases", help="eval set to include: JSONL of {id, question, sql}")
    parser.add_argument(
        "--no-synthetic", action="store_true", help="leave out the questions made from the schema"
    )
    parser.add_argument(
        "--validation-share", type=float, default=None, help="default QUARRY_VALIDATION_SHARE"
    )


@command("training-data", _training_data_arguments)
def cmd_training_data(args: argparse.Namespace, settings: Settings) -> int:
    """Write fine-tuning examples (OpenAI chat JSONL) whose every SQL runs on the target."""
    from pathlib import Path

    from core.errors import BadInput
    from core.training_data import build_training_data, read_cases

    cases = []
    if args.cases:
        path = Path(args.cases)
        if not path.is_file():
            raise BadInput(f"No cases file at {path}.", hint="Give the path of a .jsonl file.")
        cases = read_cases(path.read_bytes(), path.name)
    target = _open(args, settings)
    data = build_training_data(
        target,
        settings,
        cases=cases,
        synthetic=not args.no_synthetic,
        validation_share=args.validation_share,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = {part: out / f"{part}.jsonl" for part in ("train", "validation")}
    for part, path in files.items():
        path.write_bytes(data.jsonl(part))
    report = {
        "train": len(data.train),
        "validation": len(data.validation),
        "dropped": len(data.dropped),
        "duplicates": data.duplicates,
        "by_source": data.by_source(),
        "by_kind": data.by_kind(),
        "tables": data.summary(),
        "files": {part: str(path) for part, path in files.items()},
    }
    text = (
        f"{report['train']} train and {report['validation']} validation examples, "
        f"{report['dropped']} dropped, {report['duplicates']} duplicates\n"
        + "\n".join(f"{r['table']}\t{r['examples']}" for r in report["tables"])
        + "\n"
        + "\n".join(str(p) for p in files.values())
    )
    emit(args, report, text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, func) in COMMANDS.items():
        child = sub.add_parser(name, help=(func.__doc__ or "").strip() or None)
        add_arguments(child)
        child.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.load()
    try:
        return args.func(args, settings)
    except QuarryError as exc:
        print(f"FAILED: {exc.explanation}", file=sys.stderr)
        if getattr(args, "json", False):
            print(json.dumps({"error": exc.message, "hint": exc.hint}))
        return 2


if __name__ == "__main__":
    sys.exit(main())
