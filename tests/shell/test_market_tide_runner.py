"""Market tide end to end: one request per tick interval a pass, the newest opened day, against the fake and
PostgreSQL; the last tick, restated until it closes, is revised in place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, market_tide
from vvv.config import CollectorConfig
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

TIDE = COLLECTORS["market_tide"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # 15:00 in New York, a Tuesday
DAY = date(2026, 3, 10)
CONFIG = CollectorConfig(enabled=True, interval=60, extended_interval=900, closed_interval=None, stale_after=None,
                         options=market_tide.Settings(intervals=["1m", "5m"]))


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW) as fake:
        yield fake


def _pass(conn: psycopg.Connection, api: FakeApi, clock: datetime = NOW):
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    try:
        return run_once(TIDE, CONFIG, conn=conn, client=client, clock=lambda: clock)
    finally:
        client.close()


def _stored(conn: psycopg.Connection) -> set[tuple]:
    rows = conn.execute('SELECT "timestamp", "interval", date, net_call_premium, net_put_premium, net_volume'
                        " FROM trading.market_tide").fetchall()
    return set(rows)


def _served(api: FakeApi) -> set[tuple]:
    return {(datetime.fromisoformat(t["timestamp"]), interval, date.fromisoformat(t["date"]),
             Decimal(t["net_call_premium"]), Decimal(t["net_put_premium"]), int(t["net_volume"]))
            for interval, five in (("1m", False), ("5m", True)) for t in api.records("market_tide", (DAY, five))}


def test_a_pass_stores_the_days_ticks_and_a_pass_with_nothing_new_writes_nothing(conn, api: FakeApi) -> None:
    first = _pass(conn, api)
    assert first.status == "ok", first.error
    assert _stored(conn) == _served(api) and first.inserted == len(_served(api)) > 0
    assert first.requests == 2  # one per interval
    again = _pass(conn, api)
    assert (again.status, again.requests, again.inserted, again.revised) == ("ok", 2, 0, 0)


def test_the_last_tick_restated_is_revised_and_a_new_tick_inserted(conn, api: FakeApi) -> None:
    _pass(conn, api)
    old = api.records("market_tide", (DAY, True))[-1]
    api.restate_record("market_tide", (DAY, True), -1, net_call_premium="123.5000")
    result = _pass(conn, api)
    assert (result.inserted, result.revised) == (0, 1)
    assert _stored(conn) == _served(api)
    kept = conn.execute("SELECT old_row->>'net_call_premium' FROM vvv.revisions WHERE collector = 'market_tide'")
    assert [Decimal(v) for (v,) in kept] == [Decimal(old["net_call_premium"])]
    api.add_records("market_tide", 1, (DAY, False))
    assert (_pass(conn, api).inserted, _stored(conn)) == (1, _served(api))


def test_before_the_open_a_pass_reads_the_trading_day_before(conn, api: FakeApi) -> None:
    result = _pass(conn, api, clock=datetime(2026, 3, 11, 12, 0, tzinfo=UTC))  # 08:00 the next morning
    assert result.status == "ok" and _stored(conn) == _served(api)
    assert {r.query.get("date") for r in api.requests} == {DAY.isoformat()}


def test_a_server_error_and_a_response_that_is_no_page_lose_nothing(conn, api: FakeApi) -> None:
    api.fail_next(503)  # retried
    assert _pass(conn, api).status == "ok" and _stored(conn) == _served(api)
    api.restate_record("market_tide", (DAY, False), -1, net_volume=1)
    api.fail_next(200, body='{"data": {}}', times=10)  # beyond the retries: this pass fails, the next heals
    failed = _pass(conn, api)
    assert failed.status != "ok" and failed.error and failed.revised == 0
    api.reset_faults()
    assert _pass(conn, api).revised == 1 and _stored(conn) == _served(api)
