"""A local fake of the Unusual Whales REST API, for tests, the demo and the benchmark.

It serves, on a loopback address, one module per endpoint family: news.py (headlines),
darkpool.py (`/api/darkpool/{ticker}` and `/recent`), flow.py (flow alerts), calendar.py
(economic and FDA calendars), earnings.py, ticks.py (market tide, candles, spot exposures, net
premium ticks) and filings.py (insider and congress trades), with the quirks the real API shows
(two timestamp spellings, numbers as strings, nulls and `""`, extra fields, shared seconds,
rate-limit headers) and the fault knobs of server.py. Stdlib and vvv's own calendar only, so it
runs anywhere the checkout does and never needs the internet.

Run it alone with `python -m tests.fakes.api --port 0`: it prints its URL on one
line and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from tests.fakes.calendar import (
    ECONOMIC_CALENDAR_PATH,
    FDA_CALENDAR_PATH,
    CalendarFeeds,
)
from tests.fakes.darkpool import (
    DARKPOOL_MAX_LIMIT,
    DARKPOOL_PREFIX,
    DARKPOOL_RECENT_PATH,
    DarkpoolFeed,
)
from tests.fakes.earnings import EARNINGS_PREFIX, EarningsFeed
from tests.fakes.filings import CONGRESS_PATH, INSIDER_PATH, FilingFeeds
from tests.fakes.flow import FLOW_MAX_LIMIT, FLOW_PATH, FlowFeed
from tests.fakes.news import NEWS_PATH, NewsFeed
from tests.fakes.records import Records
from tests.fakes.server import FakeServer, RecordedRequest, require_loopback
from tests.fakes.ticks import MARKET_TIDE_PATH, STOCK_PREFIX, TickFeeds

__all__ = [
    "CONGRESS_PATH", "DARKPOOL_MAX_LIMIT", "DARKPOOL_PREFIX", "DARKPOOL_RECENT_PATH", "EARNINGS_PREFIX",
    "ECONOMIC_CALENDAR_PATH", "FDA_CALENDAR_PATH", "FLOW_MAX_LIMIT", "FLOW_PATH", "INSIDER_PATH",
    "MARKET_TIDE_PATH", "NEWS_PATH", "STOCK_PREFIX", "FakeApi", "RecordedRequest", "main",
]


class FakeApi(Records, DarkpoolFeed, NewsFeed, FlowFeed, CalendarFeeds, EarningsFeed, TickFeeds, FilingFeeds,
              FakeServer):
    """The fake API server and its state; all state is guarded by one lock.

    Knobs: see FakeServer (faults, rate limits), each family's class (its feeds) and Records
    (`records`, `add_records`, `restate_record` for the feeds of earnings, ticks, filings, FDA).
    """

    def __init__(self, *, news_count: int = 250, darkpool_count: int = 1200, darkpool_burst: int = 0,
                 flow_count: int = 300, **server: Any) -> None:
        """`server`: FakeServer's knobs (token, seed, now, host, port, rate limits, bounds_inclusive)."""
        super().__init__(**server)
        self._init_news(news_count)
        self._init_darkpool(darkpool_count, darkpool_burst)
        self._init_flow(flow_count)
        self._init_calendar()
        self._init_filings()
        self._init_records()

    def served(self, feed: str, ticker: str = "") -> list[Any]:
        """Every item of `feed` ("news", "darkpool" with its ticker, "flow") as served now, malformed ones included."""
        with self._lock:
            if feed == "news":
                return self._served_news()
            if feed == "darkpool":
                return self._served_darkpool(ticker)
            if feed == "flow":
                return self._served_flow()
        raise ValueError(f"unknown feed {feed!r}")


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
        require_loopback(args.host)
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


if __name__ == "__main__":
    raise SystemExit(main())
