"""Intraday candles end to end: the fake API -> runner -> PostgreSQL, one request per ticker and
candle size a pass; the open candle restated replaces its row, its old version kept aside."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tests.conftest import TOKEN
from tests.day_series import revisions, rows, run_pass
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS
from vvv.config import CollectorConfig
from vvv.core.convert import parse_timestamp
from vvv.io.http import ApiClient
from vvv.run import backfill

OHLC = COLLECTORS["ohlc"]
DAY = date(2026, 3, 10)  # a Tuesday
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # 15:00 in New York
SIZES = ["1m", "5m"]


def _served(api: FakeApi, ticker: str, size: str, day: date = DAY) -> set[tuple[datetime, Decimal]]:
    return {(parse_timestamp(c["start_time"]), Decimal(c["close"])) for c in api.records("ohlc", (ticker, size, day))}


def _stored(conn, ticker: str, size: str) -> set[tuple[datetime, Decimal]]:
    return set(rows(conn, "SELECT start_time, close FROM trading.ohlc WHERE ticker = %s AND candle_size = %s",
                    ticker, size))


def _pass(api, conn, at=NOW, tickers=("SPY", "QQQ")):
    return run_pass(OHLC, api, conn, at, tickers=list(tickers), candle_sizes=SIZES)


def test_a_first_pass_stores_every_candle_served_in_one_request_per_ticker_and_size(conn, fake_api) -> None:
    result = _pass(fake_api, conn)
    assert result.status == "ok", result.error
    assert result.requests == 4 and result.inserted > 0
    for ticker in ("SPY", "QQQ"):
        for size in SIZES:
            assert _stored(conn, ticker, size) == _served(fake_api, ticker, size) != set()
    scopes = {scope for (scope,) in rows(conn, "SELECT scope FROM vvv.cursors WHERE collector = 'ohlc'")}
    assert scopes == {"SPY/1m", "SPY/5m", "QQQ/1m", "QQQ/5m"}


def test_a_pass_with_nothing_new_writes_nothing_in_one_request_per_partition(conn, fake_api) -> None:
    _pass(fake_api, conn)
    before = len(fake_api.requests)
    again = _pass(fake_api, conn)
    assert again.status == "ok", again.error
    assert (again.inserted, again.revised, len(fake_api.requests) - before) == (0, 0, 4)


def test_the_open_candle_restated_replaces_its_row_and_its_old_version_is_kept(conn, fake_api) -> None:
    _pass(fake_api, conn, tickers=["SPY"])
    old = fake_api.records("ohlc", ("SPY", "1m", DAY))[0]  # newest first: the open candle
    fake_api.restate_record("ohlc", ("SPY", "1m", DAY), 0, close="999.99", high="999.99", volume=old["volume"] + 5)
    result = _pass(fake_api, conn, tickers=["SPY"])
    assert (result.status, result.inserted, result.revised) == ("ok", 0, 1)
    start = parse_timestamp(old["start_time"])
    assert rows(conn, "SELECT close, volume FROM trading.ohlc WHERE ticker = 'SPY' AND candle_size = '1m'"
                " AND start_time = %s", start) == [(Decimal("999.99"), old["volume"] + 5)]
    (kept,) = revisions(conn, "ohlc")
    assert Decimal(str(kept["close"])) == Decimal(old["close"]) and kept["volume"] == old["volume"]


def test_a_day_read_before_its_end_is_read_again_after_it_then_costs_nothing(conn, fake_api) -> None:
    _pass(fake_api, conn, tickers=["SPY"])
    fake_api.add_records("ohlc", 40, ("SPY", "1m", DAY))  # the rest of the afternoon
    fake_api.add_records("ohlc", 8, ("SPY", "5m", DAY))
    morning = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # 05:00 in New York, the next market day
    before = len(fake_api.requests)
    result = _pass(fake_api, conn, at=morning, tickers=["SPY"])
    assert result.status == "ok", result.error
    assert [r.query["date"] for r in fake_api.requests[before:]] == ["2026-03-10", "2026-03-11"] * 2
    for size in SIZES:
        assert _stored(conn, "SPY", size) == _served(fake_api, "SPY", size) | _served(fake_api, "SPY", size, DAY + timedelta(1))
    night = datetime(2026, 3, 12, 1, 0, tzinfo=UTC)  # 21:00 on the 11th: over, read once more, then never
    assert _pass(fake_api, conn, at=night, tickers=["SPY"]).requests == 2
    assert _pass(fake_api, conn, at=night + timedelta(hours=1), tickers=["SPY"]).requests == 0


def test_a_5xx_then_ok_and_a_200_that_is_not_a_page_lose_nothing(conn, fake_api) -> None:
    fake_api.fail_next(503)
    first = _pass(fake_api, conn, tickers=["SPY"])
    assert first.status == "ok", first.error
    fake_api.add_records("ohlc", 3, ("SPY", "1m", DAY))
    fake_api.fail_next(200, times=2, body='{"candles": []}')  # both attempts of the first request
    broken = _pass(fake_api, conn, tickers=["SPY"])
    assert broken.status == "partial" and "SPY/1m" in broken.error
    assert _stored(conn, "SPY", "1m") != _served(fake_api, "SPY", "1m")
    healed = _pass(fake_api, conn, tickers=["SPY"])
    assert healed.status == "ok", healed.error
    for size in SIZES:
        assert _stored(conn, "SPY", size) == _served(fake_api, "SPY", size)


def test_a_backfill_reads_each_day_once_per_partition_and_a_rerun_skips_them(conn, fake_api) -> None:
    fake_api.now = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
    settings = OHLC.spec.settings(tickers=["SPY"], candle_sizes=SIZES)
    config = CollectorConfig(enabled=True, interval=60, extended_interval=60, closed_interval=3600, stale_after=None,
                             options=settings)
    units = backfill.plan(date(2026, 3, 6), date(2026, 3, 9), OHLC.partitions_of(settings))  # Friday, Monday
    client = ApiClient(base_url=fake_api.url, token=TOKEN, sleep=lambda _: None)
    try:
        done = backfill.backfill(OHLC, config, units, conn=conn, client=client, out=io.StringIO(),
                                 now=lambda: fake_api.now)
        assert (done.done, done.failed, len(fake_api.requests)) == (4, 0, 4)
        again = backfill.backfill(OHLC, config, units, conn=conn, client=client, out=io.StringIO(),
                                  now=lambda: fake_api.now)
    finally:
        client.close()
    assert (again.skipped, len(fake_api.requests)) == (4, 4)
    for day in (date(2026, 3, 6), date(2026, 3, 9)):
        for size in SIZES:
            assert _served(fake_api, "SPY", size, day) <= _stored(conn, "SPY", size)
