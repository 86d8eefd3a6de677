"""One active `vvv run` per database: a PostgreSQL advisory lock held on a dedicated connection.

The lock lives as long as the session that took it. When the active process dies (kill -9,
a lost VM, a lost network), PostgreSQL ends its session and frees the lock; TCP keepalives
bound how long a silent peer can hold it. A standby polls and takes over.
"""

from __future__ import annotations

import psycopg
from loguru import logger

from vvv.errors import one_line
from vvv.io import store

ACTIVE_LOCK = 0x767676_52554E  # "vvv" "RUN": any constant unique to vvv's scheduler
# Server side: drop a silent client within ~25 s so its lock frees; client side: notice a dead server.
_SERVER_KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
_CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class Leadership:
    """Try, hold and check the active lock; every failure reads as 'not the leader'."""

    def __init__(self, url: str, *, statement_timeout_s: int = 10, key: int = ACTIVE_LOCK) -> None:
        self._url = url
        self._statement_timeout_s = statement_timeout_s
        self._key = key  # another lock of one per database: the socket's (vvv/run/stream.py)
        self.conn: psycopg.Connection | None = None
        self.held = False

    def acquire(self) -> bool:
        """Take the lock if it is free; True while this process holds it."""
        if self.held:
            return self.check()
        try:
            conn = self._connection()
            self.held = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0])
        except (psycopg.Error, store.DatabaseUnavailable) as error:
            self._lost(error)
        return self.held

    def check(self) -> bool:
        """Is the session holding the lock still alive?"""
        if not self.held or self.conn is None:
            return False
        try:
            self.conn.execute("SELECT 1")
        except psycopg.Error as error:
            self._lost(error)
        return self.held

    def release(self) -> None:
        if self.conn is not None:
            try:
                if self.held:
                    self.conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
                self.conn.close()
            except psycopg.Error:
                pass  # closing the session frees the lock anyway
        self.conn, self.held = None, False

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = store.connect(
                self._url,
                statement_timeout_s=self._statement_timeout_s,
                extra_options=_SERVER_KEEPALIVES,
                **_CLIENT_KEEPALIVES,
            )
            self.conn.autocommit = True
        return self.conn

    def _lost(self, error: Exception) -> None:
        if self.held:
            logger.error("lost the connection holding the active lock: {}", one_line(error))
        self.held = False
        if self.conn is not None:
            self.conn.close()
        self.conn = None
