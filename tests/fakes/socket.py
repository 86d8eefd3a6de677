"""A fake of the provider's WebSocket on 127.0.0.1, framed as the provider frames it.

`GET /socket?token=T` upgrades (HTTP 401 for another token, or when `refuse_upgrade` says so);
`{"channel": NAME, "msg_type": "join"}` is acknowledged with `[NAME, {"response": {}, "status":
"ok"}]`, or refused with a non-"ok" ack for a channel in `refused`; then `publish` sends
`[NAME, PAYLOAD]` to every connection that joined NAME. What is published while no connection
has joined is lost, as on the real socket (no replay). Knobs: `drop()` ends the connections
without a close frame (the vendor-side reset, 1006 to the client), `close(code)` with one,
`silence()` stops answering anything (pings too), `rate` caps messages per second.

Server-to-client frames are not masked, so a message is encoded once into its frame bytes;
`firehose` sends pre-encoded frames with the id's tail and the times patched in place (fresh
ids, `now` as the trade time), so the fake is not the bottleneck of a benchmark. Runs in a
thread (`with FakeSocket(...) as fake`) or as a process: `python -m tests.fakes.socket --help`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


def frame(data: bytes, opcode: int = _TEXT) -> bytes:
    """One unmasked, final frame, as a server sends it."""
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + data


def message(channel: str, payload: Any) -> bytes:
    """The frame of `[channel, payload]`, encoded once."""
    return frame(json.dumps([channel, payload], separators=(",", ":")).encode())


def ack(channel: str, ok: bool = True) -> bytes:
    body = {"response": {}, "status": "ok"} if ok else {"response": {"message": "channel not in your plan"},
                                                        "status": "error"}
    return message(channel, body)


class _Connection:
    def __init__(self, fake: FakeSocket, sock: socket.socket, query: dict[str, list[str]], headers: dict[str, str]):
        self.fake, self.sock, self.query, self.headers = fake, sock, query, headers
        self.joined: set[str] = set()
        self.outbox: deque[bytes] = deque()
        self.ready = threading.Condition()
        self.alive = True
        self.silent = False

    def send(self, data: bytes) -> None:
        with self.ready:
            self.outbox.append(data)
            self.ready.notify()

    def writer(self) -> None:
        """Sends what the outbox holds, `rate` messages a second at most."""
        sent_at, window_sent = time.monotonic(), 0
        while self.alive:
            with self.ready:
                while self.alive and not self.outbox:
                    self.ready.wait(0.05)
                if not self.alive:
                    return
                limit = len(self.outbox)
                rate = self.fake.rate
                if rate:
                    now = time.monotonic()
                    if now - sent_at >= 0.01:
                        sent_at, window_sent = now, 0
                    limit = min(limit, max(0, int(rate * 0.01) + 1 - window_sent))
                chunk = [self.outbox.popleft() for _ in range(limit)]
            window_sent += len(chunk)
            if not chunk:
                time.sleep(0.002)
                continue
            try:
                self.sock.sendall(b"".join(chunk))
            except OSError:
                self.end()
                return

    def reader(self) -> None:
        """Client frames: joins, pings, the close."""
        try:
            while self.alive:
                opcode, data = _read_frame(self.sock)
                if self.silent:
                    continue
                if opcode == _PING:
                    self.send(frame(data, _PONG))
                elif opcode == _CLOSE:
                    self.send(frame(data[:2], _CLOSE))
                    time.sleep(0.05)
                    self.end()
                elif opcode == _TEXT:
                    self.fake._joined(self, data)
        except (OSError, ConnectionError, struct.error):
            self.end()

    def end(self) -> None:
        """Gone without a close frame: the client sees 1006."""
        if not self.alive:
            return
        self.alive = False
        with self.ready:
            self.ready.notify_all()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.fake._gone(self)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    first, second = _read_exact(sock, 2)
    size = second & 0x7F
    if size == 126:
        (size,) = struct.unpack("!H", _read_exact(sock, 2))
    elif size == 127:
        (size,) = struct.unpack("!Q", _read_exact(sock, 8))
    mask = _read_exact(sock, 4) if second & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exact(sock, size)))
    return first & 0x0F, data


class FakeSocket:
    """The fake socket server and its state (see the module's docstring)."""

    def __init__(self, *, token: str = "test-token", host: str = "127.0.0.1", port: int = 0,
                 rate: float | None = None) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the fake socket serves on loopback only")
        self.token, self.host, self.port, self.rate = token, host, port, rate
        self.refused: set[str] = set()  # channels whose joins get a non-"ok" ack
        self.refuse_upgrade: int | None = None  # an HTTP status for every upgrade (401: no socket access)
        self.upgrades = 0  # connections upgraded
        self.attempts = 0  # upgrade requests, refused ones too
        self.user_agents: list[str] = []
        self.joins: list[str] = []
        self.published: dict[str, list[Any]] = {}  # what was published, delivered or not
        self.delivered: dict[str, list[Any]] = {}  # what reached a connection's outbox
        self._lock = threading.Lock()
        self._joined_event = threading.Condition(self._lock)
        self._connections: list[_Connection] = []
        self._server: socket.socket | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/socket"

    def start(self) -> FakeSocket:
        server = socket.create_server((self.host, self.port), reuse_port=False)
        server.settimeout(0.1)
        self._server, self.port = server, server.getsockname()[1]
        threading.Thread(target=self._accept, name="fake-socket", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.drop()
        if self._server is not None:
            self._server.close()

    def __enter__(self) -> FakeSocket:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def publish(self, channel: str, payloads: Iterable[Any]) -> int:
        """Send each payload to every connection joined to `channel`; how many connections got them."""
        payloads = list(payloads)
        with self._lock:
            self.published.setdefault(channel, []).extend(payloads)
            targets = [c for c in self._connections if channel in c.joined and c.alive and not c.silent]
            if targets:
                self.delivered.setdefault(channel, []).extend(payloads)
        frames = [message(channel, p) for p in payloads]
        for connection in targets:
            for data in frames:
                connection.send(data)
        return len(targets)

    def firehose(self, channel: str, templates: list[dict[str, Any]], total: int, *, chunk: int = 200) -> None:
        """Send `total` messages built from `templates`, pre-encoded: each gets a fresh id and `now` as its times."""
        encoded = [_Template.of(channel, t) for t in templates]
        targets = self.wait_joined(channel)
        serial, due = 0, time.monotonic()
        while serial < total and any(c.alive for c in targets):
            stamp = str(int(time.time() * 1000)).encode()
            batch = []
            for _ in range(min(chunk, total - serial)):
                batch.append(encoded[serial % len(encoded)].render(serial, stamp))
                serial += 1
            data = b"".join(batch)
            for connection in targets:
                connection.send(data)
            if self.rate:  # paced by the clock, not by sleeps after the work: `rate` exactly, on average
                due += len(batch) / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
            else:  # no rate: as fast as the client takes them (the outbox must not outgrow memory)
                while any(len(c.outbox) > 50 for c in targets if c.alive):
                    time.sleep(0.001)

    def wait_joined(self, channel: str, timeout: float = 10.0) -> list[_Connection]:
        """The connections joined to `channel`, once there is one (an AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not (found := [c for c in self._connections if channel in c.joined and c.alive]):
                left = deadline - time.monotonic()
                assert left > 0, f"no connection joined {channel} within {timeout} s"
                self._joined_event.wait(left)
            return found

    def connections(self) -> int:
        with self._lock:
            return sum(c.alive for c in self._connections)

    def drop(self) -> None:
        """End every connection without a close frame (close 1006 at the client)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.end()

    def close(self, code: int = 1011, reason: str = "") -> None:
        """End every connection with a close frame."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.send(frame(struct.pack("!H", code) + reason.encode(), _CLOSE))

    def silence(self) -> None:
        """Every connection goes quiet, pongs too, as a second socket of one token does."""
        with self._lock:
            for connection in self._connections:
                connection.silent = True

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._upgrade, args=(sock,), daemon=True).start()

    def _upgrade(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                sock.close()
                return
            request += chunk
        lines = request.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        query = parse_qs(urlsplit(target).query)
        with self._lock:
            self.attempts += 1
            self.user_agents.append(headers.get("user-agent", ""))
        status = self.refuse_upgrade or (None if query.get("token") == [self.token] else 401)
        if status is not None:
            body = b'{"error":"unauthorized"}'
            sock.sendall(f"HTTP/1.1 {status} Unauthorized\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            sock.close()
            return
        accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + _GUID).digest()).decode()
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        connection = _Connection(self, sock, query, headers)
        with self._lock:
            self.upgrades += 1
            self._connections.append(connection)
        threading.Thread(target=connection.writer, daemon=True).start()
        connection.reader()

    def _joined(self, connection: _Connection, data: bytes) -> None:
        try:
            request = json.loads(data)
            channel = request["channel"]
        except (ValueError, KeyError, TypeError):
            return
        if request.get("msg_type") != "join":
            return
        ok = channel not in self.refused
        connection.send(ack(channel, ok))
        with self._lock:
            self.joins.append(channel)
            if ok:
                connection.joined.add(channel)
            self._joined_event.notify_all()

    def _gone(self, connection: _Connection) -> None:
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)


class _Template:
    """A pre-encoded frame with the places of the id's last 12 hex digits and of the 13-digit times."""

    def __init__(self, data: bytes, id_at: int, times: list[int]) -> None:
        self.data, self.id_at, self.times = data, id_at, times

    @classmethod
    def of(cls, channel: str, payload: dict[str, Any]) -> _Template:
        payload = {**payload, "id": "00000000-0000-4000-8000-000000000000",
                   "executed_at": 1_700_000_000_000, "created_at": 1_700_000_000_000}
        data = message(channel, payload)
        id_at = data.index(b"8000-000000000000") + 5
        times = [i for i in range(len(data)) if data.startswith(b"1700000000000", i)]
        return cls(data, id_at, times)

    def render(self, serial: int, stamp: bytes) -> bytes:
        out = bytearray(self.data)
        out[self.id_at:self.id_at + 12] = b"%012x" % serial
        for at in self.times:
            out[at:at + 13] = stamp
        return bytes(out)


def main() -> int:
    """Serve a firehose of option trades from sample templates, for the benchmark's contenders."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.socket")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--channel", default="option_trades")
    parser.add_argument("--total", type=int, default=600_000)
    parser.add_argument("--rate", type=float, default=None, help="messages per second (default: as fast as taken)")
    parser.add_argument("--templates", required=True, help="a JSON file: a list of option trade payloads")
    args = parser.parse_args()
    templates = json.loads(open(args.templates, encoding="utf-8").read())
    fake = FakeSocket(token=args.token, port=args.port, rate=args.rate).start()
    print(fake.port, flush=True)
    while True:  # one firehose per connection that joins, until killed
        try:
            fake.firehose(args.channel, templates, args.total)
        except AssertionError:  # nobody joined yet
            continue
        while fake.connections():
            time.sleep(0.05)


if __name__ == "__main__":
    raise SystemExit(main())
