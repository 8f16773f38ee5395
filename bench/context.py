"""Schema selection at scale: gold-table recall on Spider's 876 tables as one schema.

Every table of every database in Spider's tables.json becomes one table of a
single large schema, named ``db_id.table`` (foreign keys kept, within each
database). For each of the 1,034 dev questions ``core.context.select_context``
picks a context within the budget; a question counts as recalled when every
table its gold query reads is in the context. A second check builds 400
filler tables plus ``customers`` and ``orders`` (with a foreign key between
them) and asks for "total order value per customer name": both must be kept,
within the budget. The last line printed is JSON.

    python bench/context.py [--spider ../shared/data/text2sql-sets/spider-dev] [--budget 4000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

from core.context import select_context  # noqa: E402
from core.linking import build_lexicon  # noqa: E402
from core.schema import Column, ForeignKey, Schema, Table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPIDER = ROOT.parent / "shared" / "data" / "text2sql-sets" / "spider-dev"
TYPES = {
    "text": "varchar(255)",
    "number": "int",
    "time": "datetime",
    "boolean": "boolean",
    "others": "blob",
}
FILLER_QUESTION = "total order value per customer name"


def spider_schema(tables_json: Path, *, neutral_names: bool = False) -> tuple[Schema, dict]:
    """All Spider databases as one schema; returns it and each db's table names.

    With `neutral_names` the tables are qualified by a meaningless code instead of
    the db_id, to see how much the database names themselves help.
    """
    databases = json.loads(tables_json.read_text(encoding="utf-8"))
    tables: list[Table] = []
    prefixes: dict[str, str] = {}
    names: dict[str, list[str]] = {}
    for number, db in enumerate(databases):
        prefix = f"zq{number:03d}x" if neutral_names else db["db_id"]
        prefixes[db["db_id"]] = prefix
        names[db["db_id"]] = db["table_names_original"]
        columns = db["column_names_original"]
        keys: set[int] = set()
        for key in db["primary_keys"]:
            keys.update(key if isinstance(key, list) else [key])
        for index, table_name in enumerate(db["table_names_original"]):
            own = [i for i, (t, _) in enumerate(columns) if t == index]
            foreign = [
                ForeignKey(
                    columns=(columns[child][1],),
                    ref_table=f"{prefix}.{db['table_names_original'][columns[parent][0]]}",
                    ref_columns=(columns[parent][1],),
                )
                for child, parent in db["foreign_keys"]
                if columns[child][0] == index
            ]
            tables.append(
                Table(
                    name=f"{prefix}.{table_name}",
                    columns=[Column(columns[i][1], TYPES[db["column_types"][i]]) for i in own],
                    primary_key=tuple(columns[i][1] for i in own if i in keys),
                    foreign_keys=foreign,
                )
            )
    schema = Schema(backend="sqlite", default_schema=None, tables=tables)
    return schema, {"prefixes": prefixes, "names": names}


def gold_tables(query: str, sql: dict, names: list[str]) -> set[str]:
    """The tables a Spider gold query reads, subqueries and set operations included.

    Read from the query's text; Spider's parsed form drops a table now and then
    (a join inside an EXCEPT), and serves only when the text does not parse.
    """
    by_lower = {n.lower(): n for n in names}
    try:
        tree = sqlglot.parse_one(query, dialect="sqlite")
        found = {by_lower[t.name.lower()] for t in tree.find_all(exp.Table) if t.name}
    except (sqlglot.errors.ParseError, KeyError):
        found = set()
    if found:
        return found

    def conditions(items: list) -> None:
        for item in items:
            if isinstance(item, list):
                for operand in item[3:5]:
                    if isinstance(operand, dict):
                        walk(operand)

    def walk(query: dict | None) -> None:
        if not query:
            return
        for kind, unit in query["from"]["table_units"]:
            if kind == "table_unit":
                found.add(names[unit])
            else:
                walk(unit)
        conditions(query["from"]["conds"])
        conditions(query["where"])
        conditions(query["having"])
        for key in ("intersect", "union", "except"):
            walk(query.get(key))

    walk(sql)
    return found


def spider_recall(spider: Path, budget: int, *, neutral_names: bool = False) -> dict:
    schema, info = spider_schema(spider / "tables.json", neutral_names=neutral_names)
    lexicon = build_lexicon(schema)
    questions = json.loads((spider / "dev.json").read_text(encoding="utf-8"))
    recalled = tokens = 0
    started = time.perf_counter()
    for q in questions:
        prefix = info["prefixes"][q["db_id"]]
        gold = {
            f"{prefix}.{t}" for t in gold_tables(q["query"], q["sql"], info["names"][q["db_id"]])
        }
        context = select_context(
            q["question"], schema, lexicon, dialect="sqlite", budget_tokens=budget
        )
        assert context.tokens <= budget, (q["question"], context.tokens)
        recalled += gold <= set(context.tables)
        tokens += context.tokens
    seconds = time.perf_counter() - started
    return {
        "questions": len(questions),
        "tables": len(schema.tables),
        "recall": round(recalled / len(questions), 4),
        "mean_context_tokens": round(tokens / len(questions), 1),
        "ms_per_question": round(seconds * 1000 / len(questions), 2),
    }


FILLER_NOUNS = (
    "warehouse shipment carrier route depot pallet invoice_batch ledger audit vendor "
    "contract asset device sensor ticket campaign channel region zone branch"
).split()
FILLER_KINDS = (
    "log entry snapshot detail line summary event rule note setting "
    "history archive link queue score rating tag flag metric version"
).split()


def filler_schema(count: int = 400) -> Schema:
    """`count` filler tables plus customers and orders, which a foreign key links.

    The fillers share the common words (name, value, total, created) and a few
    carry "order" or "customer" in a column name, so ranking has to tell them apart.
    """
    tables: list[Table] = []
    names = [f"{noun}_{kind}" for noun in FILLER_NOUNS for kind in FILLER_KINDS][:count]
    for number, name in enumerate(names):
        columns = [
            Column("id", "int", nullable=False),
            Column("name", "varchar(80)"),
            Column("code", "varchar(20)"),
            Column("status", "varchar(20)"),
            Column("total_value" if number % 3 == 0 else "amount", "decimal(12,2)"),
            Column("created_at", "datetime"),
        ]
        if number % 40 == 7:
            columns.append(Column("order_note", "text"))
        if number % 40 == 13:
            columns.append(Column("customer_code", "varchar(20)"))
        foreign = []
        if number % 5:
            columns.append(Column("parent_id", "int"))
            foreign.append(ForeignKey(("parent_id",), names[number - 1], ("id",)))
        tables.append(Table(name, columns=columns, primary_key=("id",), foreign_keys=foreign))
    tables.append(
        Table(
            "customers",
            columns=[
                Column("customer_id", "int", nullable=False),
                Column("name", "varchar(100)"),
                Column("email", "varchar(200)"),
                Column("city", "varchar(80)"),
            ],
            primary_key=("customer_id",),
        )
    )
    tables.append(
        Table(
            "orders",
            columns=[
                Column("order_id", "int", nullable=False),
                Column("customer_id", "int", nullable=False),
                Column("order_date", "date"),
                Column("order_value", "decimal(12,2)"),
            ],
            primary_key=("order_id",),
            foreign_keys=[ForeignKey(("customer_id",), "customers", ("customer_id",))],
        )
    )
    return Schema(backend="mysql", default_schema=None, tables=tables)


def filler_kept(budget: int) -> dict:
    schema = filler_schema()
    context = select_context(
        FILLER_QUESTION, schema, build_lexicon(schema), dialect="mysql", budget_tokens=budget
    )
    kept = {"customers", "orders"} <= set(context.tables) and context.tokens <= budget
    return {"kept": kept, "tables": context.tables, "tokens": context.tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path, default=SPIDER)
    parser.add_argument("--budget", type=int, default=4000)
    args = parser.parse_args()

    spider = spider_recall(args.spider, args.budget)
    print(f"Spider, tables named db_id.table: {json.dumps(spider)}")
    neutral = spider_recall(args.spider, args.budget, neutral_names=True)
    print(f"Spider, tables named by a meaningless code: {json.dumps(neutral)}")
    filler = filler_kept(args.budget)
    print(f"400 fillers + customers, orders: {json.dumps(filler)}")
    print(
        json.dumps(
            {
                "questions": spider["questions"],
                "recall": spider["recall"],
                "mean_context_tokens": spider["mean_context_tokens"],
                "filler_400_kept": filler["kept"],
            }
        )
    )


if __name__ == "__main__":
    main()
