"""The fake API's HTTP core: the loopback server, the request log, the rate-limit budget and
its headers, authentication, routing, and the fault knobs every endpoint obeys (`fail_next`
for 429s with headers and 5xx, `delay_next`, `truncate_next`, `malformed_items`,
`on_request`). The endpoint families (news.py, darkpool.py, ...) add their routes to it."""

from __future__ import annotations

import collections
import ipaddress
import json
import math
import random
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.quirks import as_utc, to_ms
from vvv.core.calendar import NY, last_trading_day

_INT = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,9}")
_EPOCH_MS_THRESHOLD = 100_000_000_000  # larger unix numbers are milliseconds, as in vvv's converter


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it, so tests can assert what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    pairs: tuple[tuple[str, str], ...] = ()
    """Every query parameter in order, repeated ones (`rule_name[]`) included."""


@dataclass(frozen=True)
class _Fault:
    kind: str  # "fail", "truncate" or "delay"
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _Budget:
    minute: int
    daily: int
    reset_ms: int


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[..., Response]


class FakeServer:
    """The server and the state every family shares; all state is guarded by `self._lock`.

    A family is a mixin with a `ROUTES` tuple of (path regex, method name); the method is called
    with (req, raw_query, host, *the regex's groups). Routes are tried in MRO order.
    """

    ROUTES: tuple[tuple[str, str], ...] = ()

    def __init__(
        self,
        *,
        token: str = "test-token",
        seed: int = 0,
        now: datetime | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        per_minute_limit: int = 120,
        minute_s: float = 60.0,
        daily_limit: int = 20000,
        bounds_inclusive: bool = False,
    ) -> None:
        require_loopback(host)
        self.token = token
        self.seed = seed
        self.host = host
        self.port = port
        self.per_minute_limit = per_minute_limit
        self.minute_s = minute_s
        """The rate-limit window: a minute, or shorter so a test of pacing runs in seconds."""
        self.statuses: collections.Counter[int] = collections.Counter()
        self.daily_limit = daily_limit
        self.now = as_utc(now) if now is not None else datetime.now(UTC)
        self.requests: list[RecordedRequest] = []
        self.bounds_inclusive = bounds_inclusive
        """True: `newer_than`/`older_than` include items at the bound itself; False: they do not."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: collections.deque[_Fault] = collections.deque()
        self._malformed_every = 0
        self._actions: dict[int, Callable[[], None]] = {}
        self._window_start: float | None = None
        self._minute_count = 0
        self._daily_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes = [(re.compile(pattern), name) for cls in type(self).__mro__
                        for pattern, name in vars(cls).get("ROUTES", ())]

    def rng(self, *parts: Any) -> random.Random:
        """A generator seeded by the fake's seed and `parts` alone, so one feed never shifts another."""
        return random.Random(":".join(map(str, (*parts[:1], self.seed, *parts[1:]))))

    @property
    def market_day(self) -> date:
        """The market day an endpoint serves without `date`: the last one as of `now`."""
        return last_trading_day(self.now.astimezone(NY).date())

    @property
    def url(self) -> str:
        """Base URL to give the client; only known once the socket is bound."""
        if self._server is None:
            raise RuntimeError("FakeApi is not started")
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> FakeServer:
        """Bind and serve in a daemon thread, so a test never waits on it at exit."""
        if self._server is not None:
            raise RuntimeError("FakeApi is already started")
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-uw-api", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections, as a dead API would."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next `times` requests with `status` (plus headers, body)."""
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        extra = tuple((str(k), str(v)) for k, v in (headers or {}).items())
        self._queue(_Fault("fail", status=status, headers=extra, body=body), times)

    def reset_faults(self) -> None:
        """Forget every queued fault and pending `on_request` action."""
        with self._lock:
            self._faults.clear()
            self._actions.clear()

    def on_request(self, n: int, action: Callable[[], None]) -> None:
        """Call `action` when the `n`-th request from now arrives, before it is answered.

        A test uses it to make something else fail at a known point of a pass, e.g. the database.
        """
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._actions[len(self.requests) + n] = action

    def truncate_next(self, *, times: int = 1) -> None:
        """Cut the next bodies in half, with a matching Content-Length, like a broken proxy."""
        self._queue(_Fault("truncate"), times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Sleep before answering the next requests, to exercise client timeouts."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        self._queue(_Fault("delay", seconds=seconds), times)

    def malformed_items(self, every: int) -> None:
        """Serve every `every`-th item (counted from the oldest) malformed; 0 turns it off.

        Counting from the oldest keeps an item's fate stable when newer ones arrive. For dark
        pool prints the count runs over the ticker's whole day, whatever the filters.
        """
        if every < 0:
            raise ValueError("every must be >= 0")
        with self._lock:
            self._malformed_every = every

    def _queue(self, fault: _Fault, times: int) -> None:
        if times < 0:
            raise ValueError("times must be >= 0")
        with self._lock:
            self._faults.extend([fault] * times)

    def _respond(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """Record, count, apply at most one queued fault, then answer."""
        with self._lock:
            self.requests.append(req)
            budget = self._count_request()
            fault = self._faults.popleft() if self._faults else None
            action = self._actions.pop(len(self.requests), None)
        if action is not None:
            action()
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if fault is not None and fault.kind == "fail":
            resp = _fault_response(fault)
        else:
            resp = self._route(req, raw_query, host, budget)
        if fault is not None and fault.kind == "truncate":
            resp = Response(resp.status, resp.body[: len(resp.body) // 2],
                            resp.content_type, resp.headers)
        return self._finish(resp, budget)

    def _count_request(self) -> _Budget:
        """A fixed one-minute window opened by the first request after the last one expired."""
        now = time.monotonic()
        if self._window_start is None or now - self._window_start >= self.minute_s:
            self._window_start = now
            self._minute_count = 0
        self._minute_count += 1
        self._daily_count += 1
        reset_ms = max(0, int((self._window_start + self.minute_s - now) * 1000))
        return _Budget(self._minute_count, self._daily_count, reset_ms)

    def _finish(self, resp: Response, budget: _Budget) -> Response:
        """Add the rate-limit headers every real response carries; fault headers win."""
        limits = {
            "x-uw-req-per-minute-remaining": str(max(0, self.per_minute_limit - budget.minute)),
            "x-uw-req-per-minute-reset": str(budget.reset_ms),
            "x-uw-minute-req-counter": str(budget.minute),
            "x-uw-daily-req-count": str(budget.daily),
            "x-uw-token-req-limit": str(self.daily_limit),
            "Content-Type": resp.content_type,
        }
        given = {name.lower() for name, _ in resp.headers}
        headers = [(k, v) for k, v in limits.items() if k.lower() not in given]
        headers += [(k, v) for k, v in resp.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(resp.body))))
        with self._lock:
            self.statuses[resp.status] += 1
        return Response(resp.status, resp.body, resp.content_type, tuple(headers))

    def _route(self, req: RecordedRequest, raw_query: str, host: str, budget: _Budget) -> Response:
        if budget.minute > self.per_minute_limit:
            retry = max(1, math.ceil(budget.reset_ms / 1000))
            return json_response(429, {"msg": f"Too many requests: limit is {self.per_minute_limit} per minute"},
                                 ("Retry-After", str(retry)))
        if budget.daily > self.daily_limit:
            return json_response(429, {"msg": f"Daily request limit of {self.daily_limit} reached"},
                                 ("Retry-After", str(_seconds_to_utc_midnight())))
        for pattern, name in self._routes:
            match = pattern.fullmatch(req.path)
            if match:
                break
        else:
            return json_response(404, {"msg": "not found"})
        if req.method != "GET":
            return json_response(405, {"msg": "method not allowed"}, ("Allow", "GET"))
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return json_response(
                401, {"msg": "Unauthorized: a valid 'Authorization: Bearer <token>' header is required"})
        return getattr(self, name)(req, raw_query, host, *match.groups())


# Reading a query as the API does: each problem is named in the 422 the way the API names it.

def int_in(text: str, low: int, high: int | None) -> int | None:
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    if value < low or (high is not None and value > high):
        return None
    return value


def limit_of(query: dict[str, str], default: int, high: int, problems: list[str]) -> int:
    """`limit` in 1..high (default `default`), noting a bad one in `problems`."""
    limit = int_in(query.get("limit", str(default)), 1, high)
    if limit is None:
        problems.append(f"limit={query.get('limit')} (valid example: limit={default})")
    return limit or 0


def page_of(query: dict[str, str], problems: list[str]) -> int:
    page = int_in(query.get("page", "0"), 0, None)
    if page is None:
        problems.append(f"page={query.get('page')} (valid example: page=1)")
    return page or 0


def iso_date(text: str) -> date | None:
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def past_date(text: str, today: date) -> date | None:
    day = iso_date(text)
    return day if day is not None and day <= today else None


def date_of(query: dict[str, str], name: str, problems: list[str], *, until: date | None = None) -> date | None:
    """An ISO date parameter (None when absent), at most `until` when given."""
    if name not in query:
        return None
    day = iso_date(query[name]) if until is None else past_date(query[name], until)
    if day is None:
        problems.append(f"{name}={query[name]} (valid example: {name}=2024-01-18)")
    return day


def bound_ms(text: str) -> int | None:
    """Unix milliseconds from seconds, milliseconds or an ISO date (its midnight, UTC)."""
    if _DIGITS.fullmatch(text):
        value = int(text)
        return value if value >= _EPOCH_MS_THRESHOLD else value * 1000
    day = iso_date(text)
    return None if day is None else to_ms(datetime.combine(day, clock(), tzinfo=UTC))


def bounds_of(query: dict[str, str], problems: list[str]) -> tuple[int | None, int | None]:
    """newer_than and older_than, in ms."""
    bounds = []
    for name in ("newer_than", "older_than"):
        value = bound_ms(query[name]) if name in query else None
        if name in query and value is None:
            problems.append(f"{name}={query[name]} (valid example: {name}=1715083417)")
        bounds.append(value)
    return bounds[0], bounds[1]


def check_types(pairs: tuple[tuple[str, str], ...], booleans: frozenset[str], numbers: frozenset[str],
                problems: list[str]) -> None:
    """Name every boolean that is not true/false and every number that is not one."""
    for name, value in pairs:
        if name in booleans and value not in ("true", "false"):
            problems.append(f"{name}={value} (valid example: {name}=true)")
        elif name in numbers and not _NUMBER.fullmatch(value):
            problems.append(f"{name}={value} (valid example: {name}=125)")


def within(ms: int, newer: int | None, older: int | None, inclusive: bool) -> bool:
    if inclusive:
        return (newer is None or ms >= newer) and (older is None or ms <= older)
    return (newer is None or ms > newer) and (older is None or ms < older)


def ticker_in_path(text: str) -> str | None:
    """The ticker upper-cased, or None when the path segment is not one (`..`, `%2F`, `SPY?x`)."""
    return text.upper() if text.isascii() and _TICKER.fullmatch(text) else None


def require_ticker(text: str) -> str:
    ticker = ticker_in_path(text) if isinstance(text, str) else None
    if ticker is None:
        raise ValueError(f"not a ticker: {text!r}")
    return ticker


def invalid(
    req: RecordedRequest, raw_query: str, host: str, *, path: list[str] = (), query: list[str] = ()
) -> Response:
    """422 in the API's Error Message shape, naming every bad input."""
    parts = [f"Invalid path input: {', '.join(path)}"] if path else []
    parts += [f"Invalid query input(s): {', '.join(query)}"] if query else []
    return json_response(422, {"msg": " - ".join(parts), "path": req.path, "query": raw_query,
                               "url": f"{host}{req.path}?{raw_query}"})


def json_response(status: int, payload: Any, *headers: tuple[str, str]) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, headers=tuple(headers))


def _fault_response(fault: _Fault) -> Response:
    """A 500 looks like the API's own plain-text error; other statuses get a JSON msg."""
    if fault.body is not None:
        ctype = "application/json; charset=utf-8" if _is_json(fault.body) else "text/plain; charset=utf-8"
        return Response(fault.status, fault.body.encode("utf-8"), ctype, fault.headers)
    if fault.status == 500:
        return Response(500, b"Something went wrong", "text/plain; charset=utf-8", fault.headers)
    phrase = _reason(fault.status)
    return Response(fault.status, json.dumps({"msg": phrase}).encode("utf-8"), headers=fault.headers)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _seconds_to_utc_midnight() -> int:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((midnight - now).total_seconds()))


def require_loopback(host: str) -> None:
    """The fake has no auth worth the name, so it must never listen beyond this machine."""
    if host == "localhost":
        return
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"host must be a loopback address, got {host!r}")


class _Server(ThreadingHTTPServer):
    """Tracks open connections so stop() can cut keep-alive clients off."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: FakeServer) -> None:
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.api = api
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Skip HTTPServer's getfqdn(), a reverse DNS lookup that can stall."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, stop()) are normal here, not worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-uw-api/1"
    sys_version = ""
    server: _Server

    def do_GET(self) -> None:
        self._drain_body()
        split = urlsplit(self.path)
        req = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            pairs=tuple(parse_qsl(split.query, keep_blank_values=True)),
        )
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        resp = self.server.api._respond(req, split.query, host)
        self.send_response(resp.status)
        for name, value in resp.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _drain_body(self) -> None:
        """Read any request body so the keep-alive connection stays in sync."""
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            self.rfile.read(int(length))

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output should show the client's logs, not ours."""
