"""What the runner tests of the per-day series collectors (`DaySeries`: ohlc, spot exposures, net
premium ticks) share: a pass against the fake at a given clock, and the rows stored."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.config import CollectorConfig
from vvv.core.base import Collector
from vvv.core.convert import parse_timestamp
from vvv.io.http import ApiClient
from vvv.run.runner import RunResult, run_once


def run_pass(collector: Collector, api: FakeApi, conn: psycopg.Connection, at: datetime, **options: Any) -> RunResult:
    """One pass with the clock (the fake's and vvv's) at `at`, its requests counted on the fake."""
    api.now = at
    config = CollectorConfig(enabled=True, interval=60, extended_interval=60, closed_interval=3600, stale_after=None,
                             options=collector.spec.settings(**options))
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None, max_retries=1)
    try:
        return run_once(collector, config, conn=conn, client=client, clock=lambda: at)
    finally:
        client.close()


def rows(conn: psycopg.Connection, query: str, *args: Any) -> list[tuple[Any, ...]]:
    found = conn.execute(query, args).fetchall()
    conn.rollback()
    return found


def revisions(conn: psycopg.Connection, collector: str) -> list[dict[str, Any]]:
    return [old for (old,) in rows(conn, "SELECT old_row FROM vvv.revisions WHERE collector = %s", collector)]


def stored_keys(conn: psycopg.Connection, collector: Collector) -> set[tuple[Any, ...]]:
    """The identities stored by a collector per ticker and time: (ticker, time)."""
    spec = collector.spec
    return set(rows(conn, f"SELECT {', '.join(spec.key)} FROM {spec.table}"))  # noqa: S608 - the spec's own names


def served_keys(api: FakeApi, collector: Collector, day: date, tickers: tuple[str, ...]) -> set[tuple[Any, ...]]:
    """The (ticker, time) of every tick the fake serves of `day`, for each ticker."""
    name, time_field = collector.spec.name, collector.spec.time_column
    return {(ticker, parse_timestamp(item[time_field])) for ticker in tickers for item in api.records(name, (ticker, day))}


def passes_store_what_was_served(collector: Collector, api: FakeApi, conn: psycopg.Connection, *, at: datetime,
                                 day: date) -> None:
    """The end-to-end contract of an insert-only series per ticker: a first pass stores exactly what was
    served, a pass with nothing new writes nothing in one request a ticker, new ticks are stored, and
    a 5xx then ok or a 200 that is not a page loses nothing."""
    tickers = ("SPY", "QQQ")
    first = run_pass(collector, api, conn, at, tickers=list(tickers))
    assert (first.status, first.requests) == ("ok", 2), first.error
    assert stored_keys(conn, collector) == served_keys(api, collector, day, tickers) and first.inserted > 0
    again = run_pass(collector, api, conn, at, tickers=list(tickers))
    assert (again.status, again.inserted, again.revised, again.requests) == ("ok", 0, 0, 2), again.error
    assert rows(conn, "SELECT count(*) FROM vvv.revisions") == [(0,)]
    api.add_records(collector.spec.name, 5, ("SPY", day))  # the next minutes: the clock moves on
    api.fail_next(502)
    at += timedelta(minutes=10)
    grown = run_pass(collector, api, conn, at, tickers=list(tickers))
    assert (grown.status, grown.inserted) == ("ok", 5), grown.error
    api.add_records(collector.spec.name, 2, ("QQQ", day))
    api.fail_next(200, times=2, body='{"ticks": []}')  # both attempts of SPY's request
    broken = run_pass(collector, api, conn, at, tickers=list(tickers))
    assert broken.status == "partial" and broken.error.startswith("SPY: ")
    healed = run_pass(collector, api, conn, at, tickers=list(tickers))
    assert healed.status == "ok", healed.error
    assert stored_keys(conn, collector) == served_keys(api, collector, day, tickers)
