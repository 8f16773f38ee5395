"""A connection whose user can write is flagged; a SELECT-only one is not."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from core.grants import check_grants, mysql_write_privileges
from core.settings import Settings
from core.target import open_target


def test_reading_grant_lines():
    grants = [
        "GRANT USAGE ON *.* TO `ro`@`%` IDENTIFIED BY PASSWORD '*ABC'",
        "GRANT SELECT, SHOW VIEW ON `sales`.* TO `ro`@`%`",
        "GRANT INSERT, UPDATE (note) ON `other`.* TO `ro`@`%`",
    ]
    assert mysql_write_privileges(grants, "sales") == []
    assert mysql_write_privileges(grants, "other") == ["INSERT", "UPDATE"]
    assert mysql_write_privileges(["GRANT ALL PRIVILEGES ON *.* TO `root`@`%`"], "x") == [
        "ALL PRIVILEGES"
    ]


@pytest.mark.mysql
def test_root_is_flagged_and_a_select_only_user_is_not(mysql_server_url, chinook_url):
    settings = Settings.load()
    root = open_target(chinook_url, settings)
    flagged = check_grants(root)
    assert flagged.can_write and "GRANT SELECT, SHOW VIEW ON `Chinook`.*" in flagged.fix
    root.close()

    user, password = f"q_ro_{uuid.uuid4().hex[:6]}", "ro-" + uuid.uuid4().hex
    admin = sa.create_engine(mysql_server_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'")
        conn.exec_driver_sql(f"GRANT SELECT, SHOW VIEW ON Chinook.* TO '{user}'@'127.0.0.1'")
    try:
        url = sa.engine.make_url(chinook_url).set(username=user, password=password)
        reader = open_target(url.render_as_string(hide_password=False), settings)
        check = check_grants(reader)
        assert not check.can_write
        assert all(password not in g for g in check.grants)
        assert not any("PASSWORD '*" in g for g in check.grants), "hashes are masked"
        reader.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP USER '{user}'@'127.0.0.1'")
        admin.dispose()


def test_sqlite_files_need_no_grant_check(tmp_path):
    import sqlite3

    path = tmp_path / "x.db"
    sqlite3.connect(path).execute("CREATE TABLE t (a INT)").connection.close()
    target = open_target(f"sqlite:///{path}", Settings.load())
    assert check_grants(target) is None
    target.close()
