"""Bulk information_schema reads against SQLAlchemy's inspector, near and far.

Builds 300 tables of 30 columns (each with a foreign key to the one before)
in a scratch MariaDB database, then reads the whole schema with
``core.introspect.read_mysql_bulk`` and with the inspector table by table,
first directly, then through a local TCP proxy that delays every message from
client to server by 5 ms, as a server across a network would. Each side runs
three times; the best time counts. The last line printed is JSON.

    python bench/introspect.py [--url mysql+pymysql://root@127.0.0.1:3306/]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.introspect import read_mysql_bulk  # noqa: E402

TABLES = 300
COLUMNS = 30
DELAY_S = 0.005
TYPES = ("INT", "VARCHAR(64)", "DECIMAL(12,2)", "DATETIME", "TEXT", "BIGINT", "DATE", "DOUBLE")


class DelayProxy:
    """Forwards TCP to `upstream`, holding each client-to-server chunk for `delay_s`."""

    def __init__(self, upstream: tuple[str, int], delay_s: float) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(
                target=self._pipe, args=(client, server, self.delay_s), daemon=True
            ).start()
            threading.Thread(target=self._pipe, args=(server, client, 0.0), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, delay_s: float) -> None:
        try:
            while chunk := source.recv(65536):
                if delay_s:
                    time.sleep(delay_s)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def build_schema(admin: sa.Engine, name: str) -> None:
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        for i in range(TABLES):
            columns = ["id INT PRIMARY KEY"]
            if i:
                columns.append("parent_id INT")
            while len(columns) < COLUMNS:
                n = len(columns)
                columns.append(f"c{n} {TYPES[n % len(TYPES)]} COMMENT 'column {n} of t{i}'")
            if i:
                columns.append(f"FOREIGN KEY (parent_id) REFERENCES t{i - 1}(id)")
            conn.exec_driver_sql(f"CREATE TABLE `{name}`.t{i} ({', '.join(columns)})")


def read_with_inspector(engine: sa.Engine, schema: str) -> int:
    """Every table through a fresh inspector: columns, primary key, foreign keys."""
    inspector = sa.inspect(engine)
    count = 0
    for table in inspector.get_table_names(schema=schema):
        count += len(inspector.get_columns(table, schema=schema))
        inspector.get_pk_constraint(table, schema=schema)
        inspector.get_foreign_keys(table, schema=schema)
    return count


def read_bulk(engine: sa.Engine, schema: str) -> int:
    with engine.connect() as conn:
        result = read_mysql_bulk(conn, [schema])
    return sum(len(t.columns) for t in result.tables)


def best_of(runs: int, func, *args) -> tuple[float, int]:
    best, value = float("inf"), 0
    for _ in range(runs):
        started = time.perf_counter()
        value = func(*args)
        best = min(best, time.perf_counter() - started)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    name = f"quarry_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.url)
    print(f"building {TABLES} tables x {COLUMNS} columns in {name} ...", flush=True)
    build_schema(admin, name)
    base = sa.engine.make_url(args.url).set(database=name)
    proxy = DelayProxy((base.host or "127.0.0.1", base.port or 3306), DELAY_S)
    try:
        direct = sa.create_engine(base)
        remote = sa.create_engine(base.set(host="127.0.0.1", port=proxy.port))
        bulk_s, bulk_n = best_of(args.runs, read_bulk, direct, name)
        inspector_s, inspector_n = best_of(args.runs, read_with_inspector, direct, name)
        remote_bulk_s, _ = best_of(args.runs, read_bulk, remote, name)
        remote_inspector_s, _ = best_of(args.runs, read_with_inspector, remote, name)
        assert bulk_n == inspector_n == TABLES * COLUMNS, (bulk_n, inspector_n)
        print(f"direct: bulk {bulk_s:.3f} s, inspector {inspector_s:.3f} s")
        print(
            f"through the {DELAY_S * 1000:.0f} ms proxy: bulk {remote_bulk_s:.3f} s, "
            f"inspector {remote_inspector_s:.3f} s"
        )
        direct.dispose()
        remote.dispose()
    finally:
        proxy.close()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()
    print(
        json.dumps(
            {
                "bulk_s": round(bulk_s, 4),
                "inspector_s": round(inspector_s, 4),
                "direct_ratio": round(inspector_s / bulk_s, 2),
                "remote_bulk_s": round(remote_bulk_s, 4),
                "remote_inspector_s": round(remote_inspector_s, 4),
                "remote_ratio": round(remote_inspector_s / remote_bulk_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
