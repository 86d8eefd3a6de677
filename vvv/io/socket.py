"""The provider's WebSocket: ONE connection per token, every channel joined on it, reconnected forever.

`wss://api.unusualwhales.com/socket?token=TOKEN`; each channel is joined with
`{"channel": NAME, "msg_type": "join"}` and acknowledged with `[NAME, {"response": {}, "status": "ok"}]`;
then every message is `[NAME, PAYLOAD]`. Parallel sockets of one token all go silent without a
close frame, so there is never a second one. A refused join (a non-"ok" ack: the plan lacks the
channel) is reported and the other channels go on; HTTP 401 at the upgrade is the token or the
plan, which no retry mends (`SocketAuthError`, exit 2). Everything else (close 1006, no close
frame, a timeout, a refused connection) is reconnected with capped exponential backoff and
jitter, every channel joined again. The library's keepalive pings find a dead peer.

The token is in the URL: `redact` is the only form of it that is logged.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
from attrs import frozen
from loguru import logger
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect  # explicit: PyInstaller finds the sync client by this import

from vvv import __version__
from vvv.config import is_loopback
from vvv.errors import Fatal, one_line

USER_AGENT = f"vvv/{__version__} (market-data collector; python websockets)"
# The library's own log would show the request line, token and all: vvv logs what matters itself.
_LIBRARY_LOG = logging.getLogger("vvv.socket.websockets")
_LIBRARY_LOG.addHandler(logging.NullHandler())
_LIBRARY_LOG.propagate = False
_AUTH_STATUSES = (401, 403)


class SocketAuthError(Fatal):
    """The socket refused the upgrade for the token: exit 2, with what to check."""

    exit_code = 2


@frozen
class Backoff:
    """Waits between connection attempts: `first` doubling up to `cap`, each drawn from [w/2, w] (jitter)."""

    first: float = 1.0
    cap: float = 60.0
    healthy_after: float = 30.0  # a connection that lived this long starts the next wait from `first`

    def wait(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.first * 2 ** max(0, attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


class Handler(Protocol):
    """What the stream does with what the socket says. `message` is the hot path: one call per data message."""

    def connected(self) -> None: ...
    def acknowledged(self, channel: str, ok: bool, detail: Any) -> None: ...
    def message(self, channel: str, payload: Any, raw: bytes) -> None: ...
    def idle(self) -> None: ...
    def disconnected(self, reason: str) -> None: ...


# One decode per message at firehose speed; msgspec keeps an integer beyond 64 bits exact (orjson would make it a float).
_decode = msgspec.json.Decoder().decode


def socket_url(base: str, token: str) -> str:
    """The URL with the token as its `token` query parameter, as the provider takes it."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("token", token)])))


def redact(url: str) -> str:
    """The URL safe for logs and messages: the token's value replaced."""
    parts = urlsplit(url)
    query = [(k, "***" if k == "token" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def join_message(channel: str) -> str:
    return msgspec.json.encode({"channel": channel, "msg_type": "join"}).decode()


def is_ack(payload: Any) -> bool:
    """A join acknowledgement, ok or not: `{"response": ..., "status": ...}` and nothing else."""
    return type(payload) is dict and len(payload) == 2 and "status" in payload and "response" in payload


class Socket:
    """The one connection of a token, kept up until `stopping()`; `run` returns only then (or raises SocketAuthError)."""

    def __init__(self, url: str, token: str, channels: Sequence[str], *, backoff: Backoff = Backoff(),
                 idle_s: float = 0.1, ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 open_timeout: float = 10.0, max_queue: int = 4096, rng: random.Random | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self._url = socket_url(url, token)
        self.shown = redact(self._url)
        self._channels = tuple(dict.fromkeys(channels))
        self._backoff = backoff
        self._idle_s = idle_s
        # A peer that stopped answering pings will not answer a close either: wait for it only briefly.
        self._options = {"ping_interval": ping_interval, "ping_timeout": ping_timeout, "open_timeout": open_timeout,
                         "close_timeout": 1.0, "max_queue": max_queue, "user_agent_header": USER_AGENT,
                         "logger": _LIBRARY_LOG}
        if is_loopback(urlsplit(url).hostname or ""):
            self._options["proxy"] = None  # a proxy from the environment has no business with a loopback fake
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.connections = 0

    def run(self, handler: Handler, stopping: Callable[[], bool]) -> None:
        attempt = 0
        while not stopping():
            started = time.monotonic()
            reason = self._session(handler, stopping)
            if reason is None or stopping():
                return
            attempt = 1 if time.monotonic() - started >= self._backoff.healthy_after else attempt + 1
            wait = self._backoff.wait(attempt, self._rng)
            logger.warning("socket {}: {}; reconnecting in {:.1f} s (attempt {})", self.shown, reason, wait, attempt)
            self._wait(wait, stopping)

    def _session(self, handler: Handler, stopping: Callable[[], bool]) -> str | None:
        """One connection, from the upgrade to its end: why it ended, or None when stopped."""
        try:
            opened = connect(self._url, **self._options)
            ws = opened.__enter__()
        except InvalidStatus as refused:
            status = refused.response.status_code
            if status in _AUTH_STATUSES:
                raise SocketAuthError(
                    f"the socket refused the token (HTTP {status} at the upgrade of {self.shown}): WebSocket access"
                    " needs the provider's Advanced plan; check that VVV_UW_TOKEN is the token of such a plan"
                ) from None
            return f"upgrade refused with HTTP {status}"
        except (OSError, TimeoutError, InvalidHandshake) as error:
            return f"cannot connect: {one_line(error) or error.__class__.__name__}"
        self.connections += 1
        try:
            return self._read(ws, handler, stopping)
        finally:
            ws.close()

    def _read(self, ws: Any, handler: Handler, stopping: Callable[[], bool]) -> str | None:
        handler.connected()
        pending = set(self._channels)
        try:
            for name in self._channels:
                ws.send(join_message(name))
            recv, loads, deliver = ws.recv, _decode, handler.message
            while not stopping():
                try:
                    raw = recv(self._idle_s, False)
                except TimeoutError:
                    handler.idle()
                    continue
                try:
                    channel, payload = loads(raw)
                except (TypeError, ValueError):  # msgspec refuses lone surrogates (and 1e400), which json reads and the stream rejects itself
                    try:
                        channel, payload = json.loads(raw)
                    except (TypeError, ValueError):
                        logger.warning("socket: a message that is not [CHANNEL, PAYLOAD] JSON: {!r}", raw[:200])
                        continue
                if channel in pending and is_ack(payload):
                    pending.discard(channel)
                    handler.acknowledged(channel, payload.get("status") == "ok", payload)
                    continue
                deliver(channel, payload, raw)
        except ConnectionClosed as closed:
            reason = _closed(closed)
            handler.disconnected(reason)
            return reason
        handler.disconnected("stopped")
        return None

    def _wait(self, seconds: float, stopping: Callable[[], bool]) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while not stopping() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.1, left))


def _closed(closed: ConnectionClosed) -> str:
    """How the connection ended, as an operator reads it (1006: no close frame, the vendor-side reset)."""
    frame = closed.rcvd
    if frame is None:
        return "connection lost without a close frame (1006)"
    return f"closed by the server with code {frame.code}" + (f" ({frame.reason})" if frame.reason else "")
