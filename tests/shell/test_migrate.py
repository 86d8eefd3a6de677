"""Migrations apply once each, in order, under a lock; a changed applied file stops everything."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from vvv.io import migrate


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url)


def _applied(url: str) -> list[str]:
    with _connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM vvv.schema_migrations ORDER BY applied_at, name")]


def test_core_comes_before_collectors_and_files_sort_by_name() -> None:
    names = ["news/002_b.sql", "darkpool/001_a.sql", "core/002_x.sql", "news/001_a.sql", "core/001_y.sql"]
    assert sorted(names, key=migration_order) == [
        "core/001_y.sql",
        "core/002_x.sql",
        "darkpool/001_a.sql",
        "news/001_a.sql",
        "news/002_b.sql",
    ]


migration_order = migrate.migration_order


def test_shipped_migrations_are_found_in_order() -> None:
    names = [m.name for m in migrate.discover(migrate.sql_dir())]
    assert names[0].startswith("core/")
    assert "news/001_news_headlines.sql" in names


def test_applies_everything_once_then_nothing(empty_db_url: str) -> None:
    migrations = migrate.discover(migrate.sql_dir())
    with _connect(empty_db_url) as conn:
        first = migrate.migrate(conn, migrations)
        second = migrate.migrate(conn, migrations)
    assert first == [m.name for m in migrations]
    assert second == []
    assert sorted(_applied(empty_db_url)) == sorted(first)


def test_dry_run_lists_and_changes_nothing(empty_db_url: str) -> None:
    migrations = migrate.discover(migrate.sql_dir())
    with _connect(empty_db_url) as conn:
        listed = migrate.migrate(conn, migrations, dry_run=True)
        exists = conn.execute("SELECT to_regclass('vvv.schema_migrations')").fetchone()[0]
    assert listed == [m.name for m in migrations]
    assert exists is None


def test_changed_applied_file_is_an_error_naming_it(empty_db_url: str, tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(migrate.sql_dir(), sql)
    with _connect(empty_db_url) as conn:
        migrate.migrate(conn, migrate.discover(sql))
    target = sql / "news" / "001_news_headlines.sql"
    target.write_text(target.read_text() + "\n-- edited after the fact\n")
    with _connect(empty_db_url) as conn, pytest.raises(migrate.MigrationError, match="news/001_news_headlines.sql"):
        migrate.migrate(conn, migrate.discover(sql))


def test_failed_migration_names_the_file_and_records_nothing(empty_db_url: str, tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(migrate.sql_dir(), sql)
    (sql / "news" / "002_broken.sql").write_text("ALTER TABLE trading.no_such_table ADD COLUMN x int;")
    with _connect(empty_db_url) as conn, pytest.raises(migrate.MigrationError, match="news/002_broken.sql"):
        migrate.migrate(conn, migrate.discover(sql))
    assert "news/002_broken.sql" not in _applied(empty_db_url)
    assert "news/001_news_headlines.sql" in _applied(empty_db_url)


def test_two_processes_starting_at_once_apply_each_migration_once(empty_db_url: str) -> None:
    migrations = migrate.discover(migrate.sql_dir())
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        try:
            with _connect(empty_db_url) as conn:
                barrier.wait(timeout=10)
                results.append(migrate.migrate(conn, migrations))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, len(migrations)]
    assert sorted(_applied(empty_db_url)) == sorted(m.name for m in migrations)
