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
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest

from vvv.io import embedded


def _leave(data_dir: Path) -> None:
    """What this process's exit does: it stops the server if no other process uses it."""
    server = pgserver.PostgresServer._instances.get((data_dir / "pg").resolve())
    if server is not None:
        server.cleanup()


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose server, if this process started or joined it, is left after the test."""
    data_dir = tmp_path / "data"
    yield data_dir
    _leave(data_dir)


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


def test_the_server_runs_from_the_copy_under_the_data_dir_which_others_can_read(data, tmp_path) -> None:
    embedded.start(data, source=_pgserver_copy(tmp_path / "unpacked"))
    program = Path(os.readlink(f"/proc/{_postmaster_pid(data)}/exe"))
    assert program.is_relative_to(data.resolve()), program
    (install,) = data.glob("pgserver-*")
    assert (install / embedded.INSTALLED).is_file()
    unreadable = [path for path in install.rglob("*") if not path.is_symlink() and not path.stat().st_mode & stat.S_IROTH]
    assert unreadable == []  # as root, the server runs as the `pgserver` user


def test_a_later_start_copies_nothing_and_needs_no_source(data, tmp_path) -> None:
    embedded.start(data, source=_pgserver_copy(tmp_path / "unpacked"))
    (install,) = data.glob("pgserver-*")
    installed = (install / embedded.INSTALLED).stat()
    _leave(data)  # the server stops
    shutil.rmtree(tmp_path / "unpacked")
    url = embedded.start(data, source=tmp_path / "unpacked")
    _a_new_session_uses_share_and_libdir(url)
    assert (install / embedded.INSTALLED).stat().st_ino == installed.st_ino
    assert sorted(path.name for path in data.iterdir() if "pgserver" in path.name) == [".pgserver-install.lock", install.name]


def test_an_install_cut_short_is_redone_and_its_leftovers_removed(tmp_path) -> None:
    source = _pgserver_copy(tmp_path / "unpacked")
    data_dir = tmp_path / "data"
    (data_dir / ".pgserver-9.9.tmp" / "pgserver" / "pginstall" / "bin").mkdir(parents=True)  # a crash mid-copy
    (data_dir / "pgserver-9.9" / "pgserver" / "pginstall" / "bin").mkdir(parents=True)  # no marker: never complete
    pginstall = embedded.install(data_dir, source, "9.9")
    assert pginstall == data_dir / "pgserver-9.9" / "pgserver" / "pginstall"
    assert (pginstall / "share" / "postgresql" / "timezone" / "America" / "New_York").is_file()
    assert (pginstall / "bin" / "postgres").is_file() and (data_dir / "pgserver-9.9" / embedded.INSTALLED).is_file()
    assert not (data_dir / ".pgserver-9.9.tmp").exists()


def test_an_install_that_fails_is_a_one_line_error_and_leaves_nothing(tmp_path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(embedded.EmbeddedError, match=r"cannot install the embedded PostgreSQL into .*pgserver-9.9 "
                       r"\(No such file or directory: .*no-such-source/bin\)"):
        embedded.install(tmp_path / "data", tmp_path / "no-such-source", "9.9")
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == [".pgserver-install.lock"]


_OLDER_VVV = """
import signal, sys, time
from pathlib import Path
import pgserver
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # exit through atexit: the server stops
server = pgserver.get_server(Path(sys.argv[1]), cleanup_mode="stop")  # run from pgserver's own files
print(server.get_uri(), flush=True)
time.sleep(300)
"""


def test_a_server_an_older_vvv_started_from_elsewhere_is_reused(data) -> None:
    data.mkdir()
    older = subprocess.Popen([sys.executable, "-c", _OLDER_VVV, str(data / "pg")], stdout=subprocess.PIPE, text=True)
    try:
        assert older.stdout is not None and older.stdout.readline()
        running = _postmaster_pid(data)
        url = embedded.start(data)
        assert _postmaster_pid(data) == running
        _a_new_session_uses_share_and_libdir(url)
        _leave(data)  # the older process still uses it: it goes on
        _a_new_session_uses_share_and_libdir(url)
    finally:
        older.send_signal(signal.SIGTERM)
        older.wait(timeout=60)
    assert not (data / "pg" / "postmaster.pid").exists()  # the last one out stopped it


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_tcp_port_by_default(data) -> None:
    url = embedded.start(data)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_setting('listen_addresses')").fetchone()[0] == ""
    assert embedded.tcp_url(data) is None


def test_listen_port_serves_loopback_only_and_asks_for_the_password(data) -> None:
    port = _free_port()
    url = embedded.start(data, listen_port=port)
    with psycopg.connect(url) as conn:  # the unix socket still works, without a password
        assert conn.execute("SELECT current_setting('listen_addresses')").fetchone()[0] == "127.0.0.1"
    tcp = embedded.tcp_url(data)
    assert tcp is not None and f"@127.0.0.1:{port}/" in tcp
    with psycopg.connect(tcp) as conn:
        assert conn.execute("SELECT inet_server_addr()::text").fetchone()[0] == "127.0.0.1/32"
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=5).close()
    assert stat.S_IMODE((data / "pg-password").stat().st_mode) == 0o600


def test_listen_port_on_a_data_dir_that_trusted_tcp_asks_for_the_password(data) -> None:
    embedded.start(data)
    _leave(data)
    hba = data / "pg" / "pg_hba.conf"
    hba.write_text(hba.read_text() + "host all all 127.0.0.1/32 trust\n")  # what older data dirs hold
    port = _free_port()
    embedded.start(data, listen_port=port)
    assert "trust" not in [line.split()[-1] for line in hba.read_text().splitlines() if line.startswith("host")]
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=5).close()
