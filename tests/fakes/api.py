"""A local fake of the Unusual Whales REST API, for tests, the demo and the benchmark.

It serves `GET /api/news/headlines`, `GET /api/darkpool/{ticker}` and
`GET /api/option-trades/flow-alerts` on a
loopback address with the quirks the real API shows (two timestamp spellings,
numbers as strings, nulls, extra fields, shared seconds, rate-limit headers)
and knobs to inject faults. Stdlib and vvv's own calendar only, so it runs
anywhere the package does and never needs the internet.

Run it alone with `python -m tests.fakes.api --port 0`: it prints its URL on one
line and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import bisect
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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as clock, timedelta
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from vvv.core.calendar import NY, last_trading_day, session

NEWS_PATH = "/api/news/headlines"
DARKPOOL_PREFIX = "/api/darkpool/"
DARKPOOL_MAX_LIMIT = 500
FLOW_PATH = "/api/option-trades/flow-alerts"
ECONOMIC_CALENDAR_PATH = "/api/market/economic-calendar"
FLOW_MAX_LIMIT = 200
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

_DARKPOOL_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,9}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_EPOCH_MS_THRESHOLD = 100_000_000_000  # larger unix numbers are milliseconds, as in vvv's converter
_TIED_EVERY = 100  # prints this many apart, counted from the newest, sit in a burst of one second
_ETFS = frozenset({"SPY", "QQQ", "IWM", "DIA", "TLT", "GLD", "XLF", "SMH"})
_SECTORS = ("Technology", "Financial Services", "Healthcare", "Consumer Cyclical", "Energy", "Industrials")
_MARKET_CENTERS = ("L", "L", "L", "D", "N")
_SIZES = (100, 100, 200, 300, 500, 1000, 1000, 2500, 5000, 6400, 10_000, 18_600, 50_000, 125_000)
_SALE_CONDITIONS = ("average_price_trade", "contingent_trade", "odd_lot_execution", "prior_reference_price")


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
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class FakeApi:
    """The fake API server and its state; all state is guarded by one lock.

    Dark pool knobs: `darkpool_count` prints per ticker and market day, `darkpool_burst`
    prints in one second of each day (over 500 to outgrow a page), `bounds_inclusive` for
    either reading of `newer_than`/`older_than` (an attribute too, to flip between requests).
    Flow alert knobs: `flow_count` alerts over the three hours before `now`, a few sharing one instant.
    """

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
        minute_s: float = 60.0,
        daily_limit: int = 20000,
        darkpool_count: int = 1200,
        darkpool_burst: int = 0,
        bounds_inclusive: bool = False,
        flow_count: int = 300,
    ) -> None:
        _require_loopback(host)
        if news_count < 0:
            raise ValueError("news_count must be >= 0")
        if darkpool_count < 0 or darkpool_burst < 0:
            raise ValueError("darkpool_count and darkpool_burst must be >= 0")
        self.token = token
        self.seed = seed
        self.host = host
        self.port = port
        self.per_minute_limit = per_minute_limit
        self.minute_s = minute_s
        """The rate-limit window: a minute, or shorter so a test of pacing runs in seconds."""
        self.statuses: collections.Counter[int] = collections.Counter()
        self.daily_limit = daily_limit
        self.now = _as_utc(now) if now is not None else datetime.now(UTC)
        self.requests: list[RecordedRequest] = []
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
        self._rng = random.Random(seed)
        self._headlines: set[str] = set()
        self._next_serial = 0
        self._newest_ms: int | None = None
        self.news: list[dict] = self._generate(news_count)
        self.darkpool_count = darkpool_count
        self.darkpool_burst = darkpool_burst
        self.bounds_inclusive = bounds_inclusive
        """True: `newer_than`/`older_than` include prints at the bound itself; False: they do not."""
        self._tapes: dict[tuple[str, date], _Tape] = {}
        if flow_count < 0:
            raise ValueError("flow_count must be >= 0")
        self._flow_rng = random.Random(f"flow:{seed}")
        self._flow_serial = 0
        self._flow: list[tuple[int, dict[str, Any]]] = self._generate_flow(flow_count)
        self.economic_events: list[dict] = _economic_calendar(self.now, random.Random(f"economic:{seed}"))
        """The calendar served whole, as the API does: this week and next, nulls where it has no number."""

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

    @property
    def darkpool_day(self) -> date:
        """The market day `GET /api/darkpool/{ticker}` serves without `date`: the last one as of `now`."""
        return last_trading_day(self.now.astimezone(NY).date())

    def darkpool(self, ticker: str, day: date | None = None) -> list[dict]:
        """Every print of `ticker` on `day` (default `darkpool_day`), newest first, as served unfiltered."""
        symbol = _require_darkpool_ticker(ticker)
        with self._lock:
            return [item for _, item in self._tape(symbol, day or self.darkpool_day).prints]

    def add_darkpool(self, ticker: str, n: int, *, at: datetime | None = None, day: date | None = None) -> list[dict]:
        """Publish n prints of `ticker`: newer than all others of `day` (default `darkpool_day`), or all
        executed at `at` (on `at`'s New York day unless `day` says otherwise): a burst, or prints
        reported late. Returns them newest first."""
        if n < 0:
            raise ValueError("n must be >= 0")
        symbol = _require_darkpool_ticker(ticker)
        with self._lock:
            if day is None:
                day = self.darkpool_day if at is None else _as_utc(at).astimezone(NY).date()
            tape = self._tape(symbol, day)
            times = [_to_ms(_as_utc(at))] * n if at is not None else self._newer_prints(tape, day, n)
            added = [(ms, self._darkpool_item(tape, symbol, ms)) for ms in times]
            for ms, item in added:
                keys = [-existing for existing, _ in tape.prints]
                tape.prints.insert(bisect.bisect_right(keys, -ms), (ms, item))
            return [item for _, item in sorted(added, key=lambda pair: -pair[0])]

    def revise_economic_event(self, index: int, **changes: Any) -> dict:
        """Change an event as the API does when a forecast is revised; returns the new version."""
        with self._lock:
            self.economic_events[index] = {**self.economic_events[index], **changes}
            return dict(self.economic_events[index])

    def flow_alerts(self) -> list[dict]:
        """Every flow alert, newest first, as served without filters."""
        with self._lock:
            return [item for _, item in self._flow]

    def add_flow(self, n: int, *, at: datetime | None = None) -> list[dict]:
        """Publish n alerts newer than all others, or all created at `at` (a burst, or alerts
        published late). Returns them newest first."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            if at is not None:
                times = [_to_ms(_as_utc(at)) * 1000 + _as_utc(at).microsecond % 1000] * n
            else:
                newest = self._flow[0][0] if self._flow else _to_ms(self.now) * 1000
                times = sorted((newest + 1 + _below(self._flow_rng, 4_000_000) for _ in range(n)), reverse=True)
            added = [(us, self._flow_item(us)) for us in times]
            for us, item in added:
                keys = [-existing for existing, _ in self._flow]
                self._flow.insert(bisect.bisect_right(keys, -us), (us, item))
            return [item for _, item in added]

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

    def served(self, feed: str, ticker: str = "") -> list[Any]:
        """Every item of `feed` ("news", "darkpool" with its ticker, "flow") as served now, malformed ones included."""
        with self._lock:
            every = self._malformed_every
            if feed == "news":
                items, variants = list(self.news), _MALFORMS
            elif feed == "darkpool":
                items, variants = [item for _, item in self._tape(_require_darkpool_ticker(ticker),
                                                                     self.darkpool_day).prints], _DARKPOOL_MALFORMS
            elif feed == "flow":
                items, variants = [item for _, item in self._flow], _FLOW_MALFORMS
            else:
                raise ValueError(f"unknown feed {feed!r}")
        return [_malformed(item, len(items) - i, every, variants) for i, item in enumerate(items)]

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

    # store:
    def restate_print(self, ticker: str, tracking_id: int, **changes: Any) -> dict:
        """Serve a print again with other content, as the provider does when it cancels (`canceled=True`)
        or corrects a print after reporting it; returns the new version."""
        symbol = _require_darkpool_ticker(ticker)
        with self._lock:
            for day in sorted({d for t, d in self._tapes if t == symbol}):
                prints = self._tapes[(symbol, day)].prints
                for i, (ms, item) in enumerate(prints):
                    if item.get("tracking_id") == tracking_id:
                        prints[i] = (ms, {**item, **changes})
                        return dict(prints[i][1])
        raise KeyError(f"no print {tracking_id} of {symbol}")

    # store:
    def twin_flow_alert(self, index: int) -> dict:
        """Publish a second alert that shares the option chain, rule and instant of alert `index` (newest
        first) but is another alert of the provider's, with an `id` of its own; returns it."""
        with self._lock:
            us, item = self._flow[index]
            twin = {**item, "id": _flow_id(self.seed, f"twin:{self._flow_serial}"), "total_size": item["total_size"] + 1}
            self._flow_serial += 1
            self._flow.insert(index + 1, (us, twin))
            return dict(twin)

    # pages:
    def unreadable_darkpool(self, ticker: str, n: int, *, at: datetime | None = None, day: date | None = None,
                            executed_at: str = "12/01/2026 14:00:00 ET") -> list[dict]:
        """Publish n prints of `ticker` where `add_darkpool` would (newest, or at `at`) whose `executed_at`
        reads `executed_at`, which is not a timestamp: a burst vvv cannot read, served in its place in the
        day by its true time. `mend_darkpool` gives them their time back."""
        added = self.add_darkpool(ticker, n, at=at, day=day)
        with self._lock:
            for item in added:
                item["executed_at"] = executed_at
        return added

    def mend_darkpool(self, ticker: str, *, every: int = 1, day: date | None = None) -> int:
        """Give every `every`-th unreadable print of `ticker`'s `day` (counted from the newest) its
        `executed_at` back, so a burst becomes partly (or, with 1, wholly) readable; returns how many."""
        if every < 1:
            raise ValueError("every must be >= 1")
        symbol = _require_darkpool_ticker(ticker)
        with self._lock:
            unreadable = [(ms, item) for ms, item in self._tape(symbol, day or self.darkpool_day).prints
                          if not _ISO_DATE.match(str(item.get("executed_at"))[:10])]
            mended = unreadable[every - 1::every]
            for ms, item in mended:
                item["executed_at"] = _render(ms, "zms")
        return len(mended)

    # spool:
    def withdraw_news(self, headlines: set[str]) -> None:
        """Stop serving the headlines named, as a feed does with what lies beyond its depth."""
        with self._lock:
            self.news[:] = [item for item in self.news
                            if not (isinstance(item, dict) and item.get("headline") in headlines)]

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
            resp = _Response(resp.status, resp.body[: len(resp.body) // 2],
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
        with self._lock:
            self.statuses[resp.status] += 1
        return _Response(resp.status, resp.body, resp.content_type, tuple(headers))

    def _route(self, req: RecordedRequest, raw_query: str, host: str, budget: _Budget) -> _Response:
        if budget.minute > self.per_minute_limit:
            retry = max(1, math.ceil(budget.reset_ms / 1000))
            return _json(429, {"msg": f"Too many requests: limit is {self.per_minute_limit} per minute"},
                         ("Retry-After", str(retry)))
        if budget.daily > self.daily_limit:
            return _json(429, {"msg": f"Daily request limit of {self.daily_limit} reached"},
                         ("Retry-After", str(_seconds_to_utc_midnight())))
        if req.path == NEWS_PATH:
            endpoint = self._news
        elif req.path.startswith(DARKPOOL_PREFIX) and "/" not in req.path[len(DARKPOOL_PREFIX):]:
            endpoint = self._darkpool_prints
        elif req.path == FLOW_PATH:
            endpoint = self._flow_alerts
        elif req.path == ECONOMIC_CALENDAR_PATH:
            endpoint = self._economic_calendar
        else:
            return _json(404, {"msg": "not found"})
        if req.method != "GET":
            return _json(405, {"msg": "method not allowed"}, ("Allow", "GET"))
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return _json(401, {"msg": "Unauthorized: a valid 'Authorization: Bearer <token>' header is required"})
        return endpoint(req, raw_query, host)

    def _economic_calendar(self, req: RecordedRequest, raw_query: str, host: str) -> _Response:
        """`GET /api/market/economic-calendar`: no parameters, the whole calendar in one answer."""
        with self._lock:
            return _json(200, {"data": [dict(event) for event in self.economic_events]})

    def _news(self, req: RecordedRequest, raw_query: str, host: str) -> _Response:
        limit, page, problems = _paging(req.query)
        if problems:
            return _invalid(req, raw_query, host, query=problems)
        return _json(200, {"data": self._page(page, limit)})

    def _darkpool_prints(self, req: RecordedRequest, raw_query: str, host: str) -> _Response:
        """`GET /api/darkpool/{ticker}`: one market day, newest first, filtered by time, at most `limit`."""
        raw_ticker = req.path[len(DARKPOOL_PREFIX):]
        ticker = _darkpool_ticker(unquote(raw_ticker))
        path_problems = [] if ticker else [f"{raw_ticker} (valid example: AAPL)"]
        today = self.now.astimezone(NY).date()
        day, newer, older, limit, problems = _darkpool_query(req.query, today=today, default_day=self.darkpool_day)
        if path_problems or problems:
            return _invalid(req, raw_query, host, path=path_problems, query=problems)
        with self._lock:  # chosen under the lock, without copying the tape: a day may hold 100,000 prints
            prints = self._tape(ticker, day).prints
            inclusive, every, total = self.bounds_inclusive, self._malformed_every, len(prints)
            chosen = _chosen_prints(prints, newer, older, inclusive, limit)
        data = [_malformed(item, total - i, every, _DARKPOOL_MALFORMS) for i, item in chosen]
        return _json(200, {"data": data})

    def _flow_alerts(self, req: RecordedRequest, raw_query: str, host: str) -> _Response:
        """`GET /api/option-trades/flow-alerts`: newest first, filtered by time and filters, at most `limit`.

        Of the documented filters, ticker_symbol, min_premium, max_premium, is_sweep, rule_name[]
        and issue_types[] filter; the others are checked for their type and otherwise ignored.
        """
        pairs = req.pairs or tuple(parse_qsl(raw_query, keep_blank_values=True))
        newer, older, limit, keep, problems = _flow_query(pairs)
        if problems:
            return _invalid(req, raw_query, host, query=problems)
        with self._lock:
            alerts = list(self._flow)
            inclusive, every = self.bounds_inclusive, self._malformed_every
        chosen = [(i, item) for i, (us, item) in enumerate(alerts)
                  if _within(us // 1000, newer, older, inclusive) and keep(item)][:limit]
        data = [_malformed(item, len(alerts) - i, every, _FLOW_MALFORMS) for i, item in chosen]
        return _json(200, {"data": data})

    def _generate_flow(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        """`count` alerts over the three hours before `now`, newest first (times in microseconds)."""
        rng = self._flow_rng
        top = _to_ms(self.now) * 1000 - 2_000_000
        span = 3 * 3600 * 1_000_000
        times: list[int] = []
        while len(times) < count:
            us = top - _below(rng, span)
            times += [us] * min(count - len(times), 1 if rng.random() < 0.9 else 2 + _below(rng, 3))
        times.sort()
        return [(us, self._flow_item(us)) for us in times][::-1]

    def _flow_item(self, us: int) -> dict[str, Any]:
        """One alert with the live API's habits: numbers as strings, two timestamp spellings, extras."""
        rng = self._flow_rng
        serial = self._flow_serial
        self._flow_serial += 1
        ticker, issue_type, root, spot = _pick(rng, _FLOW_UNDERLYINGS)
        created = _EPOCH + timedelta(microseconds=us)
        expiry = created.date() + timedelta(days=(4 - created.weekday()) % 7 + 7 * _below(rng, 6))
        kind = "call" if rng.random() < 0.55 else "put"
        step = Decimal("5") if spot > 100 else Decimal("1")
        strike = (Decimal(spot) * Decimal(str(round(0.8 + rng.random() * 0.4, 3))) / step).quantize(Decimal(1)) * step
        if rng.random() < 0.1:
            strike += Decimal("0.5")
        size = 10 + _below(rng, 2000)
        price = Decimal(f"{0.05 + rng.random() * 20:.2f}")
        premium = price * size * 100
        ask = (premium * Decimal(str(round(rng.random(), 2)))).quantize(Decimal("0.01"))
        volume, oi = size + _below(rng, 20_000), _below(rng, 50_000)
        spelled = (created.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") if serial % 2
                   else created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        item: dict[str, Any] = {
            "alert_rule": _pick(rng, _FLOW_RULES),
            "all_opening_trades": rng.random() < 0.1,
            "created_at": spelled,
            "expiry": expiry.isoformat(),
            "expiry_count": 1,
            "has_floor": rng.random() < 0.1,
            "has_multileg": False,
            "has_singleleg": True,
            "has_sweep": rng.random() < 0.4,
            "issue_type": _maybe_null(rng, issue_type),
            "open_interest": oi,
            "option_chain": f"{root}{expiry:%y%m%d}{'C' if kind == 'call' else 'P'}{int(strike * 1000):08d}",
            "price": str(price),
            "strike": str(int(strike)) if strike == strike.to_integral_value() else str(strike),
            "ticker": ticker,
            "total_ask_side_prem": str(ask),
            "total_bid_side_prem": str(premium - ask),
            "total_premium": str(premium),
            "total_size": size,
            "trade_count": 1 + _below(rng, 40),
            "type": kind,
            "underlying_price": _maybe_null(rng, f"{spot * (0.99 + rng.random() * 0.02):.2f}"),
            "volume": volume,
            "volume_oi_ratio": str(Decimal(volume) / max(oi, 1)),
        }
        if rng.random() < 0.3:  # fields live alerts carry that the description lacks
            item.update({"iv_start": f"{rng.random():.4f}", "marketcap": str(10**9 + _below(rng, 10**12))})
        # The live API's own ids (UUIDs, as in the websocket samples); some alerts come without `id`.
        # Derived from the serial, not drawn: the rest of the feed stays what the seed made it.
        if serial % 10 != 9:
            item["id"] = _flow_id(self.seed, serial)
        item["rule_id"] = _flow_id("rule", item["alert_rule"])
        return item

    def _page(self, page: int, limit: int) -> list[Any]:
        """Slice the feed, replacing every n-th item by its malformed variant."""
        with self._lock:
            start = page * limit
            total = len(self.news)
            items = self.news[start:start + limit]
            every = self._malformed_every
        # rank 1 is the oldest item
        return [_malformed(item, total - (start + i), every, _MALFORMS) for i, item in enumerate(items)]

    def _tape(self, ticker: str, day: date) -> _Tape:
        """The prints of (ticker, day), generated on first use from (seed, ticker, day) alone."""
        key = (ticker, day)
        if key not in self._tapes:
            self._tapes[key] = self._generate_darkpool(ticker, day)
        return self._tapes[key]

    def _generate_darkpool(self, ticker: str, day: date) -> _Tape:
        """`darkpool_count` prints over the day's extended session (today: up to `now`), newest first.

        Prints come in bursts sharing a second, as live ones do; prints `_TIED_EVERY` apart from
        the newest (where pages of 100 or 500 end) always sit in a burst; `darkpool_burst` puts
        that many prints in one second of the day; a few lone prints carry milliseconds.
        """
        rng = random.Random(f"darkpool:{self.seed}:{ticker}:{day.isoformat()}")
        avg30 = f"{rng.randrange(10**6, 10**8)}.{rng.randrange(10**4):04d}"
        tape = _Tape(rng=rng, base_id=rng.randrange(10**13, 9 * 10**13), price=20 + rng.random() * 680,
                     volume=rng.randrange(10**5, 10**6), avg30=avg30)
        today = self.now.astimezone(NY).date()
        hours = session(day)
        if hours is None or day > today:
            return tape
        seconds = _print_seconds(rng, int(hours.pre_open.timestamp()), int(hours.after_close.timestamp()),
                                 self.darkpool_count)
        if day == today:  # only what has happened by `now`
            seconds = [s for s in seconds if s * 1000 <= _to_ms(self.now) - 2000]
        if self.darkpool_burst and seconds:
            at = len(seconds) // 3
            seconds[at:at] = [seconds[at]] * self.darkpool_burst
        for edge in range(_TIED_EVERY, len(seconds) - 6, _TIED_EVERY):
            seconds[edge - 6:edge + 6] = [seconds[edge]] * 12
        times = [_with_milliseconds(rng, seconds, i) for i in range(len(seconds))]
        oldest_first = [(ms, self._darkpool_item(tape, ticker, ms)) for ms in reversed(times)]
        tape.prints = oldest_first[::-1]  # built oldest first, so volume accumulates as the day goes
        return tape

    def _newer_prints(self, tape: _Tape, day: date, n: int) -> list[int]:
        """n times after the newest print of the day, a few to a second."""
        newest = tape.prints[0][0] if tape.prints else None
        if newest is None:
            hours = session(day)
            newest = _to_ms(hours.open if hours is not None else datetime.combine(day, clock(9, 30), tzinfo=NY))
        t, times = (newest // 1000 + 1) * 1000, []
        for _ in range(n):
            times.append(t)
            if tape.rng.random() > 0.6:
                t += 1000 * (1 + _below(tape.rng, 3))
        return times

    def _darkpool_item(self, tape: _Tape, ticker: str, ms: int) -> dict[str, Any]:
        """One print with the live API's habits: numbers as strings, nulls, fields the description lacks."""
        rng = tape.rng
        serial = tape.serial
        tape.serial += 1
        tape.price *= 1 + (rng.random() - 0.5) * 0.002
        price = f"{tape.price:.4f}" if rng.random() < 0.6 else f"{tape.price:.2f}"
        size = _pick(rng, _SIZES) if rng.random() < 0.9 else 1 + _below(rng, 99)
        premium = (Decimal(price) * size).quantize(Decimal("0.01"))
        tape.volume += size
        local = (_EPOCH + timedelta(milliseconds=ms)).astimezone(NY).time()
        etf = ticker in _ETFS
        return {
            "canceled": rng.random() < 0.02,
            "executed_at": _render(ms, "zms" if ms % 1000 else ("z" if serial % 2 == 0 else "space")),
            "ext_hour_sold_codes": None if clock(9, 30) <= local < clock(16) else "extended_hours_trade",
            "market_center": _pick(rng, _MARKET_CENTERS),
            **_nbbo(rng, Decimal(price)),
            "premium": str(premium.to_integral_value()) if premium == premium.to_integral_value() else str(premium),
            "price": price,
            "sale_cond_codes": _pick(rng, _SALE_CONDITIONS) if rng.random() < 0.1 else None,
            "size": size,
            "ticker": ticker,
            "tracking_id": tape.base_id + serial,
            "trade_code": "derivative_priced" if rng.random() < 0.05 else None,
            "trade_settlement": "regular",
            "volume": str(tape.volume) if rng.random() < 0.05 else tape.volume,
            "trf_executed_at": None if rng.random() < 0.1 else _render(ms + _below(rng, 2000), "zms"),
            "created_at": _render_us(ms * 1000 + 1_000_000 + _below(rng, 4_000_000)),
            "issue_type": "ETF" if etf else "Common Stock",
            "sector": None if etf else _pick(rng, _SECTORS),
            "avg30_volume": tape.avg30,
        }


def _flow_id(*parts: Any) -> str:
    """A UUID for an alert or a rule, the same for the same parts in every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-uw/" + "/".join(map(str, parts))))


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


@dataclass
class _Tape:
    """The prints of one (ticker, day), newest first as (ms, item), and what new ones continue from."""

    rng: random.Random
    base_id: int
    price: float
    volume: int
    avg30: str
    serial: int = 0
    prints: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def _darkpool_ticker(text: str) -> str | None:
    """The ticker upper-cased, or None when the path segment is not one (`..`, `%2F`, `SPY?x`)."""
    return text.upper() if text.isascii() and _DARKPOOL_TICKER.fullmatch(text) else None


def _require_darkpool_ticker(text: str) -> str:
    ticker = _darkpool_ticker(text) if isinstance(text, str) else None
    if ticker is None:
        raise ValueError(f"not a ticker: {text!r}")
    return ticker


def _darkpool_query(
    query: dict[str, str], *, today: date, default_day: date
) -> tuple[date, int | None, int | None, int, list[str]]:
    """Parse date (a past or current day), newer_than/older_than (unix s or ms, or an ISO date) and limit."""
    problems = []
    day = default_day
    if "date" in query:
        day = _past_date(query["date"], today)
        if day is None:
            problems.append(f"date={query['date']} (valid example: date=2024-01-18)")
    bounds = []
    for name in ("newer_than", "older_than"):
        value = _bound_ms(query[name]) if name in query else None
        if name in query and value is None:
            problems.append(f"{name}={query[name]} (valid example: {name}=1715083417)")
        bounds.append(value)
    limit = _int_in(query.get("limit", str(DARKPOOL_MAX_LIMIT)), 1, DARKPOOL_MAX_LIMIT)
    if limit is None:
        problems.append(f"limit={query.get('limit')} (valid example: limit=500)")
    return day or default_day, bounds[0], bounds[1], limit or 0, problems


_FLOW_BOOLEANS = frozenset({
    "all_opening", "is_floor", "is_sweep", "is_call", "is_put", "is_ask_side", "is_bid_side", "is_otm",
    "is_multi_leg", "size_greater_oi", "vol_greater_oi",
})
_FLOW_NUMBERS = frozenset(f"{edge}_{name}" for edge in ("min", "max") for name in (
    "premium", "size", "volume", "open_interest", "volume_oi_ratio", "diff", "dte", "ask_perc", "bid_perc",
    "bull_perc", "bear_perc", "skew", "price", "iv_change", "size_vol_ratio", "spread", "marketcap",
))
_FLOW_LISTS = {"rule_name[]": "alert_rule", "issue_types[]": "issue_type"}
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _flow_query(
    pairs: tuple[tuple[str, str], ...],
) -> tuple[int | None, int | None, int, Callable[[dict], bool], list[str]]:
    """Parse bounds, limit (1..200, default 100) and filters; the predicate keeps what the filters allow."""
    query = dict(pairs)
    problems = []
    bounds = []
    for name in ("newer_than", "older_than"):
        value = _bound_ms(query[name]) if name in query else None
        if name in query and value is None:
            problems.append(f"{name}={query[name]} (valid example: {name}=1715083417)")
        bounds.append(value)
    limit = _int_in(query.get("limit", "100"), 1, FLOW_MAX_LIMIT)
    if limit is None:
        problems.append(f"limit={query.get('limit')} (valid example: limit=100)")
    for name, value in pairs:
        if name in _FLOW_BOOLEANS and value not in ("true", "false"):
            problems.append(f"{name}={value} (valid example: {name}=true)")
        elif name in _FLOW_NUMBERS and not _NUMBER.fullmatch(value):
            problems.append(f"{name}={value} (valid example: {name}=125)")
    if problems:
        return None, None, 0, lambda _: True, problems
    lists = {field: {v for n, v in pairs if n == name} for name, field in _FLOW_LISTS.items()
             if any(n == name for n, _ in pairs)}

    def keep(item: dict) -> bool:
        if not isinstance(item, dict):
            return True
        tickers = query.get("ticker_symbol")
        if tickers:
            listed = {t.strip().upper() for t in tickers.lstrip("-").split(",")}
            if (item.get("ticker") in listed) == tickers.startswith("-"):
                return False
        premium = Decimal(str(item.get("total_premium") or 0))
        if "min_premium" in query and premium < Decimal(query["min_premium"]):
            return False
        if "max_premium" in query and premium > Decimal(query["max_premium"]):
            return False
        if "is_sweep" in query and item.get("has_sweep") != (query["is_sweep"] == "true"):
            return False
        return all(item.get(field) in allowed for field, allowed in lists.items())

    return bounds[0], bounds[1], limit or 0, keep, []


def _past_date(text: str, today: date) -> date | None:
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day <= today else None


def _bound_ms(text: str) -> int | None:
    """Unix milliseconds from seconds, milliseconds or an ISO date (its midnight, UTC)."""
    if _DIGITS.fullmatch(text):
        value = int(text)
        return value if value >= _EPOCH_MS_THRESHOLD else value * 1000
    if _ISO_DATE.fullmatch(text):
        try:
            return _to_ms(datetime.combine(date.fromisoformat(text), clock(), tzinfo=UTC))
        except ValueError:
            return None
    return None


def _within(ms: int, newer: int | None, older: int | None, inclusive: bool) -> bool:
    if inclusive:
        return (newer is None or ms >= newer) and (older is None or ms <= older)
    return (newer is None or ms > newer) and (older is None or ms < older)


def _print_seconds(rng: random.Random, start_s: int, end_s: int, count: int) -> list[int]:
    """The seconds of up to `count` prints between start_s and end_s, newest first, in bursts."""
    gap = max(1, (end_s - start_s) * 4 // max(count, 1))  # bursts average about four prints
    seconds: list[int] = []
    t = end_s
    while len(seconds) < count:
        t -= 1 + _below(rng, 2 * gap)
        if t < start_s:
            break
        seconds += [t] * min(_burst_size(rng), count - len(seconds))
    return seconds


def _burst_size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.5:
        return 1
    if roll < 0.8:
        return 2 + _below(rng, 3)
    return 5 + _below(rng, 11) if roll < 0.95 else 16 + _below(rng, 25)


def _with_milliseconds(rng: random.Random, seconds: list[int], i: int) -> int:
    """A tenth of the prints alone in their second carry milliseconds, as some live ones do."""
    alone = (i == 0 or seconds[i - 1] != seconds[i]) and (i + 1 == len(seconds) or seconds[i + 1] != seconds[i])
    return seconds[i] * 1000 + (1 + _below(rng, 999) if alone and rng.random() < 0.1 else 0)


def _nbbo(rng: random.Random, price: Decimal) -> dict[str, Any]:
    if rng.random() < 0.1:
        return dict.fromkeys(("nbbo_ask", "nbbo_ask_quantity", "nbbo_bid", "nbbo_bid_quantity"))
    tick = Decimal("0.01")
    bid = (price - tick * _below(rng, 3)).quantize(tick)
    ask = max(bid + tick, (price + tick * _below(rng, 3)).quantize(tick))
    return {
        "nbbo_ask": str(ask.normalize()) if ask == ask.to_integral_value() else str(ask),
        "nbbo_ask_quantity": 100 * (1 + _below(rng, 300)),
        "nbbo_bid": str(bid),
        "nbbo_bid_quantity": 100 * (1 + _below(rng, 300)),
    }


def _invalid(
    req: RecordedRequest, raw_query: str, host: str, *, path: list[str] = (), query: list[str] = ()
) -> _Response:
    """422 in the API's Error Message shape, naming every bad input."""
    parts = [f"Invalid path input: {', '.join(path)}"] if path else []
    parts += [f"Invalid query input(s): {', '.join(query)}"] if query else []
    return _json(422, {"msg": " - ".join(parts), "path": req.path, "query": raw_query,
                       "url": f"{host}{req.path}?{raw_query}"})


def _malformed(item: Any, rank: int, every: int, variants: tuple[Callable[[Any], Any], ...]) -> Any:
    """The item, or its malformed variant when its rank (1 for the oldest) is a multiple of `every`."""
    if not every or rank % every:
        return item
    return variants[(rank // every - 1) % len(variants)](item)


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


def _render_us(us: int) -> str:
    """`2025-10-22T21:24:31.123456Z`, as live `created_at` values look."""
    return (_EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
_DARKPOOL_MALFORMS: tuple[Callable[[Any], Any], ...] = (
    _without("executed_at"),
    _with("executed_at", "not a date"),
    _with("price", "n/a"),
    _with("tracking_id", None),
    _as_string,
    _with("size", "lots"),
)


_FLOW_MALFORMS: tuple[Callable[[Any], Any], ...] = (
    _without("created_at"),
    _with("created_at", "not a date"),
    _with("option_chain", "n/a"),
    _with("strike", "0.5"),
    _as_string,
    _with("total_size", "lots"),
)
_FLOW_RULES = (
    "RepeatedHits", "RepeatedHitsAscendingFill", "RepeatedHitsDescendingFill", "FloorTradeSmallCap",
    "FloorTradeMidCap", "FloorTradeLargeCap", "OtmEarningsFloor", "LowHistoricVolumeFloor", "SweepsFollowedByFloor",
)
# (ticker, issue type, OCC root, a price): SPX weeklies trade under the root SPXW.
_FLOW_UNDERLYINGS = (
    ("SPY", "ETF", "SPY", 580), ("QQQ", "ETF", "QQQ", 500), ("AAPL", "Common Stock", "AAPL", 230),
    ("TSLA", "Common Stock", "TSLA", 250), ("NVDA", "Common Stock", "NVDA", 140), ("MSFT", "Common Stock", "MSFT", 420),
    ("SPX", "Index", "SPXW", 5800), ("BABA", "ADR", "BABA", 95), ("F", "Common Stock", "F", 11),
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


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.api",
        description="Serve a local fake of the Unusual Whales API; prints its URL, then serves until SIGTERM/SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 for any free one (default 0)")
    parser.add_argument("--token", default="test-token", help="bearer token to accept (default test-token)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated news (default 0)")
    parser.add_argument("--news", type=int, default=250, help="number of headlines (default 250)")
    parser.add_argument("--darkpool", type=int, default=1200,
                        help="dark pool prints per ticker per market day (default 1200)")
    parser.add_argument("--darkpool-burst", type=int, default=0,
                        help="prints in one second of each day's tape, e.g. 600 to exceed a page (default 0)")
    parser.add_argument("--per-minute-limit", type=int, default=120,
                        help="requests allowed per minute before a 429 (default 120)")
    parser.add_argument("--bounds-inclusive", action="store_true",
                        help="serve newer_than/older_than as inclusive bounds (default exclusive)")
    args = parser.parse_args(argv)
    try:
        _require_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    if args.news < 0:
        parser.error("--news must be >= 0")
    if args.darkpool < 0 or args.darkpool_burst < 0:
        parser.error("--darkpool and --darkpool-burst must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then exit 0; the URL line tells callers where."""
    args = _parse_args(argv)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    api = FakeApi(token=args.token, seed=args.seed, news_count=args.news, port=args.port, host=args.host,
                  darkpool_count=args.darkpool, darkpool_burst=args.darkpool_burst,
                  bounds_inclusive=args.bounds_inclusive, per_minute_limit=args.per_minute_limit)
    with api:
        print(api.url, flush=True)
        while not done.wait(0.5):
            pass
    statuses = {str(status): count for status, count in sorted(api.statuses.items())}
    print(json.dumps({"requests": len(api.requests), "statuses": statuses}), file=sys.stderr, flush=True)
    return 0


_ECONOMIC_EVENTS = (
    ("CPI", "report", "10:30", "0.3%"), ("Initial jobless claims", "report", "12:30", "221K"),
    ("FOMC rate decision", "fomc", "18:00", None), ("Fed Chair Powell speaks", "fed-speaker", "14:00", None),
    ("Consumer sentiment (final)", "report", "14:00", "69.4"), ("PCE index", "report", "12:30", "0.2%"),
)


def _economic_calendar(now: datetime, rng: random.Random) -> list[dict]:
    """Deterministic events over this week and next, both timestamp spellings, nulls as the API sends."""
    monday = (now - timedelta(days=now.weekday())).date()
    events = []
    for day in range(10):
        when = monday + timedelta(days=day + (day // 5) * 2)
        name, kind, at, forecast = _ECONOMIC_EVENTS[day % len(_ECONOMIC_EVENTS)]
        moment = datetime.combine(when, datetime.strptime(at, "%H:%M").time(), tzinfo=UTC)
        events.append({
            "event": name,
            "time": moment.isoformat(sep=" ") if day % 2 else moment.isoformat().replace("+00:00", "Z"),
            "type": kind,
            "reported_period": moment.strftime("%B") if kind == "report" else None,
            "forecast": forecast if rng.random() < 0.8 else None,
            "prev": forecast,
        })
    return events



def _chosen_prints(
    prints: list[tuple[int, dict[str, Any]]], newer: int | None, older: int | None, inclusive: bool, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """The first `limit` prints within the bounds, with their places on the tape (newest first, sorted):
    found by bisection, so a day of 100,000 prints is served as fast as one of 1,000 (for scripts/bench)."""
    start = 0
    if older is not None:
        start = (bisect.bisect_left if inclusive else bisect.bisect_right)(prints, -older, key=lambda p: -p[0])
    chosen = []
    for i in range(start, len(prints)):
        ms, item = prints[i]
        if len(chosen) == limit or not _within(ms, newer, None, inclusive):
            break
        chosen.append((i, item))
    return chosen


if __name__ == "__main__":
    raise SystemExit(main())

