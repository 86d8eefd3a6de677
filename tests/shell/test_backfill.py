"""Backfill: every market day in a range, holidays skipped, resumable, the live cursor untouched."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, darkpool, options_flow
from vvv.config import CollectorConfig
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run import backfill

DARKPOOL = COLLECTORS["darkpool"]
NOW = datetime(2026, 7, 10, 20, 0, tzinfo=UTC)
# Thursday July 2 to Tuesday July 7, 2026: Friday July 3 observes Independence Day, then a weekend.
START, END = date(2026, 7, 2), date(2026, 7, 7)
MARKET_DAYS = [date(2026, 7, 2), date(2026, 7, 6), date(2026, 7, 7)]


def _config(**options) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=darkpool.Settings(**{"page_size": 200, **options}))


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=450) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    yield http
    http.close()


def _rows(conn: psycopg.Connection) -> set[tuple[int, str]]:
    rows = {(r[0], r[1]) for r in conn.execute("SELECT tracking_id, ticker FROM trading.darkpool_trades")}
    conn.rollback()
    return rows


def _served(api: FakeApi, tickers: list[str]) -> set[tuple[int, str]]:
    return {(int(p["tracking_id"]), t) for t in tickers for d in MARKET_DAYS for p in api.darkpool(t, d)}


def test_the_plan_skips_weekends_and_holidays() -> None:
    assert backfill.plan(START, END, ["SPY"]) == [(d, "SPY") for d in MARKET_DAYS]


def test_backfill_collects_every_market_day_and_asks_nothing_for_the_holiday(conn, client, api) -> None:
    units = backfill.plan(START, END, ["SPY", "QQQ"])
    progress = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=client, out=io.StringIO())
    assert (progress.done, progress.failed) == (6, 0)
    assert _rows(conn) == _served(api, ["SPY", "QQQ"])
    asked = {r.query.get("date") for r in api.requests}
    assert asked == {d.isoformat() for d in MARKET_DAYS}
    assert store.load_cursor(conn, DARKPOOL.spec, "SPY") is None  # the incremental cursor is untouched


def test_an_interrupted_backfill_resumes_to_the_same_rows(conn, client, api) -> None:
    units = backfill.plan(START, END, ["SPY"])

    def stop_after_four_requests() -> bool:
        return len(api.requests) >= 4

    first = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=client,
                              stopping=stop_after_four_requests, out=io.StringIO())
    assert first.done < len(units)
    second = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=client, out=io.StringIO())
    assert second.done == len(units) and second.skipped >= 1
    assert _rows(conn) == _served(api, ["SPY"])
    before = len(api.requests)
    third = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=client, out=io.StringIO())
    assert third.skipped == len(units) and len(api.requests) == before  # nothing left to ask


def test_progress_is_logged_when_not_on_a_terminal(conn, client) -> None:
    out = io.StringIO()
    progress = backfill.backfill(DARKPOOL, _config(), backfill.plan(START, START, ["SPY"]), conn=conn, client=client,
                                 out=out)
    assert "1/1 day-tickers done" in progress.line()
    assert out.getvalue() == ""  # not a terminal: log lines, no carriage-return bar


FLOW = COLLECTORS["options_flow"]


def _flow_config() -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=options_flow.Settings(page_size=50))


def test_options_flow_backfills_one_time_window_per_market_day(conn) -> None:
    now = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # the fake's alerts span the three hours before
    with FakeApi(token=TOKEN, seed=5, now=now, flow_count=180) as fake:
        http = ApiClient(base_url=fake.url, token=TOKEN, sleep=lambda _: None)
        units = backfill.plan(date(2026, 3, 6), date(2026, 3, 10), [""])  # Fri, (weekend), Mon, Tue
        assert [d for d, _ in units] == [date(2026, 3, 6), date(2026, 3, 9), date(2026, 3, 10)]
        progress = backfill.backfill(FLOW, _flow_config(), units, conn=conn, client=http, out=io.StringIO())
        served, _ = options_flow.COLLECTOR.parse({"data": fake.flow_alerts()})
        before = len(fake.requests)
        again = backfill.backfill(FLOW, _flow_config(), units, conn=conn, client=http, out=io.StringIO())
        http.close()
        window_ends = [int(r.query["older_than"]) for r in fake.requests if "older_than" in r.query]
    assert (progress.done, progress.failed) == (3, 0)
    stored = {r[0] for r in conn.execute("SELECT id FROM trading.options_flow_alerts")}
    assert stored == {alert.id for alert in served}
    assert again.skipped == 3 and len(fake.requests) == before  # finished windows cost nothing
    last_ms = int(datetime(2026, 3, 11, 5, 0, tzinfo=UTC).timestamp() * 1000)  # end of Mar 10 in New York
    assert all(bound <= last_ms for bound in window_ends)  # never above the window: no sweep from the top
    assert store.load_cursor(conn, FLOW.spec) is None  # the incremental cursor is untouched


# Tuesday July 7, 2026 in New York: 14:00 (its after-hours session ends at 20:00), and the next morning.
DURING = datetime(2026, 7, 7, 18, 0, tzinfo=UTC)
AFTER = datetime(2026, 7, 8, 13, 0, tzinfo=UTC)
TODAY = date(2026, 7, 7)


def test_a_day_that_is_not_over_is_collected_but_never_finished(conn) -> None:
    """Today can be backfilled; a re-run collects what came later, until one after the day's end finishes it."""
    with FakeApi(token=TOKEN, seed=5, now=DURING, darkpool_count=450) as fake:
        http = ApiClient(base_url=fake.url, token=TOKEN, sleep=lambda _: None)
        units = backfill.plan(TODAY, TODAY, ["SPY"])
        first = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=http, out=io.StringIO(),
                                  now=lambda: DURING)
        assert (first.done, first.skipped) == (1, 0)
        fake.add_darkpool("SPY", 30, day=TODAY)
        again = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=http, out=io.StringIO(),
                                  now=lambda: DURING)
        assert again.skipped == 0
        assert _rows(conn) == {(int(p["tracking_id"]), "SPY") for p in fake.darkpool("SPY", TODAY)}
        fake.add_darkpool("SPY", 20, day=TODAY)  # the rest of the evening
        over = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=http, out=io.StringIO(),
                                 now=lambda: AFTER)
        assert (over.done, over.skipped) == (1, 0)
        assert _rows(conn) == {(int(p["tracking_id"]), "SPY") for p in fake.darkpool("SPY", TODAY)}
        before = len(fake.requests)
        done = backfill.backfill(DARKPOOL, _config(), units, conn=conn, client=http, out=io.StringIO(),
                                 now=lambda: AFTER)
        http.close()
    assert done.skipped == 1 and len(fake.requests) == before  # finished once its day was over


def test_an_options_flow_window_of_a_day_not_over_is_read_again_by_a_re_run(conn) -> None:
    with FakeApi(token=TOKEN, seed=5, now=DURING, flow_count=120) as fake:
        http = ApiClient(base_url=fake.url, token=TOKEN, sleep=lambda _: None)
        units = backfill.plan(TODAY, TODAY, [""])
        backfill.backfill(FLOW, _flow_config(), units, conn=conn, client=http, out=io.StringIO(), now=lambda: DURING)
        fake.add_flow(15)
        later = DURING.replace(minute=30)
        again = backfill.backfill(FLOW, _flow_config(), units, conn=conn, client=http, out=io.StringIO(),
                                  now=lambda: later)
        served, _ = options_flow.COLLECTOR.parse({"data": fake.flow_alerts()})
        http.close()
    assert again.skipped == 0
    assert {r[0] for r in conn.execute("SELECT id FROM trading.options_flow_alerts")} == {a.id for a in served}
