"""The embedded PostgreSQL (pgserver) used when VVV_DATABASE_URL is unset.

Its data lives under `<data dir>/pg`, and it runs from its own copy of pgserver's files
(bin, lib, share) under `<data dir>/pgserver-<version>`, installed at the first start. The
single executable unpacks pgserver's files into a temp dir that is deleted when that process
exits, while the server it started may go on serving other vvv processes: run from there, new
sessions would find no time zones, share/ files or $libdir. pgserver counts the processes
using one data directory and stops the server when the last of them exits, so a second vvv
command while one runs reuses the same server, whatever it runs from (one an older vvv started
included). As root it runs the server as a `pgserver` user, since PostgreSQL refuses to run as
root.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import logging
import os
import shutil
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from vvv.errors import Fatal

INSTALLED = "INSTALLED"  # written last into an install: a copy without it is never run
_PARTS = ("bin", "lib", "share")  # what the server needs of pgserver's pginstall (include/ stays out)


class EmbeddedError(Fatal):
    """The embedded PostgreSQL could not start; the message says where its log is."""


def start(data_dir: Path, *, source: Path | None = None, listen_port: int | None = None) -> str:
    """Start (or join) the server for `data_dir` and return its connection URL (its unix socket).

    `source` is where the server's files are installed from: pgserver's own pginstall by default.
    With `listen_port`, a server this call starts listens on 127.0.0.1 at that port too, where
    only the password in `<data dir>/pg-password` lets a client in (see `tcp_url`).
    """
    pgdata = data_dir / "pg"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise EmbeddedError(f"cannot create the data dir {data_dir} (VVV_DATA_DIR): {error.strerror}") from None
    failures = _Failures()
    pg_logger = logging.getLogger("pgserver")
    pg_logger.setLevel(logging.ERROR)
    pg_logger.propagate = False  # its failures are reported below, once, in our words
    pg_logger.handlers = [failures]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset, as under systemd
        import pgserver

        pginstall = install(data_dir, source or Path(pgserver.__file__).parent / "pginstall", _version())
        _run_from(pgserver, pginstall / "bin")
        _listen(pgserver, listen_port)
        if listen_port is not None:
            _no_trust_over_tcp(pgdata)
        try:
            # One process at a time creates or joins the server: two first starts at once would
            # both run initdb on one directory (FileExistsError for the second).
            with _locked(data_dir / ".pgserver-install.lock"):
                server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as error:
            raise EmbeddedError(
                f"the embedded PostgreSQL in {pgdata} did not start ({error.__class__.__name__}: {error})"
                f"{failures.detail()}; see {pgdata / 'log'}"
            ) from None
    info = server.get_postmaster_info()
    url = server.get_uri()
    if info.port and info.port != 5432:  # the socket is named after the port: .s.PGSQL.<port>
        url += f"&port={info.port}"
    if listen_port is not None:
        _set_password(url, data_dir)
    return url


def tcp_url(data_dir: Path) -> str | None:
    """The loopback TCP URL of the running server for `data_dir`, with its password; None when it
    listens on no TCP port (database.listen_port unset when it started)."""
    lines = (data_dir / "pg" / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    if len(lines) < 6 or lines[5].strip() in ("", "*") or not lines[3].strip():
        return None
    password = (data_dir / _PASSWORD).read_text(encoding="utf-8").strip()
    return f"postgresql://postgres:{password}@{lines[5].strip()}:{lines[3].strip()}/postgres"


_PASSWORD = "pg-password"


def _listen(pgserver: ModuleType, port: int | None) -> None:
    """pgserver starts PostgreSQL with `-h ""` (no TCP) and its default port: with a port, 127.0.0.1:<port>.
    Its initdb trusts TCP clients: vvv's asks for a password on TCP (the unix socket, mode 0700 under
    the data dir, stays trusted)."""
    server = pgserver.postgres_server
    pg_ctl = getattr(server, "_vvv_pg_ctl", server.pg_ctl)
    initdb = getattr(server, "_vvv_initdb", server.initdb)
    server._vvv_pg_ctl, server._vvv_initdb = pg_ctl, initdb

    def start(args: list[str], **kwargs: object) -> str:
        if port is not None and "start" in args:
            args = ["-o", f"-p {port}", *("-h 127.0.0.1" if a == '-h ""' else a for a in args)]
        return pg_ctl(args, **kwargs)

    def init(args: list[str], **kwargs: object) -> str:
        return initdb(["--auth-host=scram-sha-256" if a == "--auth=trust" else a for a in args], **kwargs)

    server.pg_ctl, server.initdb = start, init


def _no_trust_over_tcp(pgdata: Path) -> None:
    """A data dir an older vvv made trusts TCP clients; before it listens on TCP, it no longer does."""
    hba = pgdata / "pg_hba.conf"
    if not hba.is_file():
        return
    text = hba.read_text(encoding="utf-8")
    fixed = "\n".join(_scram(line) for line in text.split("\n"))
    if fixed != text:
        hba.write_text(fixed, encoding="utf-8")


def _scram(line: str) -> str:
    words = line.split()
    if words and words[0].startswith("host") and words[-1] == "trust":
        return line[: line.rstrip().rfind("trust")] + "scram-sha-256"
    return line


def _set_password(url: str, data_dir: Path) -> None:
    """The password TCP clients need: made once, kept 0600 in the data dir, set at every start."""
    import secrets

    import psycopg
    from psycopg import sql

    path = data_dir / _PASSWORD
    if not path.is_file():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    password = path.read_text(encoding="utf-8").strip()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
        conn.execute("SELECT pg_reload_conf()")  # pg_hba.conf as _no_trust_over_tcp left it


def psql(data_dir: Path | None) -> Path:
    """The psql to run: the installed copy's for the embedded server (after `start`), else pgserver's own,
    so `vvv psql` needs no PostgreSQL on the machine, from the single executable too."""
    if data_dir is not None:
        return data_dir / f"pgserver-{_version()}" / "pgserver" / "pginstall" / "bin" / "psql"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"


def install(data_dir: Path, source: Path, version: str) -> Path:
    """The pginstall to run the server from: `<data dir>/pgserver-<version>`, copied from `source` if missing.

    After the first start this is one stat. The copy goes into a temp dir, is marked complete,
    then renamed into place, under a lock: a crash or a second vvv installing at the same moment
    never leaves a partial copy that a server runs from.
    """
    target = data_dir / f"pgserver-{version}"
    pginstall = target / "pgserver" / "pginstall"
    if (target / INSTALLED).is_file():
        return pginstall
    try:
        with _locked(data_dir / ".pgserver-install.lock"):
            if not (target / INSTALLED).is_file():
                _copy(source, target, version)
    except OSError as error:
        reason = f"{error.strerror}: {error.filename}" if error.strerror and error.filename else error.strerror or error
        raise EmbeddedError(f"cannot install the embedded PostgreSQL into {target} ({reason})") from None
    return pginstall


def _copy(source: Path, target: Path, version: str) -> None:
    """Copy `source` into `target` as pgserver lays it out in site-packages: `pgserver/pginstall`,
    with `pgserver.libs` beside it, where initdb's RPATH ($ORIGIN/../../../pgserver.libs) finds libpq."""
    temp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(temp, ignore_errors=True)  # an install that crashed
    try:
        for part in _PARTS:
            shutil.copytree(source / part, temp / "pgserver" / "pginstall" / part, symlinks=True)
        libs = source.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, temp / "pgserver.libs", symlinks=True)
        _let_others_read(temp)
        (temp / INSTALLED).write_text(f"pgserver {version}\n", encoding="utf-8")
    except OSError:
        shutil.rmtree(temp, ignore_errors=True)  # a full disk gets its room back
        raise
    os.sync()  # the files on disk before the rename that makes them the install, even at a power cut
    if target.exists():
        shutil.rmtree(target)  # not marked complete: nothing runs from it
    temp.rename(target)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        yield


def _version() -> str:
    """pgserver's version names the install: a new pgserver (a new PostgreSQL) is installed beside the old."""
    try:
        return importlib.metadata.version("pgserver")
    except importlib.metadata.PackageNotFoundError:
        raise EmbeddedError("this build lacks pgserver's package metadata: its version is unknown") from None


def _run_from(pgserver: ModuleType, bin_dir: Path) -> None:
    """Make pgserver run its programs from `bin_dir`.

    pgserver 0.1 takes them from a path it computes at import, held by two modules: `_commands`
    runs the programs, `postgres_server` opens up the path's parents to its own user as root.
    """
    modules = (getattr(pgserver, "_commands", None), getattr(pgserver, "postgres_server", None))
    if not all(hasattr(module, "POSTGRES_BIN_PATH") for module in modules):
        raise EmbeddedError("this pgserver does not let vvv choose where its PostgreSQL runs from")
    for module in modules:
        module.POSTGRES_BIN_PATH = bin_dir


def _let_others_read(tree: Path) -> None:
    """As root, pgserver runs PostgreSQL as its own user, which must read every file it ships.

    pgserver opens up bin/ and lib/ itself but not share/, and the single executable unpacks
    everything mode 0700. Done at install whoever installs, since root may run the same data dir
    later. What it opens up is what the executable holds anyway: nothing secret.
    """
    readable = stat.S_IRGRP | stat.S_IROTH
    traversable = readable | stat.S_IXGRP | stat.S_IXOTH
    for path in (tree, *tree.rglob("*")):
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        wanted = mode | (traversable if path.is_dir() or mode & stat.S_IXUSR else readable)
        if wanted != mode:
            path.chmod(wanted)


class _Failures(logging.Handler):
    """Keeps the stderr pgserver logs for a failed PostgreSQL command, for the error message."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def detail(self) -> str:
        if not self.messages:
            return ""
        stderr = self.messages[-1].rpartition("stderr:")[2].strip(" \n-")
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        return f"; it said: {' / '.join(lines[-3:])}" if lines else ""
