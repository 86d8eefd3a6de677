"""The per-minute series of one market day, as a FakeApi mixin: `GET /api/market/market-tide`,
`GET /api/stock/{ticker}/ohlc/{candle_size}`, `/spot-exposures` and `/net-prem-ticks`. Today's
series stop at `now` (an open candle included); past days are whole; other days are empty."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any
from urllib.parse import unquote

from tests.fakes.quirks import as_utc, below, malforms, render, to_ms, with_
from tests.fakes.records import Feed, Key
from tests.fakes.server import (
    RecordedRequest,
    Response,
    check_types,
    date_of,
    invalid,
    json_response,
    limit_of,
    ticker_in_path,
)
from vvv.core.calendar import NY, session

MARKET_TIDE_PATH = "/api/market/market-tide"
STOCK_PREFIX = "/api/stock/"
CANDLE_MINUTES = {"1m": 1, "5m": 5, "10m": 10, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 960}
_TIMEFRAME = re.compile(r"YTD|[1-9][0-9]*[DWMY]")
_SPACE = "%Y-%m-%d %H:%M:%S+00:00"
Make = Callable[[random.Random, datetime, "dict | None", Key], dict]


def _minutes(api: Any, day: date, start: clock, end: clock, step: int, after: datetime | None) -> list[datetime]:
    """The step's starts from `start` (or after `after`) to before `end` New York time on `day`, up to `now`."""
    if session(day) is None or day > api.now.astimezone(NY).date():
        return []
    t = after + timedelta(minutes=step) if after else datetime.combine(day, start, tzinfo=NY)
    stop = min(datetime.combine(day, end, tzinfo=NY), api.now + timedelta(microseconds=1))
    times = []
    while t < stop:
        times.append(t)
        t += timedelta(minutes=step)
    return times


def _series(make: Make, start: clock, end: clock, step_of: Callable[[Key], int], day_of: Callable[[Key], date],
            newest_first: bool) -> tuple[Callable, Callable]:
    """A feed's `generate` and `more` for a series made item by item from the previous one."""
    def build(rng: random.Random, key: Key, times: list[datetime], prev: dict | None) -> list[dict]:
        items = []
        for t in times:
            prev = make(rng, t, prev, key)
            items.append(prev)
        return items[::-1] if newest_first else items

    def generate(api: Any, rng: random.Random, key: Key) -> list[dict]:
        return build(rng, key, _minutes(api, day_of(key), start, end, step_of(key), None), None)

    def more(api: Any, rng: random.Random, key: Key, items: list[dict], n: int) -> list[dict]:
        """n ticks after the last, whatever `now` says: the clock of a test moves by adding them."""
        last = (items[0] if newest_first else items[-1]) if items else None
        step = timedelta(minutes=step_of(key))
        t = _start(last) + step if last else datetime.combine(day_of(key), start, tzinfo=NY)
        return build(rng, key, [t + i * step for i in range(n)], last)

    return generate, more


def _start(item: dict) -> datetime:
    for name in ("timestamp", "start_time", "time", "tape_time"):
        if name in item:
            moment = datetime.fromisoformat(item[name])
            return moment.replace(second=0, microsecond=0) if name == "time" else moment
    raise KeyError("no time in item")


def _tide(rng: random.Random, t: datetime, prev: dict | None, key: Key) -> dict:
    """Cumulative net premiums of the whole market since the open."""
    calls = float(prev["net_call_premium"]) if prev else 0.0
    puts = float(prev["net_put_premium"]) if prev else 0.0
    volume = int(prev["net_volume"]) if prev else 0
    local = t.astimezone(NY)
    spelled = local.isoformat(sep=" ") if to_ms(t) // 60_000 % 7 else as_utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")
    item = {"date": local.date().isoformat(),
            "net_call_premium": f"{calls + (rng.random() - 0.45) * 5e6:.4f}",
            "net_put_premium": f"{puts - rng.random() * 3e6:.4f}",
            "net_volume": volume + below(rng, 60_000) - 20_000,
            "timestamp": spelled}
    if rng.random() < 0.05:
        item["net_volume"] = str(item["net_volume"])  # the live API's habit
    return item


def _candle(rng: random.Random, t: datetime, prev: dict | None, key: Key) -> dict:
    ticker, size, _ = key
    opened = float(prev["close"]) if prev else 20 + rng.random() * 600
    moves = [opened * (1 + (rng.random() - 0.5) * 0.004) for _ in range(3)]
    close = moves[-1]
    volume = below(rng, 40_000) + 100
    local = t.astimezone(NY).time()
    end = t + timedelta(minutes=CANDLE_MINUTES[size])
    style = _SPACE if to_ms(t) // 60_000 % 5 else "%Y-%m-%dT%H:%M:%SZ"
    return {"close": f"{close:.2f}", "end_time": as_utc(end).strftime(style),
            "high": f"{max(opened, *moves):.2f}", "low": f"{min(opened, *moves):.2f}",
            "market_time": "pr" if local < clock(9, 30) else "r" if local < clock(16) else "po",
            "open": f"{opened:.2f}", "start_time": as_utc(t).strftime(style),
            "total_volume": (prev["total_volume"] if prev else below(rng, 10**6)) + volume, "volume": volume}


def _exposure(rng: random.Random, t: datetime, prev: dict | None, key: Key) -> dict:
    """Spot GEX of a minute, stamped when it was computed (within the minute, with microseconds)."""
    price = float(prev["price"]) * (1 + (rng.random() - 0.5) * 0.002) if prev else 20 + rng.random() * 600
    item: dict[str, Any] = {"price": f"{price:.2f}" if rng.random() < 0.9 else str(round(price)),
                            "time": as_utc(t + timedelta(milliseconds=below(rng, 59_000)))
                            .strftime("%Y-%m-%d %H:%M:%S.%f+00:00")}
    for greek in ("charm", "gamma", "vanna"):
        for kind, scale in (("dir", 1e9), ("oi", 1e12), ("vol", 1e11)):
            item[f"{greek}_per_one_percent_move_{kind}"] = f"{(rng.random() - 0.3) * scale:.2f}"
    return item


def _net_prem(rng: random.Random, t: datetime, prev: dict | None, key: Key) -> dict:
    calls, puts = below(rng, 3000), below(rng, 3000)
    call_ask, put_ask = below(rng, calls + 1), below(rng, puts + 1)
    return {"call_volume": calls, "call_volume_ask_side": call_ask, "call_volume_bid_side": calls - call_ask,
            "date": t.astimezone(NY).date().isoformat(),
            "net_call_premium": f"{(rng.random() - 0.5) * 2e4:.2f}", "net_call_volume": 2 * call_ask - calls,
            "net_delta": f"{(rng.random() - 0.5) * 6e4:.17f}",
            "net_put_premium": f"{(rng.random() - 0.5) * 2e4:.2f}", "net_put_volume": 2 * put_ask - puts,
            "put_volume": puts, "put_volume_ask_side": put_ask, "put_volume_bid_side": puts - put_ask,
            "tape_time": render(to_ms(t), "space" if to_ms(t) // 60_000 % 3 else "z")}


def _feed(make: Make, start: clock, end: clock, step_of: Callable, day_of: Callable, newest_first: bool,
          breaks: tuple) -> Feed:
    generate, more = _series(make, start, end, step_of, day_of, newest_first)
    return Feed(generate, more, newest_first, breaks)


_OPEN, _CLOSE = clock(9, 30), clock(16)
FEEDS = {
    "market_tide": _feed(_tide, _OPEN, _CLOSE, lambda key: 5 if key[1] else 1, lambda key: key[0], False,
                         malforms("timestamp", with_("net_call_premium", "n/a"), with_("date", None),
                                  with_("net_volume", "lots"))),
    "ohlc": _feed(_candle, clock(4), clock(20), lambda key: CANDLE_MINUTES[key[1]], lambda key: key[2], True,
                  malforms("start_time", with_("open", "n/a"), with_("close", None), with_("volume", "lots"))),
    "spot_exposures": _feed(_exposure, _OPEN, _CLOSE, lambda key: 1, lambda key: key[1], False,
                            malforms("time", with_("price", "n/a"), with_("price", None),
                                     with_("gamma_per_one_percent_move_oi", "lots"))),
    "net_prem_ticks": _feed(_net_prem, _OPEN, _CLOSE, lambda key: 1, lambda key: key[1], False,
                            malforms("tape_time", with_("net_call_premium", "n/a"), with_("date", None),
                                     with_("call_volume", "lots"))),
}


class TickFeeds:
    """Feeds and their partitions: "market_tide" (day, interval_5m: bool), "ohlc" (TICKER, candle_size,
    day), "spot_exposures" (TICKER, day), "net_prem_ticks" (TICKER, day). `add_records` adds the
    next ticks (candles: the next candles); `restate_record(feed, key, -1, ...)` changes the last
    tick of an oldest-first series, index 0 the newest candle."""

    ROUTES = ((MARKET_TIDE_PATH, "_market_tide"),
              (STOCK_PREFIX + "([^/]*)/ohlc/([^/]*)", "_ohlc"),
              (STOCK_PREFIX + "([^/]*)/(spot-exposures|net-prem-ticks)", "_per_minute"))
    FEEDS = FEEDS

    def _market_tide(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """`date` (default the last market day), `interval_5m` (default true), `otm_only` (checked)."""
        problems: list[str] = []
        day = self._served_day(req, problems)
        check_types(req.pairs, frozenset({"interval_5m", "otm_only"}), frozenset(), problems)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        key = (day, req.query.get("interval_5m", "true") == "true")
        with self._lock:
            return json_response(200, {"data": self._served_records("market_tide", key)})

    def _ohlc(self, req: RecordedRequest, raw_query: str, host: str, raw_ticker: str, size: str) -> Response:
        """Newest first, at most `limit` (1..2500, default 2500) of `date`'s candles (default the last
        market day: the fake serves one day; `timeframe` and `end_date` are checked, not applied)."""
        ticker = ticker_in_path(unquote(raw_ticker))
        path = [] if ticker else [f"{raw_ticker} (valid example: AAPL)"]
        path += [] if size in CANDLE_MINUTES else [f"{size} (valid example: 5m)"]
        problems: list[str] = []
        day = self._served_day(req, problems)
        limit = limit_of(req.query, 2500, 2500, problems)
        date_of(req.query, "end_date", problems)
        if "timeframe" in req.query and not _TIMEFRAME.fullmatch(req.query["timeframe"]):
            problems.append(f"timeframe={req.query['timeframe']} (valid example: timeframe=2M)")
        if path or problems:
            return invalid(req, raw_query, host, path=path, query=problems)
        key = (ticker, size, day)
        with self._lock:
            chosen = list(range(min(limit, len(self._partition("ohlc", key).items))))
            return json_response(200, {"data": self._served_records("ohlc", key, chosen)})

    def _per_minute(self, req: RecordedRequest, raw_query: str, host: str, raw_ticker: str, kind: str) -> Response:
        """The whole day's minutes, oldest first; `date` defaults to the last market day."""
        ticker = ticker_in_path(unquote(raw_ticker))
        path = [] if ticker else [f"{raw_ticker} (valid example: AAPL)"]
        problems: list[str] = []
        day = self._served_day(req, problems)
        if path or problems:
            return invalid(req, raw_query, host, path=path, query=problems)
        feed = kind.replace("-", "_")
        with self._lock:
            return json_response(200, {"data": self._served_records(feed, (ticker, day))})

    def _served_day(self, req: RecordedRequest, problems: list[str]) -> date:
        return date_of(req.query, "date", problems, until=self.now.astimezone(NY).date()) or self.market_day
