"""Fixtures for the real services the tests use: PostgreSQL (embedded, or
VVV_TEST_DATABASE_URL) with a fresh migrated database per test, and the fake API."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from loguru import logger
from psycopg.conninfo import make_conninfo

from tests.fakes.api import FakeApi
from vvv.io import embedded, migrate, store

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TOKEN = "test-token-4f9c2a7e1d"
DSN_PASSWORD = "pw-secret-123"  # the password tests put in database URLs; never to be logged either
SECRETS = (TOKEN, DSN_PASSWORD)
ROOT = Path(__file__).resolve().parent.parent
_TEMPLATE = "vvv_test_template"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def no_secret_is_logged() -> Iterator[None]:
    """Every test doubles as a check that no log line carries the token or a database password."""
    lines: list[str] = []
    sink = logger.add(lines.append, level="TRACE", format="{message} {extra}\n{exception}")
    yield
    try:
        logger.remove(sink)
    except ValueError:
        pass  # a test replaced the handlers (vvv.logs.setup); what it logged is its own test's business
    leaked = [line for line in lines if any(secret in line for secret in SECRETS)]
    assert not leaked, f"secrets in log lines: {leaked[:3]}"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PostgreSQL server for the whole session; the embedded one unless VVV_TEST_DATABASE_URL is set."""
    return os.environ.get("VVV_TEST_DATABASE_URL") or embedded.start(tmp_path_factory.mktemp("vvv-data"))


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(server_url, autocommit=True)


@pytest.fixture(scope="session")
def template_db(server_url: str) -> str:
    """A migrated database that each test's database is copied from."""
    with _admin(server_url) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE}")
        admin.execute(f"CREATE DATABASE {_TEMPLATE}")
    with psycopg.connect(make_conninfo(server_url, dbname=_TEMPLATE)) as conn:
        migrate.migrate(conn, migrate.discover(migrate.sql_dir()))
    return _TEMPLATE


def _fresh_database(server_url: str, template: str) -> Iterator[str]:
    name = f"vvv_test_{os.getpid()}_{next(_counter)}"
    with _admin(server_url) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with _admin(server_url) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    yield from _fresh_database(server_url, template_db)


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """A fresh database with no vvv tables."""
    yield from _fresh_database(server_url, "template0")


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    connection = store.connect(db_url, statement_timeout_s=30)
    yield connection
    connection.close()


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=7, news_count=250) as api:
        yield api


@pytest.fixture
def cli_env(db_url: str, fake_api: FakeApi, tmp_path: Path) -> dict[str, str]:
    """The environment of an operator's shell pointed at the test database and the fake API."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "VVV_DATABASE_URL": db_url,
        "VVV_UW_BASE_URL": fake_api.url,
        "VVV_UW_TOKEN": TOKEN,
        "VVV_DATA_DIR": str(tmp_path / "data"),
        "VVV_MONITOR_PORT": "0",  # `vvv run` serves on a free port, never a real vvv's 9108
    }


def run_vvv(*args: str, env: dict[str, str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`vvv ARGS` as a user runs it, in a process of its own."""
    result = subprocess.run(
        [sys.executable, "-m", "vvv", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr, f"`vvv {' '.join(args)}` printed a secret"
    return result
