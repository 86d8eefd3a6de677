"""A local fake of the Unusual Whales REST API, for tests, the demo and the benchmark.

It serves `GET /api/news/headlines` on a loopback address with the quirks the
real API shows (two timestamp spellings, nulls, extra fields, shared seconds,
rate-limit headers) and knobs to inject faults. Stdlib only, so it runs
anywhere the package does and never needs the internet.

Run it alone with `python -m vvv.fake_api --port 0`: it prints its URL on one
line and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import collections
import ipaddress
import json
import math
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

NEWS_PATH = "/api/news/headlines"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT = re.compile(r"-?[0-9]+")

_COMPANIES = (
    ("Apple", ["AAPL"]),
    ("Nestlé", ["NSRGY"]),
    ("Société Générale", ["SCGLY"]),
    ("L'Oréal", ["LRLCY"]),
    ("McDonald's", ["MCD"]),
    ("Moody's", ["MCO"]),
    ("AT&T", ["T"]),
    ("Procter & Gamble", ["PG"]),
    ("Berkshire Hathaway", ["BRK.B"]),
    ("Tesla", ["TSLA"]),
    ("NVIDIA", ["NVDA"]),
    ("Toyota", ["TM"]),
    ("BYD (比亚迪)", ["BYDDY"]),
    ("Zürich Insurance", ["ZURVY"]),
    ("Ørsted", ["DNNGY"]),
    ("Škoda Transportation", []),
    ("Petrobras", ["PBR", "PBR.A"]),
    ("S&P 500 futures", ["SPY", "ES"]),
    ("Nasdaq-100", ["QQQ"]),
    ("Treasury yields", []),
)
_TEMPLATES = (
    "{co} reports Q{q} revenue up {pct}%, beats estimates",
    '{co} shares fall {pct}% after CEO warns of a "challenging quarter"',
    "{co}'s board approves ${amt}B buyback",
    "“{co} is undervalued,” analyst says; price target raised to ${px}",
    "{co} cuts guidance — sees margins {pct}% lower",
    "Fed's Powell: rates to stay 'higher for longer'; {co} slips {pct}%",
    "{co} to acquire rival for €{amt}B in all-cash deal",
    "🚀 {co} rallies {pct}% in pre-market trading",
    "{co} recalls {n} units over 'software glitch'",
    "{co} files 8-K: CFO steps down, effective immediately",
    "Breaking: {co} halted pending news ⚠️",
    "{co} up {pct}% after Q{q} beat; options flow leans bullish",
)
_SOURCES = (
    "Benzinga", "Reuters", "Bloomberg", "BusinessWire", "PR Newswire",
    "MarketWatch", "Dow Jones", "GlobeNewswire", "Unusual Whales",
)
_TAGS = ("earnings", "m&a", "guidance", "macro", "federal-reserve", "recall",
         "buyback", "analyst", "halt", "pre-market")
_AUTHORS = ("Jane O'Neil", "José Álvarez", "Zoë Müller", "李伟", "Sam \"The Tape\" Reed")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it, so tests can assert what the client sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


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
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class FakeApi:
    """The fake API server and its state; all state is guarded by one lock."""

    def __init__(
        self,
        *,
        token: str = "test-token",
        seed: int = 0,
        news_count: int = 250,
        now: datetime | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        per_minute_limit: int = 120,
        daily_limit: int = 20000,
    ) -> None:
        _require_loopback(host)
        if news_count < 0:
            raise ValueError("news_count must be >= 0")
        self.token = token
        self.seed = seed
        self.host = host
        self.port = port
        self.per_minute_limit = per_minute_limit
        self.daily_limit = daily_limit
        self.now = _as_utc(now) if now is not None else datetime.now(UTC)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: collections.deque[_Fault] = collections.deque()
        self._malformed_every = 0
        self._window_start: float | None = None
        self._minute_count = 0
        self._daily_count = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._rng = random.Random(seed)
        self._headlines: set[str] = set()
        self._next_serial = 0
        self._newest_ms: int | None = None
        self.news: list[dict] = self._generate(news_count)

    @property
    def url(self) -> str:
        """Base URL to give the client; only known once the socket is bound."""
        if self._server is None:
            raise RuntimeError("FakeApi is not started")
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> FakeApi:
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

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def add_news(self, n: int, *, at: datetime | None = None) -> list[dict]:
        """Publish n headlines newer than all others (or all at `at`), as the live feed does."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            if at is None:
                items = self._newer_items(n)
                self.news[0:0] = items
            else:
                items = self._items_at(n, _as_utc(at))
                self._insert_sorted(items, _to_ms(_as_utc(at)))
            return list(items)

    def add_raw_news(self, item: Any) -> None:
        """Put an arbitrary item on top, to test how the client copes with junk."""
        with self._lock:
            self.news.insert(0, item)
            ms = _item_ms(item)
            if ms is not None and (self._newest_ms is None or ms > self._newest_ms):
                self._newest_ms = ms

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

        Counting from the oldest keeps an item's fate stable when newer ones arrive.
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

    def _generate(self, count: int) -> list[dict]:
        """The initial feed: a pure function of (seed, count, now), newest first."""
        top = _to_ms(self.now) - self._rng.randint(2_000, 30_000)
        self._next_serial = count
        items = self._items(self._walk(top, count, count - 1, max_gap_s=600, same_second=0.35))
        self._newest_ms = _item_ms(items[0]) if items else None
        return items

    def _newer_items(self, n: int) -> list[dict]:
        """n items strictly newer than the newest, packed ~2.5 per second to limit drift.

        The walk is drawn below zero, then moved up by whole seconds so that the
        oldest new item lands in the second after the current newest one.
        """
        times = self._walk(0, n, self._next_serial + n - 1, max_gap_s=1, same_second=0.6)
        self._next_serial += n
        if not times:
            return []
        base = self._newest_ms if self._newest_ms is not None else _to_ms(self.now)
        shift = (base // 1000 + 1) * 1000 - (times[-1][1] // 1000) * 1000
        items = self._items([(serial, ms + shift, style) for serial, ms, style in times])
        self._newest_ms = _item_ms(items[0])
        return items

    def _items_at(self, n: int, at: datetime) -> list[dict]:
        """n items stamped exactly `at`, in a spelling that can show its milliseconds."""
        ms = _to_ms(at)
        items = []
        for _ in range(n):
            serial = self._next_serial
            self._next_serial += 1
            style = "zms" if ms % 1000 else _style_for(serial, self._rng)
            items.append(self._item(serial, _render(ms, style)))
        items.reverse()
        if n and (self._newest_ms is None or ms > self._newest_ms):
            self._newest_ms = ms
        return items

    def _insert_sorted(self, items: list[dict], ms: int) -> None:
        """Keep the feed newest first: insert before the first item older than `ms`."""
        index = len(self.news)
        for i, existing in enumerate(self.news):
            existing_ms = _item_ms(existing)
            if existing_ms is not None and existing_ms < ms:
                index = i
                break
        self.news[index:index] = items

    def _walk(
        self, top_ms: int, n: int, first_serial: int, *, max_gap_s: int, same_second: float
    ) -> list[tuple[int, int, str]]:
        """(serial, ms, spelling) for n items going back from top_ms, newest first.

        Each candidate time is at most the previous *shown* time, and dropping the
        fraction only lowers it, so shown times never increase down the feed
        whichever spelling is drawn.
        """
        times = []
        t = top_ms
        for i in range(n):
            if i:
                t -= _gap_ms(self._rng, t, max_gap_s, same_second)
            serial = first_serial - i
            style = _style_for(serial, self._rng)
            t = t if style == "zms" else (t // 1000) * 1000
            times.append((serial, t, style))
        return times

    def _items(self, times: list[tuple[int, int, str]]) -> list[dict]:
        return [self._item(serial, _render(ms, style)) for serial, ms, style in times]

    def _item(self, serial: int, created_at: str) -> dict:
        """One headline with the real API's optional-field habits."""
        rng = self._rng
        co, tickers = _pick(rng, _COMPANIES)
        item: dict[str, Any] = {
            "created_at": created_at,
            "headline": self._unique_headline(co, serial),
            "is_major": _maybe_null(rng, rng.random() < 0.2),
            "meta": _maybe_null(rng, _meta(rng, serial)),
            "sentiment": _maybe_null(rng, _pick(rng, ("positive", "negative", "neutral"))),
            "source": _pick(rng, _SOURCES),
            "tags": _maybe_null(rng, list(dict.fromkeys(_pick(rng, _TAGS) for _ in range(_below(rng, 4))))),
            "tickers": _maybe_null(rng, list(tickers)),
        }
        roll = rng.random()
        if roll < 0.12:
            item["url"] = f"https://news.example.com/a/{serial}?ref=uw&lang=en"
        elif roll < 0.2:
            item["author"] = _pick(rng, _AUTHORS)
        return item

    def _unique_headline(self, co: str, serial: int) -> str:
        """Headlines are unique so (source, headline, created_at) identities never collide."""
        rng = self._rng
        text = ""
        for _ in range(5):
            text = _pick(rng, _TEMPLATES).format(
                co=co,
                q=1 + _below(rng, 4),
                pct=f"{0.1 + rng.random() * 25:.1f}",
                amt=1 + _below(rng, 90),
                px=10 + _below(rng, 890),
                n=f"{1_000 + _below(rng, 899_000):,}",
            )
            if text not in self._headlines:
                break
        else:
            text = f"{text} (update {serial})"
        self._headlines.add(text)
        return text

    def _respond(self, req: RecordedRequest, raw_query: str, host: str) -> _Response:
        """Record, count, apply at most one queued fault, then answer."""
        with self._lock:
            self.requests.append(req)
            budget = self._count_request()
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.kind == "delay":
            self._stopping.wait(fault.seconds)
        if fault is not None and fault.kind == "fail":
            resp = _fault_response(fault)
        else:
            resp = self._route(req, raw_query, host, budget)
        if fault is not None and fault.kind == "truncate":
            resp = _Response(resp.status, resp.body[: len(resp.body) // 2],
                             resp.content_type, resp.headers)
        return self._finish(resp, budget)

    def _count_request(self) -> _Budget:
        """A fixed one-minute window opened by the first request after the last one expired."""
        now = time.monotonic()
        if self._window_start is None or now - self._window_start >= 60:
            self._window_start = now
            self._minute_count = 0
        self._minute_count += 1
        self._daily_count += 1
        reset_ms = max(0, int((self._window_start + 60 - now) * 1000))
        return _Budget(self._minute_count, self._daily_count, reset_ms)

    def _finish(self, resp: _Response, budget: _Budget) -> _Response:
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
        return _Response(resp.status, resp.body, resp.content_type, tuple(headers))

    def _route(self, req: RecordedRequest, raw_query: str, host: str, budget: _Budget) -> _Response:
        if budget.minute > self.per_minute_limit:
            retry = max(1, math.ceil(budget.reset_ms / 1000))
            return _json(429, {"msg": f"Too many requests: limit is {self.per_minute_limit} per minute"},
                         ("Retry-After", str(retry)))
        if budget.daily > self.daily_limit:
            return _json(429, {"msg": f"Daily request limit of {self.daily_limit} reached"},
                         ("Retry-After", str(_seconds_to_utc_midnight())))
        if req.path != NEWS_PATH:
            return _json(404, {"msg": "not found"})
        if req.method != "GET":
            return _json(405, {"msg": "method not allowed"}, ("Allow", "GET"))
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return _json(401, {"msg": "Unauthorized: a valid 'Authorization: Bearer <token>' header is required"})
        limit, page, problems = _paging(req.query)
        if problems:
            return _json(422, {
                "msg": "Invalid query input(s): " + ", ".join(problems),
                "path": req.path,
                "query": raw_query,
                "url": f"{host}{req.path}?{raw_query}",
            })
        return _json(200, {"data": self._page(page, limit)})

    def _page(self, page: int, limit: int) -> list[Any]:
        """Slice the feed, replacing every n-th item by its malformed variant."""
        with self._lock:
            start = page * limit
            total = len(self.news)
            items = self.news[start:start + limit]
            every = self._malformed_every
        if not every:
            return items
        out = []
        for i, item in enumerate(items):
            rank = total - (start + i)  # 1 for the oldest item
            if rank % every == 0:
                item = _MALFORMS[(rank // every - 1) % len(_MALFORMS)](item)
            out.append(item)
        return out


def _paging(query: dict[str, str]) -> tuple[int, int, list[str]]:
    """Parse limit (1..100, default 50) and page (>= 0, default 0), naming each bad input."""
    problems = []
    limit = _int_in(query.get("limit", "50"), 1, 100)
    if limit is None:
        problems.append(f"limit={query.get('limit')} (valid example: limit=50)")
    page = _int_in(query.get("page", "0"), 0, None)
    if page is None:
        problems.append(f"page={query.get('page')} (valid example: page=1)")
    return limit or 0, page or 0, problems


def _int_in(text: str, low: int, high: int | None) -> int | None:
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    if value < low or (high is not None and value > high):
        return None
    return value


def _json(status: int, payload: Any, *headers: tuple[str, str]) -> _Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _Response(status, body, headers=tuple(headers))


def _fault_response(fault: _Fault) -> _Response:
    """A 500 looks like the API's own plain-text error; other statuses get a JSON msg."""
    if fault.body is not None:
        ctype = "application/json; charset=utf-8" if _is_json(fault.body) else "text/plain; charset=utf-8"
        return _Response(fault.status, fault.body.encode("utf-8"), ctype, fault.headers)
    if fault.status == 500:
        return _Response(500, b"Something went wrong", "text/plain; charset=utf-8", fault.headers)
    phrase = _reason(fault.status)
    return _Response(fault.status, json.dumps({"msg": phrase}).encode("utf-8"), headers=fault.headers)


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


def _gap_ms(rng: random.Random, t: int, max_gap_s: int, same_second: float) -> int:
    """Sometimes stay in the same second: bursts of headlines share a timestamp."""
    if rng.random() < same_second:
        return _below(rng, t % 1000 + 1)
    return 1000 + _below(rng, (max_gap_s - 1) * 1000 + 1)


def _style_for(serial: int, rng: random.Random) -> str:
    """Spellings alternate down the feed; some 'Z' ones carry milliseconds."""
    if serial % 2 == 0:
        return "space"
    return "zms" if rng.random() < 0.35 else "z"


def _render(ms: int, style: str) -> str:
    dt = _EPOCH + timedelta(milliseconds=ms)
    if style == "space":
        return dt.strftime("%Y-%m-%d %H:%M:%S+00:00")
    if style == "z":
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _to_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _item_ms(item: Any) -> int | None:
    """The item's created_at in ms, or None when it is missing or unreadable."""
    if not isinstance(item, dict) or not isinstance(item.get("created_at"), str):
        return None
    try:
        return _to_ms(_as_utc(datetime.fromisoformat(item["created_at"])))
    except ValueError:
        return None


def _below(rng: random.Random, n: int) -> int:
    """randrange(n) via random(): several times faster, which matters for big feeds."""
    return int(rng.random() * n)


def _pick(rng: random.Random, seq: Any) -> Any:
    return seq[int(rng.random() * len(seq))]


def _maybe_null(rng: random.Random, value: Any) -> Any:
    return None if rng.random() < 0.1 else value


def _meta(rng: random.Random, serial: int) -> dict:
    """Mostly empty, as documented; sometimes nested, as seen live."""
    if rng.random() < 0.6:
        return {}
    return {
        "origin": {"feed": _pick(rng, ("wire", "social", "filings")), "ids": [serial, serial * 7 % 1000]},
        "score": round(rng.random(), 3),
        "note": _pick(rng, (None, "L'analyse «préliminaire»", 'quoted "text"')),
    }


def _without(key: str) -> Callable[[Any], Any]:
    def drop(item: Any) -> Any:
        return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item
    return drop


def _with(key: str, value: Any) -> Callable[[Any], Any]:
    def replace(item: Any) -> Any:
        return {**item, key: value} if isinstance(item, dict) else item
    return replace


def _as_string(item: Any) -> Any:
    return json.dumps(item, ensure_ascii=False)


_MALFORMS: tuple[Callable[[Any], Any], ...] = (
    _without("created_at"),
    _with("created_at", "not a date"),
    _with("headline", None),
    _with("headline", 12345),
    _as_string,
    _with("tickers", "SPY"),
)


def _require_loopback(host: str) -> None:
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

    def __init__(self, address: tuple[str, int], api: FakeApi) -> None:
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


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m vvv.fake_api",
        description="Serve a local fake of the Unusual Whales API; prints its URL, then serves until SIGTERM/SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 for any free one (default 0)")
    parser.add_argument("--token", default="test-token", help="bearer token to accept (default test-token)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated news (default 0)")
    parser.add_argument("--news", type=int, default=250, help="number of headlines (default 250)")
    args = parser.parse_args(argv)
    try:
        _require_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    if args.news < 0:
        parser.error("--news must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then exit 0; the URL line tells callers where."""
    args = _parse_args(argv)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    api = FakeApi(token=args.token, seed=args.seed, news_count=args.news, port=args.port, host=args.host)
    with api:
        print(api.url, flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
