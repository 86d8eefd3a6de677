"""The embedded PostgreSQL (pgserver) used when VVV_DATABASE_URL is unset.

Its data lives under `<data dir>/pg`. pgserver counts the processes using one data
directory and stops the server when the last of them exits, so a second vvv command
while one runs reuses the same server. As root it runs the server as a `pgserver` user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
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
    logging.getLogger("pgserver").setLevel(logging.CRITICAL)  # its failures are reported below, once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset, as under systemd
        import pgserver

        try:
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
        except Exception as error:
            raise EmbeddedError(
                f"the embedded PostgreSQL in {pgdata} did not start ({error.__class__.__name__}: {error}); "
                f"see {pgdata / 'log'}"
            ) from None
    return server.get_uri()
