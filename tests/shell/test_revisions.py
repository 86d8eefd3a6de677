"""Revisions: a revisable data set holds each record at its last version, with its history.

The provider cancels dark pool prints after reporting them and revises calendar forecasts;
a record served again with other content replaces its row and the replaced version goes to
`vvv.revisions`. Served again unchanged, it writes nothing. Options flow stays insert-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from tests.shell.test_roles import _attempt, _connect, install_roles, roles_db  # noqa: F401 (a fixture)
from vvv.collectors import COLLECTORS, darkpool, economic_calendar, options_flow
from vvv.config import CollectorConfig
from vvv.core.paging import LatestCursor, SweepCursor
from vvv.io import migrate, store
from vvv.io.http import ApiClient
from vvv.ops import check, status
from vvv.run.runner import RunResult, run_once

DARKPOOL, CALENDAR = COLLECTORS["darkpool"], COLLECTORS["economic_calendar"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # a Tuesday afternoon in New York
LATER = NOW + timedelta(hours=2)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=3, now=NOW, darkpool_count=600) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    yield http
    http.close()


def _darkpool_pass(conn: psycopg.Connection, client: ApiClient) -> RunResult:
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                             options=darkpool.Settings(tickers=("SPY",)))
    return run_once(DARKPOOL, config, conn=conn, client=client, clock=lambda: LATER)


def _calendar_pass(conn: psycopg.Connection, client: ApiClient) -> RunResult:
    config = CollectorConfig(enabled=True, interval=3600, extended_interval=3600, closed_interval=None,
                             stale_after=None, options=economic_calendar.Settings())
    return run_once(CALENDAR, config, conn=conn, client=client, clock=lambda: NOW)


def _print(conn: psycopg.Connection, tracking_id: int) -> tuple:
    row = conn.execute("SELECT canceled, price, collected_at FROM trading.darkpool_trades WHERE tracking_id = %s",
                       (tracking_id,)).fetchone()
    conn.rollback()
    return row


def _revisions(conn: psycopg.Connection, collector: str) -> list[tuple]:
    rows = conn.execute("SELECT key, old_row, replaced_at FROM vvv.revisions WHERE collector = %s ORDER BY id",
                        (collector,)).fetchall()
    conn.rollback()
    return rows


def test_a_print_canceled_after_it_was_reported_replaces_its_row_and_keeps_the_old_version(conn, client, api):
    first = _darkpool_pass(conn, client)
    newest = api.darkpool("SPY")[0]
    canceled_before, price_before, collected_before = _print(conn, newest["tracking_id"])
    api.restate_print("SPY", newest["tracking_id"], canceled=not canceled_before, price="1.2345")
    result = _darkpool_pass(conn, client)
    assert result.status == "ok" and (result.revised, result.inserted) == (1, 0)
    assert result.duplicates == result.fetched - 1 and "1 revised" in result.summary()
    canceled, price, collected_at = _print(conn, newest["tracking_id"])
    assert (canceled, price) == (not canceled_before, Decimal("1.2345")) and collected_at > collected_before
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None,
                             stale_after=None, options=darkpool.Settings(tickers=("SPY",)))
    report = status.collect_status(conn, [(darkpool.SPEC, config)], now=datetime.now(UTC))
    entry = report["collectors"]["darkpool"]
    assert (entry["last_run"]["revised"], entry["revised_24h"]) == (1, 1)
    assert "REVISED 24H" in status.render(report)
    ((key, old_row, _),) = _revisions(conn, "darkpool")
    assert key == str(newest["tracking_id"])
    assert (old_row["canceled"], Decimal(str(old_row["price"]))) == (canceled_before, price_before)
    assert old_row["tracking_id"] == newest["tracking_id"] and "collected_at" in old_row
    runs = conn.execute("SELECT revised FROM vvv.runs WHERE id IN (%s, %s) ORDER BY id",
                        (first.run_id, result.run_id)).fetchall()
    assert runs == [(0,), (1,)]


def test_a_print_restated_twice_keeps_both_earlier_versions(conn, client, api):
    _darkpool_pass(conn, client)
    newest = api.darkpool("SPY")[0]
    for price in ("2.5", "3.5"):
        api.restate_print("SPY", newest["tracking_id"], price=price)
        assert _darkpool_pass(conn, client).revised == 1
    assert _print(conn, newest["tracking_id"])[1] == Decimal("3.5")
    old_prices = [Decimal(str(old["price"])) for _, old, _ in _revisions(conn, "darkpool")]
    assert old_prices == [Decimal(newest["price"]), Decimal("2.5")]


def test_prints_served_again_unchanged_write_nothing(conn, client):
    """Not even a row lock or a new tuple: each row keeps the transaction id that wrote it."""
    _darkpool_pass(conn, client)
    before = conn.execute("SELECT tracking_id, xmin::text, xmax::text FROM trading.darkpool_trades").fetchall()
    conn.rollback()
    again = _darkpool_pass(conn, client)
    assert (again.inserted, again.revised) == (0, 0) and again.duplicates == again.fetched > 0
    after = conn.execute("SELECT tracking_id, xmin::text, xmax::text FROM trading.darkpool_trades").fetchall()
    assert sorted(after) == sorted(before) and _revisions(conn, "darkpool") == []


def test_a_restatement_below_the_lookback_window_is_not_seen_by_polling(conn, client, api):
    """Passes read again only the lookback behind the newest print: the README says so."""
    _darkpool_pass(conn, client)
    oldest = api.darkpool("SPY")[-1]
    api.restate_print("SPY", oldest["tracking_id"], canceled=True)
    assert _darkpool_pass(conn, client).revised == 0
    assert _revisions(conn, "darkpool") == []


def _trade(tracking_id: int, price: str) -> darkpool.Trade:
    return darkpool.Trade(
        tracking_id=tracking_id, executed_at=NOW, ticker="SPY", price=Decimal(price), size=100, premium=None,
        volume=None, nbbo_bid=None, nbbo_ask=None, nbbo_bid_quantity=None, nbbo_ask_quantity=None,
        market_center=None, canceled=False, ext_hour_sold_codes=None, sale_cond_codes=None, trade_code=None,
        trade_settlement=None, trf_executed_at=None, created_at=None, extra={},
    )


@pytest.mark.parametrize("cursor", [SweepCursor(), None], ids=["with-cursor", "without-cursor"])
def test_one_key_twice_in_a_batch_stores_its_last_version(conn, cursor):
    run_id = store.start_run(conn, "darkpool")
    store.store_batch(conn, darkpool.SPEC, run_id=run_id, records=[_trade(1, "10")], rejects=[], received=1,
                      cursor=cursor)
    result = store.store_batch(conn, darkpool.SPEC, run_id=run_id, records=[_trade(1, "11"), _trade(1, "12"),
                               _trade(2, "5")], rejects=[], received=3, cursor=cursor)
    assert (result.inserted, result.revised, result.duplicates) == (1, 1, 1)
    assert conn.execute("SELECT price FROM trading.darkpool_trades WHERE tracking_id = 1").fetchone() == (12,)
    assert [Decimal(str(old["price"])) for _, old, _ in _revisions(conn, "darkpool")] == [Decimal(10)]


def test_options_flow_stays_insert_only(conn):
    alert = {"created_at": "2026-03-10T18:00:00Z", "option_chain": "AAPL260320C00150000", "alert_rule": "RepeatedHits",
             "id": "0b9ad0f6-64a5-4a8b-9e4e-3a4cf3f2b7a1", "total_premium": "1000"}
    run_id = store.start_run(conn, "options_flow")
    for premium in ("1000", "2000"):
        (record,), _ = options_flow.COLLECTOR.parse({"data": [{**alert, "total_premium": premium}]})
        result = store.store_batch(conn, options_flow.SPEC, run_id=run_id, records=[record], rejects=[], received=1,
                                   cursor=SweepCursor())
    assert (result.inserted, result.revised, result.duplicates) == (0, 0, 1)
    assert conn.execute("SELECT total_premium FROM trading.options_flow_alerts").fetchall() == [(1000,)]
    assert not options_flow.SPEC.revisable and _revisions(conn, "options_flow") == []


def test_a_revised_forecast_replaces_the_events_row_and_keeps_the_old_one(conn, client, api):
    first = _calendar_pass(conn, client)
    assert first.inserted == len(api.economic_events)
    event = api.revise_economic_event(0, forecast="9.9%")
    result = _calendar_pass(conn, client)
    assert (result.inserted, result.revised, result.duplicates) == (0, 1, len(api.economic_events) - 1)
    rows = conn.execute("SELECT forecast FROM trading.economic_events WHERE event = %s AND time = %s::timestamptz",
                        (event["event"], event["time"])).fetchall()
    assert rows == [("9.9%",)]
    ((_, old_row, _),) = _revisions(conn, "economic_calendar")
    assert old_row["event"] == event["event"] and old_row["forecast"] != "9.9%"
    assert conn.execute("SELECT count(*) FROM trading.economic_events").fetchone() == (len(api.economic_events),)


def test_the_calendar_migration_keeps_the_newest_version_of_each_event_and_the_rest_as_revisions(empty_db_url):
    """Before: every version of an event was a row, id a hash of every field. After: one row per
    event under the id vvv now computes, so the next pass finds it; older versions in vvv.revisions."""
    migrations = migrate.discover(migrate.sql_dir())
    before = [m for m in migrations if m.name != "economic_calendar/002_one_row_per_event.sql"
              and migrate.migration_order(m.name) < migrate.migration_order("economic_calendar/002")]
    names = ["CPI", 'Fed\'s "Powell" \\ speaks', "Umfrage über Zölle", "tab\there\nnewline \x01", "🐳 ➕ 中文", "\u2028"]
    times = [datetime(2026, 3, 11, 12, 30, tzinfo=UTC), datetime(2026, 3, 12, 14, 0, 0, 250000, tzinfo=UTC)]
    with psycopg.connect(empty_db_url) as conn:
        migrate.migrate(conn, before)
        for n, name in enumerate(names):
            at = times[n % 2]
            for version, (forecast, collected) in enumerate([("1%", "2026-03-01"), ("2%", "2026-03-02"),
                                                              ("3%", "2026-03-03")][: 1 + n % 3]):
                conn.execute("INSERT INTO trading.economic_events (id, event, time, forecast, collected_at)"
                             " VALUES (%s, %s, %s, %s, %s)", (f"old-{n}-{version}", name, at, forecast, collected))
        conn.commit()
        migrate.migrate(conn, migrations)
        rows = conn.execute("SELECT id, event, time, forecast FROM trading.economic_events").fetchall()
        revisions = conn.execute("SELECT key, old_row->>'id', old_row->>'forecast', replaced_at::date::text"
                                 " FROM vvv.revisions ORDER BY key, id").fetchall()
        assert check.problems(conn, [c.spec for c in COLLECTORS.values()]) == []
    current = {(event, time): (id_, forecast) for id_, event, time, forecast in rows}
    assert len(rows) == len(current) == len(names)
    for n, name in enumerate(names):
        id_, forecast = current[(name, times[n % 2])]
        assert id_ == economic_calendar.event_id(name, times[n % 2])
        assert forecast == f"{1 + n % 3}%"
    expected = sorted((economic_calendar.event_id(name, times[n % 2]), f"{v + 1}%", f"2026-03-0{v + 2}")
                      for n, name in enumerate(names) for v in range(n % 3))
    assert sorted((key, forecast, replaced) for key, _, forecast, replaced in revisions) == expected
    assert all(key == old_id for key, old_id, _, _ in revisions)


def _restate_as_collector(url: str) -> tuple[int, int]:
    """A print and an event stored, then served again with other content, as vvv_collector."""
    (event,), _ = economic_calendar.COLLECTOR.parse({"data": [{"event": "CPI", "time": "2026-03-11T12:30:00Z", "forecast": "1%"}]})
    with _connect(url, "vvv_collector") as conn:
        revised = []
        for spec, versions, cursor in [(darkpool.SPEC, [_trade(7, "1"), _trade(7, "2")], SweepCursor()),
                                       (economic_calendar.SPEC, [event, attrs.evolve(event, forecast="2%")],
                                        LatestCursor())]:
            run_id = store.start_run(conn, spec.name)
            for version in versions:
                result = store.store_batch(conn, spec, run_id=run_id, records=[version], rejects=[], received=1,
                                           cursor=cursor)
            revised.append(result.revised)
    return tuple(revised)


def test_the_collector_role_may_replace_the_rows_of_revisable_data_sets(roles_db):
    """vvv_collector may not UPDATE data, but for the revisable data sets: roles first, then `vvv migrate`."""
    with _connect(roles_db, "vvv_owner") as conn:
        migrate.migrate(conn, migrate.discover(migrate.sql_dir()))
    assert _restate_as_collector(roles_db) == (1, 1)
    for table in ("trading.news_headlines", "trading.options_flow_alerts"):
        assert _attempt(roles_db, "vvv_collector", f"UPDATE {table} SET collected_at = now()") == "InsufficientPrivilege"


def test_the_collector_role_may_replace_rows_when_the_roles_come_after_the_migrations(db_url):
    install_roles(db_url)
    assert _restate_as_collector(db_url) == (1, 1)
