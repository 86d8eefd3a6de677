"""The embedded PostgreSQL (pgserver) used when VVV_DATABASE_URL is unset.

Its data lives under `<data dir>/pg`. pgserver counts the processes using one data
directory and stops the server when the last of them exits, so a second vvv command
while one runs reuses the same server. As root it runs the server as a `pgserver` user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import warnings
from pathlib import Path

from vvv.errors import Fatal


class EmbeddedError(Fatal):
    """The embedded PostgreSQL could not start; the message says where its log is."""


def start(data_dir: Path) -> str:
    """Start (or join) the server for `data_dir` and return its connection URL."""
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

        if os.geteuid() == 0:
            # The single executable unpacks the libraries PostgreSQL loads next to itself.
            bundle = getattr(sys, "_MEIPASS", None)
            _let_others_read(Path(bundle) if bundle else Path(pgserver.__file__).parent / "pginstall")
        try:
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as error:
            raise EmbeddedError(
                f"the embedded PostgreSQL in {pgdata} did not start ({error.__class__.__name__}: {error})"
                f"{failures.detail()}; see {pgdata / 'log'}"
            ) from None
    return server.get_uri()


def _let_others_read(tree: Path) -> None:
    """As root, pgserver runs PostgreSQL as its own user, which must read every file it ships.

    pgserver opens up bin/ and lib/ itself but not share/, and the single executable unpacks
    everything, the shared libraries PostgreSQL loads included, mode 0700 under a root-owned
    temp dir. What it opens up is what the executable holds anyway: nothing secret.
    """
    readable = stat.S_IRGRP | stat.S_IROTH
    traversable = readable | stat.S_IXGRP | stat.S_IXOTH
    for path in (tree, *tree.rglob("*")):
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
