"""Whether a target's user could write, read from the server's own grants.

Quarry never writes to a target (the guard and the read-only transaction
see to that), but a user that can only SELECT is the sturdier guarantee. A
connection whose user holds more is flagged, with the statements that create
a SELECT-only user.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import sqlalchemy as sa

from core.target import Target

logger = logging.getLogger(__name__)

# Privileges that only read (or only show): anything else can change data or schema.
READ_PRIVILEGES = frozenset(
    {
        "SELECT",
        "SHOW VIEW",
        "USAGE",
        "SHOW DATABASES",
        "PROCESS",
        "REPLICATION CLIENT",
        "BINLOG MONITOR",
        "SLAVE MONITOR",
        "REPLICA MONITOR",
    }
)
_PASSWORD = re.compile(r"IDENTIFIED (BY|VIA|WITH)\s.*?(?=\s+(WITH|REQUIRE)\b|$)", re.IGNORECASE)
_GRANT = re.compile(r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?P<scope>\S+)\s+TO\s", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class GrantCheck:
    can_write: bool
    write_privileges: tuple[str, ...]
    grants: tuple[str, ...]
    fix: str  # SQL that creates a SELECT-only user

    @property
    def summary(self) -> str:
        if not self.can_write:
            return "The connection's user can only read."
        return "The connection's user can write: " + ", ".join(self.write_privileges) + "."


def _split_privileges(text: str) -> list[str]:
    # "SELECT, INSERT (col), ALL PRIVILEGES" -> ["SELECT", "INSERT", "ALL PRIVILEGES"]
    depth, current, parts = 0, "", []
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [re.sub(r"\(.*\)", "", p).strip().upper() for p in parts if p.strip()]


def _mysql_scope_applies(scope: str, database: str | None) -> bool:
    db = scope.split(".", 1)[0].strip("`'\"")
    return db == "*" or database is None or db == database or db.replace("\\_", "_") == database


def mysql_write_privileges(grants: list[str], database: str | None) -> list[str]:
    """Privileges beyond reading that the grants give on `database` (or anywhere)."""
    found: list[str] = []
    for line in grants:
        match = _GRANT.match(line.strip())
        if not match or not _mysql_scope_applies(match["scope"], database):
            continue
        for privilege in _split_privileges(match["privs"]):
            if privilege == "PROXY" or privilege in READ_PRIVILEGES:
                continue
            found.append(privilege)
    return list(dict.fromkeys(found))


def _mysql_fix(database: str | None) -> str:
    scope = f"`{database}`.*" if database else "`your_database`.*"
    return (
        "CREATE USER 'quarry_ro'@'%' IDENTIFIED BY 'choose-a-password';\n"
        f"GRANT SELECT, SHOW VIEW ON {scope} TO 'quarry_ro'@'%';"
    )


def _postgres_fix(database: str | None) -> str:
    db = database or "your_database"
    return (
        "CREATE ROLE quarry_ro LOGIN PASSWORD 'choose-a-password';\n"
        f"GRANT CONNECT ON DATABASE {db} TO quarry_ro;\n"
        "GRANT USAGE ON SCHEMA public TO quarry_ro;\n"
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO quarry_ro;\n"
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO quarry_ro;"
    )


_PG_WRITE = """
SELECT
  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
  (SELECT bool_or(has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')) AS tables,
  has_database_privilege(current_database(), 'CREATE') AS create_schema
"""


def check_grants(target: Target) -> GrantCheck | None:
    """The grant check for a target; None where it does not apply (SQLite files)."""
    backend = target.server.backend
    database = target.server.database
    try:
        with target.engine.connect() as conn:
            if backend == "mysql":
                # SHOW GRANTS may carry the password hash; it never leaves this function.
                grants = [
                    _PASSWORD.sub("IDENTIFIED BY ***", r[0])
                    for r in conn.exec_driver_sql("SHOW GRANTS")
                ]
                writes = mysql_write_privileges(grants, database)
                return GrantCheck(bool(writes), tuple(writes), tuple(grants), _mysql_fix(database))
            if backend == "postgresql":
                superuser, tables, create = conn.exec_driver_sql(_PG_WRITE).one()
                writes = [
                    name
                    for name, flag in (
                        ("SUPERUSER", superuser),
                        ("INSERT/UPDATE/DELETE on tables", tables),
                        ("CREATE", create),
                    )
                    if flag
                ]
                return GrantCheck(bool(writes), tuple(writes), (), _postgres_fix(database))
    except sa.exc.DBAPIError as exc:
        logger.info("Could not read the grants: %s", str(exc.orig).splitlines()[0])
    return None
