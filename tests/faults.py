"""A loopback TCP proxy in front of PostgreSQL that a test can cut, as a dead server or network would."""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from collections.abc import Callable

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class DatabaseProxy:
    """Forwards 127.0.0.1:<port> to the server of `url`; `down()` drops every connection and refuses new ones."""

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        host, port = str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)
        self._target = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = make_conninfo(url, host="127.0.0.1", port=str(self.port))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._up = True
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="db-proxy", daemon=True)
        self._thread.start()

    @property
    def is_up(self) -> bool:
        return self._up

    def down(self) -> None:
        with self._lock:
            self._up = False
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _close(a)
            _close(b)

    def up(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._closed = True
        self.down()
        _close(self._listener)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                if not self._up:
                    _close(client)
                    continue
                try:
                    server = _connect(self._target)
                except OSError:
                    _close(client)
                    continue
                self._pairs.append((client, server))
            threading.Thread(target=_pump, args=(client, server), daemon=True).start()


def _connect(target: str | tuple[str, int]) -> socket.socket:
    if isinstance(target, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(target)
        return sock
    return socket.create_connection(target, timeout=5)


def _pump(a: socket.socket, b: socket.socket) -> None:
    selector = selectors.DefaultSelector()
    try:
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        while True:
            for key, _ in selector.select(timeout=1):
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)
    except (OSError, ValueError):
        return
    finally:
        selector.close()
        _close(a)
        _close(b)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def dead_pid() -> int:
    """A process id no process has: the writer of a spool file that died."""
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid += 1


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
