"""The embedded PostgreSQL runs from its own copy of pgserver's files under the data dir.

The one-file executable unpacks itself (pgserver's files included) into a temp dir that is
deleted when that process exits; a server it started and another vvv process still shares
would lose its time zones, share/ files and $libdir. These tests install from a copy of
pgserver's files in a temp dir and delete that copy, as the executable's exit does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest

from vvv import embedded


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose server, whoever in this process started it, is stopped after the test."""
    data_dir = tmp_path / "data"
    yield data_dir
    server = pgserver.PostgresServer._instances.get((data_dir / "pg").resolve())
    if server is not None:
        server.cleanup()


def _pgserver_copy(root: Path) -> Path:
    """A copy of the files pgserver ships, laid out as in site-packages (initdb finds libpq by RPATH)."""
    site = Path(pgserver.__file__).parent.parent
    for part in ("bin", "lib", "share"):
        shutil.copytree(site / "pgserver" / "pginstall" / part, root / "pgserver" / "pginstall" / part, symlinks=True)
    if (site / "pgserver.libs").is_dir():
        shutil.copytree(site / "pgserver.libs", root / "pgserver.libs")
    return root / "pgserver" / "pginstall"


def _postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def _a_new_session_uses_share_and_libdir(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET timezone = 'America/New_York'")  # share/timezone
        assert conn.execute("SELECT now() AT TIME ZONE 'America/New_York'").fetchone() is not None
        conn.execute("DO $$BEGIN END$$")  # $libdir/plpgsql


def test_new_sessions_work_after_the_files_the_server_was_installed_from_are_deleted(data, tmp_path) -> None:
    source = _pgserver_copy(tmp_path / "unpacked")
    url = embedded.start(data, source=source)
    shutil.rmtree(tmp_path / "unpacked")  # what the executable's exit does to its files
    _a_new_session_uses_share_and_libdir(url)


def test_the_server_runs_from_the_copy_under_the_data_dir(data, tmp_path) -> None:
    embedded.start(data, source=_pgserver_copy(tmp_path / "unpacked"))
    program = Path(os.readlink(f"/proc/{_postmaster_pid(data)}/exe"))
    assert program.is_relative_to(data.resolve()), program
