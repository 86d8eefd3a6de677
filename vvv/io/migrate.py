"""Migrations: plain SQL files under `sql/`, applied once each, in a defined order.

Order: `sql/core/` first, then every other folder (one per collector) by name, files by
name within a folder. Each file runs in its own transaction together with its row in
`vvv.schema_migrations`; an advisory lock keeps two starting processes from racing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
from attrs import frozen
from loguru import logger

from vvv.errors import Fatal

_LOCK_KEY = 0x767676_4D4947  # "vvv" "MIG": any constant unique to vvv's migrator
_BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS vvv;
CREATE TABLE IF NOT EXISTS vvv.schema_migrations (
    name       text        PRIMARY KEY,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


class MigrationError(Fatal):
    """The database and the migration files disagree; nothing should collect until fixed."""


@frozen
class Migration:
    name: str  # path relative to sql/, e.g. "news/001_news_headlines.sql"
    sql: str
    checksum: str


def sql_dir() -> Path:
    """The migrations shipped with this vvv: inside the package when installed or frozen, else the repo's."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "sql"
    return packaged if packaged.is_dir() else package.parent / "sql"


def migration_order(name: str) -> tuple[int, str, str]:
    """Core before collectors; then folder and file names."""
    folder, _, file = name.rpartition("/")
    return (0 if folder == "core" else 1, folder, file)


def discover(directory: Path) -> list[Migration]:
    """The migration files: `*.sql` in the folders under `directory` (files at its top level, like
    roles.sql, are for operators to run by hand, never applied automatically)."""
    files = [p for p in directory.glob("*/**/*.sql") if p.is_file()]
    migrations = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(directory).as_posix()
        migrations.append(Migration(name, text, hashlib.sha256(text.encode()).hexdigest()))
    return sorted(migrations, key=lambda m: migration_order(m.name))


def pending(conn: psycopg.Connection, migrations: list[Migration]) -> list[Migration]:
    """The migrations not yet applied; a changed applied file is an error naming it."""
    applied = dict(conn.execute("SELECT name, checksum FROM vvv.schema_migrations").fetchall())
    for migration in migrations:
        recorded = applied.get(migration.name)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"migration sql/{migration.name} was changed after it was applied "
                f"(applied checksum {recorded[:12]}, file now {migration.checksum[:12]}); "
                "restore the file and put the change in a new migration"
            )
    unknown = sorted(set(applied) - {m.name for m in migrations})
    if unknown:
        logger.warning("the database has migrations this vvv does not know: {}", ", ".join(unknown))
    return [m for m in migrations if m.name not in applied]


def migrate(conn: psycopg.Connection, migrations: list[Migration], *, dry_run: bool = False) -> list[str]:
    """Apply what is pending (or only list it with `dry_run`); returns the names."""
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        if not _has_table(conn):  # a role without CREATE rights gets here only on a new database
            if dry_run:
                return [m.name for m in migrations]
            _bootstrap(conn)
        todo = pending(conn, migrations)
        if dry_run:
            return [m.name for m in todo]
        for migration in todo:
            _apply(conn, migration)
        return [m.name for m in todo]
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.autocommit = False


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    logger.info("applying migration {}", migration.name)
    try:
        with conn.transaction():
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO vvv.schema_migrations (name, checksum) VALUES (%s, %s)",
                (migration.name, migration.checksum),
            )
    except psycopg.errors.InsufficientPrivilege:
        raise MigrationError(
            f"migration sql/{migration.name} is pending and the database role {conn.info.user!r} may not apply it:"
            " run `vvv migrate` once as the owner role (see docs/security.md), then start vvv again"
        ) from None
    except psycopg.Error as error:
        raise MigrationError(f"migration sql/{migration.name} failed: {error}".strip()) from None


def _bootstrap(conn: psycopg.Connection) -> None:
    try:
        conn.execute(_BOOTSTRAP)
    except psycopg.errors.InsufficientPrivilege:
        raise MigrationError(
            f"the database has no vvv tables yet and the role {conn.info.user!r} may not create them:"
            " run `vvv migrate` once as the owner role (see docs/security.md)"
        ) from None


def _has_table(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass('vvv.schema_migrations') IS NOT NULL").fetchone()[0]
