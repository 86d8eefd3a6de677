"""sql/roles.sql: vvv_owner migrates, vvv_collector collects and can do nothing else, vvv_reader reads.

The script runs as the test server's superuser, through psql as an operator runs it. Roles
are per server, not per database, so every test runs the script on its own database against
roles an earlier test may have made: that it is idempotent is part of what is tested. The
tests log in as each role by name, which the embedded server allows (trust over its socket).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from loguru import logger
from psycopg.conninfo import make_conninfo

from tests.conftest import ROOT, TOKEN, run_vvv
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.io import migrate, store
from vvv.io.http import ApiClient
from vvv.run.runner import run_once
from vvv.run.service import Service

ROLES_SQL = ROOT / "sql" / "roles.sql"
ROLES = ("vvv_owner", "vvv_collector", "vvv_reader")
NEWS = COLLECTORS["news"]
NEWS_CONFIG = CollectorConfig(enabled=True, interval=1, extended_interval=1, closed_interval=1, stale_after=None,
                              options=news.Settings(page_size=50, first_run_pages=3))
DENIED = psycopg.errors.InsufficientPrivilege


def _psql() -> str | None:
    try:
        import pgserver
    except ImportError:
        pgserver = None
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql" if pgserver else None
    return str(bundled) if bundled and bundled.is_file() else shutil.which("psql")


def run_roles_sql(url: str) -> str:
    """Run the script as an operator does (`psql -v ON_ERROR_STOP=1 -f sql/roles.sql`); its stderr."""
    psql = _psql()
    if psql is None:  # no psql anywhere: the same text through psycopg (the script has no psql commands)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(ROLES_SQL.read_bytes())
        return ""
    done = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(ROLES_SQL)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    return done.stderr


def as_role(url: str, role: str) -> str:
    return make_conninfo(url, user=role)


def _connect(url: str, role: str) -> psycopg.Connection:
    return store.connect(as_role(url, role), statement_timeout_s=30)


def _all_migrations() -> list[migrate.Migration]:
    return migrate.discover(migrate.sql_dir())


def _extra_migration(name: str, text: str) -> migrate.Migration:
    return migrate.Migration(name, text, hashlib.sha256(text.encode()).hexdigest())


def install_roles(url: str) -> str:
    """Run the script on `url` as its superuser; skip where the test server cannot play the operator."""
    with psycopg.connect(url) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    if not superuser:
        pytest.skip("sql/roles.sql needs a superuser; the test server's user is not one")
    stderr = run_roles_sql(url)
    try:
        psycopg.connect(as_role(url, "vvv_collector")).close()
    except psycopg.OperationalError as error:
        pytest.skip(f"the test server does not let the vvv roles log in without a password: {error}")
    return stderr


@pytest.fixture
def roles_db(empty_db_url: str) -> str:
    """A new database with the roles in place and no migration applied."""
    install_roles(empty_db_url)
    return empty_db_url


@pytest.fixture
def migrated_db(roles_db: str) -> str:
    """Roles, then every migration applied as vvv_owner, then the script again (for vvv_reader on vvv.runs)."""
    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, _all_migrations())
    run_roles_sql(roles_db)
    return roles_db


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[ApiClient]:
    api = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=1, read_timeout=5, sleep=lambda _: None)
    yield api
    api.close()


def _owners(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            owner
            for (owner,) in conn.execute(
                "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname IN ('vvv', 'trading')"
                " UNION SELECT relowner::regrole::text FROM pg_class"
                " WHERE relnamespace IN ('vvv'::regnamespace, 'trading'::regnamespace)"
            )
        }


def _attempt(url: str, role: str, statement: str) -> str:
    """`ok`, or the SQLSTATE class name the statement failed with, run as `role` and rolled back."""
    with _connect(url, role) as conn:
        try:
            conn.execute(statement)
        except psycopg.Error as error:
            return error.__class__.__name__
        finally:
            conn.rollback()
    return "ok"


# --- the collector collects ----------------------------------------------------------------


def test_owner_migrates_and_collector_collects_twice(roles_db: str, fake_api: FakeApi, client: ApiClient) -> None:
    with _connect(roles_db, "vvv_owner") as conn:
        applied = migrate.migrate(conn, _all_migrations())
    assert applied == [m.name for m in _all_migrations()]
    assert _owners(roles_db) == {"vvv_owner"}

    fake_api.malformed_items(40)  # rejects too: vvv.rejects gets rows
    with _connect(roles_db, "vvv_collector") as conn:
        assert migrate.migrate(conn, _all_migrations()) == []  # what `vvv run` does first: nothing pending
        first = run_once(NEWS, NEWS_CONFIG, conn=conn, client=client)
        fake_api.add_news(30)
        second = run_once(NEWS, NEWS_CONFIG, conn=conn, client=client)
        stored = conn.execute("SELECT count(*) FROM trading.news_headlines").fetchone()[0]
        rejects = conn.execute("SELECT count(*) FROM vvv.rejects").fetchone()[0]
        cursor_run = conn.execute("SELECT run_id FROM vvv.cursors WHERE collector = 'news'").fetchone()[0]
        statuses = conn.execute("SELECT status FROM vvv.runs ORDER BY id").fetchall()
    assert (first.status, first.error) == ("ok", None)
    assert first.inserted > 0 and first.rejects > 0
    assert (second.status, second.error) == ("ok", None)
    assert second.inserted > 0 and second.duplicates > 0
    assert stored == first.inserted + second.inserted
    assert rejects == first.rejects + second.rejects
    assert cursor_run == second.run_id  # the cursor row was updated in place
    assert statuses == [("ok",), ("ok",)]


def test_collector_may_not_change_the_schema_or_delete_data(migrated_db: str) -> None:
    with _connect(migrated_db, "vvv_owner") as conn:
        conn.execute("INSERT INTO trading.news_headlines (id, created_at, headline, source)"
                     " VALUES ('h1', now(), 'a headline', 'src')")
        conn.commit()
    statements = [
        "DROP TABLE trading.news_headlines",
        "ALTER TABLE trading.news_headlines ADD COLUMN x int",
        "CREATE TABLE trading.x (a int)",
        "CREATE TABLE vvv.x (a int)",
        "CREATE SCHEMA x",
        "CREATE INDEX x ON trading.news_headlines (source)",
        "TRUNCATE trading.news_headlines",
        "TRUNCATE vvv.runs",
        "DELETE FROM trading.news_headlines",
        "UPDATE trading.news_headlines SET headline = 'changed'",
        "INSERT INTO vvv.schema_migrations (name, checksum) VALUES ('x/001_x.sql', 'x')",
        "DELETE FROM vvv.schema_migrations",
        "DROP TABLE vvv.schema_migrations",
        "SELECT nextval('vvv.runs_id_seq')",
    ]
    with psycopg.connect(migrated_db) as conn:
        if conn.info.server_version >= 150000:  # before 15, PUBLIC may create in schema public by default
            statements.append("CREATE TABLE public.x (a int)")
    outcomes = {statement: _attempt(migrated_db, "vvv_collector", statement) for statement in statements}
    assert outcomes == dict.fromkeys(statements, DENIED.__name__)
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute("SELECT headline FROM trading.news_headlines").fetchall() == [("a headline",)]


@pytest.mark.parametrize("applied", ["all but the last", "none"])
def test_collector_says_who_must_apply_a_pending_migration(roles_db: str, applied: str) -> None:
    migrations = _all_migrations()
    done = migrations[:-1] if applied == "all but the last" else []
    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, done)
    pending = migrations[len(done)]
    with _connect(roles_db, "vvv_collector") as conn, pytest.raises(migrate.MigrationError) as raised:
        migrate.migrate(conn, migrations)
    message = str(raised.value)
    assert f"sql/{pending.name}" in message
    assert "'vvv_collector'" in message
    assert "run `vvv migrate`" in message and "owner role" in message
    with psycopg.connect(roles_db) as conn:
        recorded = [name for (name,) in conn.execute("SELECT name FROM vvv.schema_migrations ORDER BY name")]
    assert sorted(recorded) == sorted(m.name for m in done)


def test_vvv_once_as_the_collector_with_a_pending_migration_exits_1_naming_the_fix(
    roles_db: str, fake_api: FakeApi, tmp_path: Path
) -> None:
    migrations = _all_migrations()
    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, migrations[:-1])
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "VVV_DATABASE_URL": as_role(roles_db, "vvv_collector"),
        "VVV_UW_BASE_URL": fake_api.url,
        "VVV_UW_TOKEN": TOKEN,
        "VVV_DATA_DIR": str(tmp_path / "data"),
    }
    pending = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert pending.returncode == 1, pending.stderr
    assert f"sql/{migrations[-1].name} is pending" in pending.stderr
    assert "run `vvv migrate` once as the owner role" in pending.stderr
    assert "Traceback" not in pending.stderr

    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, migrations)
    collected = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    assert "news: ok" in collected.stdout


def test_collector_has_what_vvv_run_needs(migrated_db: str, fake_api: FakeApi, client: ApiClient) -> None:
    """The advisory lock, the instance row, closing a dead predecessor's runs, passes, shutdown, pruning."""
    old = datetime.now(UTC) - timedelta(days=200)
    with psycopg.connect(migrated_db) as conn:
        conn.execute("INSERT INTO vvv.runs (collector, status, instance) VALUES ('news', 'running', 'run dead:1')")
        conn.execute("INSERT INTO vvv.runs (collector, status, started_at, finished_at) VALUES ('news', 'ok', %s, %s)",
                     (old, old))
        conn.execute("INSERT INTO vvv.instances (name, role, heartbeat_at) VALUES ('gone:1', 'active', %s)", (old,))
    complaints: list[str] = []
    sink = logger.add(lambda message: complaints.append(str(message)), level="WARNING")
    service = Service(url=as_role(migrated_db, "vvv_collector"), collectors={"news": (NEWS, NEWS_CONFIG)},
                      client=client, statement_timeout_s=10, runs_retention_s=90 * 86400)
    loop = threading.Thread(target=service.run, kwargs={"handle_signals": False})
    try:
        loop.start()
        deadline = time.monotonic() + 20
        while service.schedule_state()["news"]["passes"] < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        service.stop()
        loop.join(timeout=15)
    finally:
        logger.remove(sink)
    assert not loop.is_alive()
    assert complaints == []
    assert service.schedule_state()["news"]["passes"] >= 1
    with psycopg.connect(migrated_db) as conn:
        dead = conn.execute("SELECT status, error FROM vvv.runs WHERE instance = 'run dead:1'").fetchone()
        mine = conn.execute("SELECT status FROM vvv.runs WHERE instance = %s", (service.instance,)).fetchall()
        instance = conn.execute("SELECT role FROM vvv.instances WHERE name = %s", (service.name,)).fetchone()
    assert dead[0] == "failed" and dead[1].startswith("interrupted")
    assert mine and {status for (status,) in mine} <= {"ok", "failed"}
    assert ("ok",) in mine
    assert instance == ("stopped",)

    with _connect(migrated_db, "vvv_collector") as conn:  # the hourly chore, run now
        pruned = store.prune(conn, before=datetime.now(UTC) - timedelta(days=90))
        instances = [name for (name,) in conn.execute("SELECT name FROM vvv.instances")]
    assert pruned == 1
    assert "gone:1" not in instances and service.name in instances


def test_collector_needs_no_right_on_identity_sequences(migrated_db: str) -> None:
    with psycopg.connect(migrated_db) as conn:
        granted = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relkind = 'S'"
            " AND relnamespace IN ('vvv'::regnamespace, 'trading'::regnamespace)"
            " AND (has_sequence_privilege('vvv_collector', oid, 'USAGE')"
            "      OR has_sequence_privilege('vvv_collector', oid, 'UPDATE'))"
        ).fetchone()[0]
    assert granted == 0
    with _connect(migrated_db, "vvv_collector") as conn:
        run_id = store.start_run(conn, "news")
        conn.execute("INSERT INTO vvv.rejects (collector, run_id, reason, raw) VALUES ('news', %s, 'r', '{}')",
                     (run_id,))
        conn.commit()


# --- the reader reads ----------------------------------------------------------------------


def test_reader_reads_data_and_runs_and_writes_nothing(migrated_db: str, fake_api: FakeApi, client: ApiClient) -> None:
    with _connect(migrated_db, "vvv_collector") as conn:
        result = run_once(NEWS, NEWS_CONFIG, conn=conn, client=client)
    assert result.status == "ok"
    with _connect(migrated_db, "vvv_reader") as conn:
        assert conn.execute("SELECT count(*) FROM trading.news_headlines").fetchone()[0] == result.inserted
        assert conn.execute("SELECT status FROM vvv.runs").fetchall() == [("ok",)]
        conn.rollback()
    denied = [
        "INSERT INTO trading.news_headlines (id, created_at, headline, source) VALUES ('x', now(), 'x', 'x')",
        "UPDATE trading.news_headlines SET headline = 'x'",
        "DELETE FROM trading.news_headlines",
        "SELECT * FROM vvv.cursors",
        "SELECT * FROM vvv.rejects",
        "SELECT * FROM vvv.instances",
        "SELECT * FROM vvv.schema_migrations",
        "INSERT INTO vvv.runs (collector) VALUES ('x')",
        "CREATE TABLE trading.x (a int)",
    ]
    outcomes = {statement: _attempt(migrated_db, "vvv_reader", statement) for statement in denied}
    assert outcomes == dict.fromkeys(denied, DENIED.__name__)


# --- the script ------------------------------------------------------------------------------


def _grants_snapshot(url: str) -> list[tuple]:
    """Everything the script sets: role attributes, owners, ACLs, default ACLs."""
    with psycopg.connect(url) as conn:
        return [
            *conn.execute(
                "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,"
                " rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname", (list(ROLES),)
            ).fetchall(),
            *conn.execute("SELECT datname, datacl::text FROM pg_database WHERE datname = current_database()"),
            *conn.execute(
                "SELECT nspname, nspowner::regrole::text, nspacl::text FROM pg_namespace"
                " WHERE nspname IN ('vvv', 'trading') ORDER BY nspname"
            ),
            *conn.execute(
                "SELECT oid::regclass::text, relowner::regrole::text, relacl::text FROM pg_class"
                " WHERE relnamespace IN ('vvv'::regnamespace, 'trading'::regnamespace) ORDER BY 1"
            ),
            *conn.execute(
                "SELECT defaclrole::regrole::text, defaclnamespace::regnamespace::text, defaclobjtype,"
                " defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3"
            ),
        ]


def test_script_runs_twice_and_the_second_run_changes_nothing(roles_db: str) -> None:
    before = _grants_snapshot(roles_db)
    run_roles_sql(roles_db)
    assert _grants_snapshot(roles_db) == before
    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, _all_migrations())
    run_roles_sql(roles_db)
    migrated = _grants_snapshot(roles_db)
    run_roles_sql(roles_db)
    assert _grants_snapshot(roles_db) == migrated
    with psycopg.connect(roles_db) as conn:
        roles = conn.execute("SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
                             " WHERE rolname = ANY(%s) ORDER BY rolname", (list(ROLES),)).fetchall()
    assert roles == [(name, True, False, False, False) for name in sorted(ROLES)]


def test_script_before_the_first_migration_makes_the_schemas_and_says_to_run_again(empty_db_url: str) -> None:
    stderr = install_roles(empty_db_url)
    assert "run this script again after the first `vvv migrate`" in stderr or _psql() is None
    assert _owners(empty_db_url) == {"vvv_owner"}


def test_schema_migrations_made_by_the_script_equals_the_migrators(roles_db: str, db_url: str) -> None:
    def shape(url: str) -> list[tuple]:
        with psycopg.connect(url) as conn:
            return conn.execute(
                "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns"
                " WHERE table_schema = 'vvv' AND table_name = 'schema_migrations' ORDER BY ordinal_position"
            ).fetchall() + conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'vvv'"
                " AND tablename = 'schema_migrations' ORDER BY 1"
            ).fetchall()

    assert shape(roles_db) == shape(db_url)  # db_url: migrated by vvv/io/migrate.py's own bootstrap


def test_a_database_migrated_by_another_role_changes_hands(db_url: str, fake_api: FakeApi, client: ApiClient) -> None:
    """The tests' databases are migrated by the superuser, like an embedded one: the script takes them over."""
    assert _owners(db_url) != {"vvv_owner"}
    install_roles(db_url)
    assert _owners(db_url) == {"vvv_owner"}
    later = _extra_migration(
        "zz_later/001_later.sql",
        "ALTER TABLE trading.news_headlines ADD COLUMN later int;"
        " CREATE TABLE trading.later (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int);"
        " CREATE TABLE vvv.later_ops (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int);",
    )
    with _connect(db_url, "vvv_owner") as conn:  # the owner can apply new migrations on what it now owns
        assert migrate.migrate(conn, [*_all_migrations(), later]) == [later.name]
    with _connect(db_url, "vvv_collector") as conn:  # and default privileges cover what they create
        assert run_once(NEWS, NEWS_CONFIG, conn=conn, client=client).status == "ok"
        conn.execute("INSERT INTO trading.later (a) VALUES (1)")
        conn.execute("INSERT INTO vvv.later_ops (a) VALUES (1)")
        conn.execute("UPDATE vvv.later_ops SET a = 2")
        conn.execute("DELETE FROM vvv.later_ops")
        conn.commit()
    with _connect(db_url, "vvv_reader") as conn:
        assert conn.execute("SELECT a FROM trading.later").fetchall() == [(1,)]
        assert conn.execute("SELECT count(*) FROM vvv.runs").fetchone()[0] == 1
        conn.rollback()
    assert _attempt(db_url, "vvv_collector", "DELETE FROM trading.later") == DENIED.__name__
    assert _attempt(db_url, "vvv_reader", "SELECT * FROM vvv.later_ops") == DENIED.__name__


def test_the_collector_opens_a_days_option_trades_partition_without_ddl(db_url: str) -> None:
    """The stream meets a new trading day's first trade as the collector, which may not CREATE:
    the owner's SECURITY DEFINER function opens the partition, owned by vvv_owner."""
    install_roles(db_url)
    assert _attempt(db_url, "vvv_collector", "CREATE TABLE trading.option_trades_x"
                    " PARTITION OF trading.option_trades FOR VALUES FROM ('2026-01-01') TO ('2026-01-02')"
                    ) == DENIED.__name__
    with _connect(db_url, "vvv_collector") as conn:
        name = conn.execute("SELECT vvv.option_trades_partition('2026-08-17')").fetchone()[0]
        assert conn.execute("SELECT vvv.option_trades_partition('2026-08-17')").fetchone()[0] == name
        conn.execute("INSERT INTO trading.option_trades (id, executed_at, underlying_symbol, option_chain_id)"
                     " VALUES ('01a00fea-2bfa-7fa2-8e44-be414b76be74', '2026-08-17 13:30:00.00714+00', 'QQQ',"
                     " 'QQQ260820P00710000')")
        conn.commit()
    assert name == "trading.option_trades_20260817"
    with psycopg.connect(db_url) as conn:
        owner, bounds = conn.execute(
            "SELECT c.relowner::regrole::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_class c"
            " WHERE c.oid = 'trading.option_trades_20260817'::regclass").fetchone()
    assert owner == "vvv_owner"
    assert bounds == "FOR VALUES FROM ('2026-08-17 04:00:00+00') TO ('2026-08-18 04:00:00+00')"
    with _connect(db_url, "vvv_reader") as conn:
        assert conn.execute("SELECT underlying_symbol FROM trading.option_trades").fetchall() == [("QQQ",)]
    assert _attempt(db_url, "vvv_reader", "SELECT vvv.option_trades_partition('2099-01-01')") == DENIED.__name__


REVISABLE = {"darkpool_trades", "economic_events", "earnings", "market_tide", "ohlc", "insider_transactions",
             "congress_trades", "fda_events"}


def _updatable(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {name for (name,) in conn.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'trading'::regnamespace AND relkind IN ('r', 'p')"
            " AND NOT relispartition AND has_table_privilege('vvv_collector', oid, 'UPDATE')")}


@pytest.mark.parametrize("script_again", [False, True], ids=["migrations alone", "then the script"])
def test_the_collector_may_update_the_revisable_tables_only(roles_db: str, script_again: bool) -> None:
    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, _all_migrations())
    if script_again:
        run_roles_sql(roles_db)
    assert _updatable(roles_db) == REVISABLE
