"""Fine-tuning examples for text-to-SQL, written as OpenAI chat JSONL.

Examples come from eval-set cases (``{"id", "question", "sql"}``), Ask runs
marked good, and questions written from the schema (``core.synthetic_questions``).
Every SQL passes the guard and runs on the target read-only; only those that
return rows become examples. With a model, each question can also be
paraphrased.

An example's messages are the ones Ask sends a model for that question
(``core.ask.build_prompt``: instructions, the schema context and glossary
in the system message, the question in the user message), followed by the
SQL as the assistant's answer, fenced as the prompt asks. Questions are
de-duplicated, and the split into train and validation keeps every question
of one SQL on the same side, so the validation loss measures questions about
queries the model has not seen.

    data = build_training_data(target, settings, cases=cases, history=good_runs())
    data.jsonl("train"), data.jsonl("validation"), data.summary()
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from core.ask import build_prompt
from core.errors import BadInput, ModelUnavailable, QuarryError
from core.evaluate import parse_jsonl
from core.execute import run_query
from core.generate_sql import complete
from core.glossary import Glossary
from core.guard import check_sql
from core.history import HistoryEntry
from core.prompt import DEFAULT_TEMPLATE
from core.settings import Settings
from core.synthetic_questions import KINDS, sql_kind, synthetic_questions
from core.target import Target

logger = logging.getLogger(__name__)

EVAL_SET = "eval set"
HISTORY = "history"
SYNTHETIC = "synthetic"
PARAPHRASE = "paraphrase"
SOURCES = (EVAL_SET, HISTORY, SYNTHETIC, PARAPHRASE)
CHECK_ROWS = 20  # rows fetched to see that a query answers; the rest is not needed


@dataclasses.dataclass(frozen=True)
class Pair:
    """A question and its SQL before they are checked; `kind` empty means read it off the SQL."""

    question: str
    sql: str
    source: str
    kind: str = ""
    ref: str = ""  # the case id, the history run, or the template that wrote it


@dataclasses.dataclass
class Example:
    """A checked pair with the messages of one chat-format training line."""

    question: str
    sql: str
    source: str
    kind: str
    tables: tuple[str, ...]
    messages: list[dict[str, str]]

    def line(self) -> str:
        answer = {"role": "assistant", "content": f"```sql\n{self.sql}\n```"}
        return json.dumps({"messages": [*self.messages, answer]}, ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class Dropped:
    question: str
    sql: str
    source: str
    reason: str


@dataclasses.dataclass
class Checked:
    """What checking pairs gave: the examples, and the pairs dropped with the reason."""

    examples: list[Example] = dataclasses.field(default_factory=list)
    dropped: list[Dropped] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TrainingData:
    train: list[Example]
    validation: list[Example]
    dropped: list[Dropped]
    duplicates: int
    warnings: list[str]

    @property
    def examples(self) -> list[Example]:
        return self.train + self.validation

    def jsonl(self, part: str) -> bytes:
        """The train or validation file: one chat example per line."""
        examples = {"train": self.train, "validation": self.validation}[part]
        return "".join(e.line() + "\n" for e in examples).encode("utf-8")

    def by_source(self) -> dict[str, int]:
        counts = Counter(e.source for e in self.examples)
        return {s: counts[s] for s in SOURCES if counts[s]}

    def by_kind(self) -> dict[str, int]:
        counts = Counter(e.kind for e in self.examples)
        return {k: counts[k] for k in KINDS if counts[k]}

    def summary(self) -> list[dict[str, Any]]:
        """One row per table: examples using it, train and validation, and one column per kind.

        A join counts under each table it reads, so the rows add up to more than the examples.
        """
        rows: dict[str, dict[str, Any]] = {}
        for part, examples in (("train", self.train), ("validation", self.validation)):
            for e in examples:
                for table in e.tables:
                    row = rows.setdefault(
                        table,
                        {"table": table, "examples": 0, "train": 0, "validation": 0}
                        | {k: 0 for k in KINDS},
                    )
                    row["examples"] += 1
                    row[part] += 1
                    row[e.kind] += 1
        used = [k for k in KINDS if any(r[k] for r in rows.values())]
        ordered = sorted(rows.values(), key=lambda r: (-r["examples"], r["table"]))
        return [{k: v for k, v in r.items() if k not in KINDS or k in used} for r in ordered]


def read_cases(data: bytes, name: str = "upload") -> list[dict[str, Any]]:
    """Eval-set cases from the bytes of a JSONL upload, the ``python -m core eval`` format."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(
            f"{name} is not UTF-8 text.", hint="Upload the eval set as a UTF-8 .jsonl file."
        ) from None
    cases = parse_jsonl(text, name, "question", '{"id", "question", "sql"}')
    missing = [str(c["id"]) for c in cases if not str(c.get("sql") or "").strip()]
    if missing:
        raise BadInput(
            f"{len(missing)} case(s) in {name} have no SQL ({', '.join(missing[:5])}).",
            hint='Training examples need the gold SQL of each question; add a "sql" to each.',
        )
    if not cases:
        raise BadInput(f"{name} holds no cases.", hint='Each line is {"id", "question", "sql"}.')
    return cases


def pairs_from_cases(cases: Iterable[dict[str, Any]], source: str = EVAL_SET) -> list[Pair]:
    return [
        Pair(str(c["question"]).strip(), str(c["sql"]).strip(), source, ref=str(c.get("id", "")))
        for c in cases
        if str(c.get("question") or "").strip() and str(c.get("sql") or "").strip()
    ]


def pairs_from_schema(target: Target, glossary: Glossary | None = None) -> list[Pair]:
    """Synthetic questions from the schema (``core.synthetic_questions``), not yet run;
    worded with the glossary's meanings and synonyms when one is given."""
    return [
        Pair(q.question, q.sql, SYNTHETIC, q.kind, q.template)
        for q in synthetic_questions(target, glossary)
    ]


def pairs_from_history(entries: Iterable[HistoryEntry]) -> list[Pair]:
    """Good Ask runs that had a question (hand-written SQL without one teaches nothing)."""
    return [
        Pair(e.question.strip(), e.sql.strip(), HISTORY, ref=f"run {e.id}")
        for e in entries
        if e.question.strip() and (e.sql or "").strip()
    ]


def examples_from_cases(
    cases: Iterable[dict[str, Any]],
    target: Target,
    settings: Settings,
    *,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
) -> Checked:
    """Eval-set cases checked and run on `target`: the seam an eval-set store plugs into."""
    return check_pairs(
        pairs_from_cases(cases), target, settings, glossary=glossary, template=template
    )


def check_pairs(
    pairs: Iterable[Pair],
    target: Target,
    settings: Settings,
    *,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    progress: Callable[[int, str], None] | None = None,
) -> Checked:
    """Guard and run each pair's SQL; those that return rows become examples."""
    checked = Checked()
    for number, pair in enumerate(pairs, start=1):
        if progress is not None:
            progress(number, pair.question)
        try:
            guarded = check_sql(pair.sql, target.schema, dialect=target.dialect, row_cap=CHECK_ROWS)
            result = run_query(
                target.engine,
                guarded.exec_sql,
                server=target.server,
                row_cap=CHECK_ROWS,
                timeout_s=settings.query_timeout_s,
            )
        except QuarryError as exc:
            checked.dropped.append(Dropped(pair.question, pair.sql, pair.source, exc.message))
            continue
        if not result.rows or all(v is None for v in result.rows[0]):
            checked.dropped.append(
                Dropped(pair.question, pair.sql, pair.source, "The query returned no rows.")
            )
            continue
        checked.examples.append(
            _example(pair, guarded.tables, target, settings, glossary, template)
        )
    return checked


def _example(
    pair: Pair,
    tables: Sequence[str],
    target: Target,
    settings: Settings,
    glossary: Glossary | None,
    template: str,
) -> Example:
    messages = build_prompt(
        pair.question, target, settings, glossary=glossary, template=template
    ).messages
    if [m["role"] for m in messages] != ["system", "user"]:
        raise BadInput(
            "The prompt template has no system part, so the examples would have no schema "
            "context of their own.",
            hint="Split the template with a line '---' between the system and the user part.",
        )
    return Example(
        question=pair.question,
        sql=pair.sql,
        source=pair.source,
        kind=pair.kind or sql_kind(pair.sql, target.dialect),
        tables=tuple(tables),
        messages=messages,
    )


# -- paraphrases -----------------------------------------------------------------

PARAPHRASE_PROMPT = """\
You rewrite questions that analysts ask about a database. Write {n} different ways to ask
the question below, as a person would type them. Keep the meaning exactly: the same
filters, the same numbers, and every quoted value exactly as written, quotes included.
Answer with one question per line and nothing else."""

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.):]|\(\d+\))\s*")


def _question_key(question: str) -> str:
    return " ".join(question.casefold().split()).rstrip("?.! ")


def _clean_paraphrases(text: str, original: str, n: int) -> list[str]:
    """Lines of a model's answer that are questions keeping every quoted value of the original."""
    quoted = re.findall(r"'([^']+)'", original)
    seen = {_question_key(original)}
    kept = []
    for line in text.splitlines():
        candidate = _BULLET.sub("", line).strip().strip('"').strip()
        key = _question_key(candidate)
        if len(candidate.split()) < 3 or key in seen or "```" in candidate:
            continue
        if any(v.casefold() not in candidate.casefold() for v in quoted):
            continue
        seen.add(key)
        kept.append(candidate)
    return kept[:n]


def paraphrase_pairs(
    examples: Sequence[Example],
    client: Any,
    settings: Settings,
    *,
    per_question: int = 2,
    progress: Callable[[int, str], None] | None = None,
) -> tuple[list[Pair], list[str]]:
    """Paraphrases of each example's question with its SQL; a model failure stops early.

    Returns the pairs and warnings; what was paraphrased before a failure is kept.
    """
    pairs: list[Pair] = []
    for number, example in enumerate(examples, start=1):
        if progress is not None:
            progress(number, example.question)
        messages = [
            {"role": "system", "content": PARAPHRASE_PROMPT.format(n=per_question)},
            {"role": "user", "content": example.question},
        ]
        try:
            reply = complete(client, settings, messages)
        except ModelUnavailable as exc:
            done = f"{number - 1} of {len(examples)}"
            return pairs, [f"Paraphrasing stopped after {done} questions: {exc.explanation}"]
        for question in _clean_paraphrases(reply.text, example.question, per_question):
            pairs.append(Pair(question, example.sql, PARAPHRASE, example.kind, example.question))
    return pairs, []


# -- the whole build -------------------------------------------------------------


def deduplicate(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """The first example of each question (case, spacing and end punctuation ignored)."""
    kept: dict[str, Example] = {}
    duplicates = 0
    for example in examples:
        key = _question_key(example.question)
        if key in kept:
            duplicates += 1
            continue
        kept[key] = example
    return list(kept.values()), duplicates


def _sql_key(sql: str) -> str:
    return " ".join(sql.casefold().split()).rstrip("; ")


def split(
    examples: Sequence[Example], validation_share: float, *, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Train and validation examples; all questions of one SQL land on the same side.

    The side is chosen by a hash of the SQL, so a rebuild puts an example where it was.
    """
    if not 0.0 <= validation_share < 1.0:
        raise BadInput(
            f"The validation share must be at least 0 and below 1, not {validation_share:g}.",
            hint="0.2 puts a fifth of the examples in the validation file.",
        )
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(_sql_key(example.sql), []).append(example)

    def rank(key: str) -> str:
        return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()

    ordered = sorted(groups, key=rank)
    wanted = round(validation_share * len(examples))
    if validation_share > 0 and len(groups) > 1:
        wanted = max(wanted, 1)
    held: set[str] = set()
    count = 0
    for key in ordered:
        if count >= wanted or len(held) == len(groups) - 1:
            break
        held.add(key)
        count += len(groups[key])
    train = [e for e in examples if _sql_key(e.sql) not in held]
    validation = [e for e in examples if _sql_key(e.sql) in held]
    return train, validation


def build_training_data(
    target: Target,
    settings: Settings,
    *,
    cases: Iterable[dict[str, Any]] = (),
    history: Iterable[HistoryEntry] = (),
    synthetic: bool = True,
    paraphrases: int = 0,
    client: Any = None,
    glossary: Glossary | None = None,
    template: str = DEFAULT_TEMPLATE,
    validation_share: float | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> TrainingData:
    """Examples from every source, checked, de-duplicated and split into train and validation.

    ``paraphrases`` > 0 asks the model (``client``) for that many rewordings per question.
    """
    share = settings.validation_share if validation_share is None else validation_share
    glossary = glossary or Glossary()
    pairs = pairs_from_cases(cases) + pairs_from_history(history)
    if synthetic:
        pairs += pairs_from_schema(target, glossary)
    if not pairs:
        raise BadInput(
            "There is nothing to build examples from.",
            hint="Upload an eval set, mark good answers on the Ask page, or turn on synthetic "
            "questions.",
        )

    def report(number: int, question: str, total: int = len(pairs), what: str = "Checking") -> None:
        if progress is not None:
            progress(f"{what} {number} of {total}: {question}")

    checked = check_pairs(
        pairs, target, settings, glossary=glossary, template=template, progress=report
    )
    examples, duplicates = deduplicate(checked.examples)
    warnings: list[str] = []
    if paraphrases > 0 and examples:
        if client is None:
            raise BadInput(
                "Paraphrases need a model.", hint="Set OPENAI_API_KEY or OPENAI_BASE_URL."
            )
        extra, warnings = paraphrase_pairs(
            examples,
            client,
            settings,
            per_question=paraphrases,
            progress=lambda n, q: report(n, q, len(examples), "Paraphrasing"),
        )
        more = [
            _example(p, _tables_of(examples, p.sql), target, settings, glossary, template)
            for p in extra
        ]
        examples, again = deduplicate(examples + more)
        duplicates += again
    train, validation = split(examples, share, seed=seed)
    logger.info(
        "Training data: %d train, %d validation, %d dropped, %d duplicates",
        len(train),
        len(validation),
        len(checked.dropped),
        duplicates,
    )
    return TrainingData(train, validation, checked.dropped, duplicates, warnings)


def _tables_of(examples: Sequence[Example], sql: str) -> tuple[str, ...]:
    return next((e.tables for e in examples if e.sql == sql), ())
