"""`GET /api/darkpool/{ticker}` (one ticker's market day, paged by time) and
`GET /api/darkpool/recent` (the whole market's newest prints), as a FakeApi mixin. Both serve
the same tapes, so a print has one `tracking_id` and one content on either endpoint."""

from __future__ import annotations

import bisect
import heapq
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from tests.fakes.quirks import (
    EPOCH,
    as_utc,
    below,
    malformed,
    malforms,
    pick,
    render,
    render_us,
    to_ms,
    with_,
)
from tests.fakes.server import (
    ISO_DATE,
    RecordedRequest,
    Response,
    bounds_of,
    check_types,
    date_of,
    invalid,
    json_response,
    limit_of,
    require_ticker,
    ticker_in_path,
    within,
)
from vvv.core.calendar import NY, session

DARKPOOL_PREFIX = "/api/darkpool/"
DARKPOOL_RECENT_PATH = "/api/darkpool/recent"
DARKPOOL_MAX_LIMIT = 500
RECENT_MAX_LIMIT = 200
_TIED_EVERY = 100  # prints this many apart, counted from the newest, sit in a burst of one second
_ETFS = frozenset({"SPY", "QQQ", "IWM", "DIA", "TLT", "GLD", "XLF", "SMH"})
_SECTORS = ("Technology", "Financial Services", "Healthcare", "Consumer Cyclical", "Energy", "Industrials")
_MARKET_CENTERS = ("L", "L", "L", "D", "N")
_SIZES = (100, 100, 200, 300, 500, 1000, 1000, 2500, 5000, 6400, 10_000, 18_600, 50_000, 125_000)
_SALE_CONDITIONS = ("average_price_trade", "contingent_trade", "odd_lot_execution", "prior_reference_price")
_RECENT_FILTERS = frozenset(f"{edge}_{name}" for edge in ("min", "max") for name in ("premium", "size", "volume"))
MALFORMS = malforms("executed_at", with_("price", "n/a"), with_("tracking_id", None), with_("size", "lots"))


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


class DarkpoolFeed:
    """Dark pool knobs: `darkpool_count` prints per ticker and market day, `darkpool_burst` prints in
    one second of each day (over 500 to outgrow a page), `bounds_inclusive` for either reading of
    `newer_than`/`older_than`; `recent_tickers`, the market `GET /api/darkpool/recent` serves."""

    ROUTES = ((DARKPOOL_RECENT_PATH, "_darkpool_recent"), (DARKPOOL_PREFIX + "([^/]*)", "_darkpool_prints"))

    def _init_darkpool(self, darkpool_count: int, darkpool_burst: int) -> None:
        if darkpool_count < 0 or darkpool_burst < 0:
            raise ValueError("darkpool_count and darkpool_burst must be >= 0")
        self.darkpool_count = darkpool_count
        self.darkpool_burst = darkpool_burst
        self.recent_tickers: tuple[str, ...] = ("SPY", "QQQ", "AAPL", "TSLA", "NVDA")
        self._tapes: dict[tuple[str, date], _Tape] = {}

    @property
    def darkpool_day(self) -> date:
        """The market day `GET /api/darkpool/{ticker}` serves without `date`: the last one as of `now`."""
        return self.market_day

    def darkpool(self, ticker: str, day: date | None = None) -> list[dict]:
        """Every print of `ticker` on `day` (default `darkpool_day`), newest first, as served unfiltered."""
        symbol = require_ticker(ticker)
        with self._lock:
            return [item for _, item in self._tape(symbol, day or self.darkpool_day).prints]

    def darkpool_recent(self, day: date | None = None) -> list[dict]:
        """Every print of `recent_tickers` on `day`, newest first: what `/api/darkpool/recent` pages through."""
        with self._lock:
            return [item for _, _, item in self._market(day or self.darkpool_day)]

    def add_darkpool(self, ticker: str, n: int, *, at: datetime | None = None, day: date | None = None) -> list[dict]:
        """Publish n prints of `ticker`: newer than all others of `day` (default `darkpool_day`), or all
        executed at `at` (on `at`'s New York day unless `day` says otherwise): a burst, or prints
        reported late. Returns them newest first."""
        if n < 0:
            raise ValueError("n must be >= 0")
        symbol = require_ticker(ticker)
        with self._lock:
            if day is None:
                day = self.darkpool_day if at is None else as_utc(at).astimezone(NY).date()
            tape = self._tape(symbol, day)
            times = [to_ms(as_utc(at))] * n if at is not None else self._newer_prints(tape, day, n)
            added = [(ms, self._darkpool_item(tape, symbol, ms)) for ms in times]
            for ms, item in added:
                keys = [-existing for existing, _ in tape.prints]
                tape.prints.insert(bisect.bisect_right(keys, -ms), (ms, item))
            return [item for _, item in sorted(added, key=lambda pair: -pair[0])]

    def restate_print(self, ticker: str, tracking_id: int, **changes: Any) -> dict:
        """Serve a print again with other content, as the provider does when it cancels (`canceled=True`)
        or corrects a print after reporting it; returns the new version."""
        symbol = require_ticker(ticker)
        with self._lock:
            for day in sorted({d for t, d in self._tapes if t == symbol}):
                prints = self._tapes[(symbol, day)].prints
                for i, (ms, item) in enumerate(prints):
                    if item.get("tracking_id") == tracking_id:
                        prints[i] = (ms, {**item, **changes})
                        return dict(prints[i][1])
        raise KeyError(f"no print {tracking_id} of {symbol}")

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
        symbol = require_ticker(ticker)
        with self._lock:
            unreadable = [(ms, item) for ms, item in self._tape(symbol, day or self.darkpool_day).prints
                          if not ISO_DATE.match(str(item.get("executed_at"))[:10])]
            mended = unreadable[every - 1::every]
            for ms, item in mended:
                item["executed_at"] = render(ms, "zms")
        return len(mended)

    def _served_darkpool(self, ticker: str) -> list[Any]:
        items = [item for _, item in self._tape(require_ticker(ticker), self.darkpool_day).prints]
        return [malformed(item, len(items) - i, self._malformed_every, MALFORMS) for i, item in enumerate(items)]

    def _darkpool_prints(self, req: RecordedRequest, raw_query: str, host: str, raw_ticker: str) -> Response:
        """`GET /api/darkpool/{ticker}`: one market day, newest first, filtered by time, at most `limit`."""
        ticker = ticker_in_path(unquote(raw_ticker))
        path_problems = [] if ticker else [f"{raw_ticker} (valid example: AAPL)"]
        problems: list[str] = []
        day = date_of(req.query, "date", problems, until=self.now.astimezone(NY).date()) or self.darkpool_day
        newer, older = bounds_of(req.query, problems)
        limit = limit_of(req.query, DARKPOOL_MAX_LIMIT, DARKPOOL_MAX_LIMIT, problems)
        if path_problems or problems:
            return invalid(req, raw_query, host, path=path_problems, query=problems)
        with self._lock:  # chosen under the lock, without copying the tape: a day may hold 100,000 prints
            prints = self._tape(ticker, day).prints
            inclusive, every, total = self.bounds_inclusive, self._malformed_every, len(prints)
            chosen = _chosen_prints(prints, newer, older, inclusive, limit)
        data = [malformed(item, total - i, every, MALFORMS) for i, item in chosen]
        return json_response(200, {"data": data})

    def _darkpool_recent(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """`GET /api/darkpool/recent`: the market's newest prints of a day, filtered by premium, size
        and volume (inclusive bounds), at most `limit` (1..200, default 100). No time bounds: the API
        has none here."""
        problems: list[str] = []
        day = date_of(req.query, "date", problems, until=self.now.astimezone(NY).date()) or self.darkpool_day
        limit = limit_of(req.query, 100, RECENT_MAX_LIMIT, problems)
        check_types(req.pairs, frozenset(), _RECENT_FILTERS, problems)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        edges = {name: Decimal(value) for name, value in req.query.items() if name in _RECENT_FILTERS}
        data = []
        with self._lock:
            every = self._malformed_every
            for rank, _, item in self._market(day):
                if len(data) == limit:
                    break
                if all(_within_edge(item, name, edge) for name, edge in edges.items()):
                    data.append(malformed(item, rank, every, MALFORMS))
        return json_response(200, {"data": data})

    def _market(self, day: date) -> list[tuple[int, int, dict[str, Any]]]:
        """(rank on its tape, ms, print) of every recent ticker's print on `day`, newest first."""
        tapes = [self._tape(require_ticker(t), day).prints for t in self.recent_tickers]
        ranked = [[(len(p) - i, ms, item) for i, (ms, item) in enumerate(p)] for p in tapes]
        return list(heapq.merge(*ranked, key=lambda entry: -entry[1]))

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
        rng = self.rng("darkpool", ticker, day.isoformat())
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
            seconds = [s for s in seconds if s * 1000 <= to_ms(self.now) - 2000]
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
            newest = to_ms(hours.open if hours is not None else datetime.combine(day, clock(9, 30), tzinfo=NY))
        t, times = (newest // 1000 + 1) * 1000, []
        for _ in range(n):
            times.append(t)
            if tape.rng.random() > 0.6:
                t += 1000 * (1 + below(tape.rng, 3))
        return times

    def _darkpool_item(self, tape: _Tape, ticker: str, ms: int) -> dict[str, Any]:
        """One print with the live API's habits: numbers as strings, nulls, fields the description lacks."""
        rng = tape.rng
        serial = tape.serial
        tape.serial += 1
        tape.price *= 1 + (rng.random() - 0.5) * 0.002
        price = f"{tape.price:.4f}" if rng.random() < 0.6 else f"{tape.price:.2f}"
        size = pick(rng, _SIZES) if rng.random() < 0.9 else 1 + below(rng, 99)
        premium = (Decimal(price) * size).quantize(Decimal("0.01"))
        tape.volume += size
        local = (EPOCH + timedelta(milliseconds=ms)).astimezone(NY).time()
        etf = ticker in _ETFS
        return {
            "canceled": rng.random() < 0.02,
            "executed_at": render(ms, "zms" if ms % 1000 else ("z" if serial % 2 == 0 else "space")),
            "ext_hour_sold_codes": None if clock(9, 30) <= local < clock(16) else "extended_hours_trade",
            "market_center": pick(rng, _MARKET_CENTERS),
            **_nbbo(rng, Decimal(price)),
            "premium": str(premium.to_integral_value()) if premium == premium.to_integral_value() else str(premium),
            "price": price,
            "sale_cond_codes": pick(rng, _SALE_CONDITIONS) if rng.random() < 0.1 else None,
            "size": size,
            "ticker": ticker,
            "tracking_id": tape.base_id + serial,
            "trade_code": "derivative_priced" if rng.random() < 0.05 else None,
            "trade_settlement": "regular",
            "volume": str(tape.volume) if rng.random() < 0.05 else tape.volume,
            "trf_executed_at": None if rng.random() < 0.1 else render(ms + below(rng, 2000), "zms"),
            "created_at": render_us(ms * 1000 + 1_000_000 + below(rng, 4_000_000)),
            "issue_type": "ETF" if etf else "Common Stock",
            "sector": None if etf else pick(rng, _SECTORS),
            "avg30_volume": tape.avg30,
        }


def _within_edge(item: Any, name: str, edge: Decimal) -> bool:
    """A `min_x`/`max_x` filter on a print (a malformed or junk value passes, as the API cannot judge it)."""
    if not isinstance(item, dict):
        return True
    try:
        value = Decimal(str(item.get(name[4:])))
    except ArithmeticError:
        return True
    return value >= edge if name.startswith("min_") else value <= edge


def _print_seconds(rng: random.Random, start_s: int, end_s: int, count: int) -> list[int]:
    """The seconds of up to `count` prints between start_s and end_s, newest first, in bursts."""
    gap = max(1, (end_s - start_s) * 4 // max(count, 1))  # bursts average about four prints
    seconds: list[int] = []
    t = end_s
    while len(seconds) < count:
        t -= 1 + below(rng, 2 * gap)
        if t < start_s:
            break
        seconds += [t] * min(_burst_size(rng), count - len(seconds))
    return seconds


def _burst_size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.5:
        return 1
    if roll < 0.8:
        return 2 + below(rng, 3)
    return 5 + below(rng, 11) if roll < 0.95 else 16 + below(rng, 25)


def _with_milliseconds(rng: random.Random, seconds: list[int], i: int) -> int:
    """A tenth of the prints alone in their second carry milliseconds, as some live ones do."""
    alone = (i == 0 or seconds[i - 1] != seconds[i]) and (i + 1 == len(seconds) or seconds[i + 1] != seconds[i])
    return seconds[i] * 1000 + (1 + below(rng, 999) if alone and rng.random() < 0.1 else 0)


def _nbbo(rng: random.Random, price: Decimal) -> dict[str, Any]:
    if rng.random() < 0.1:
        return dict.fromkeys(("nbbo_ask", "nbbo_ask_quantity", "nbbo_bid", "nbbo_bid_quantity"))
    tick = Decimal("0.01")
    bid = (price - tick * below(rng, 3)).quantize(tick)
    ask = max(bid + tick, (price + tick * below(rng, 3)).quantize(tick))
    return {
        "nbbo_ask": str(ask.normalize()) if ask == ask.to_integral_value() else str(ask),
        "nbbo_ask_quantity": 100 * (1 + below(rng, 300)),
        "nbbo_bid": str(bid),
        "nbbo_bid_quantity": 100 * (1 + below(rng, 300)),
    }


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
        if len(chosen) == limit or not within(ms, newer, None, inclusive):
            break
        chosen.append((i, item))
    return chosen
