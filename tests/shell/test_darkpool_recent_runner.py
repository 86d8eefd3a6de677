"""The market's dark pool end to end: the fake API's /api/darkpool/recent -> runner -> PostgreSQL, into
the table the per-ticker collector fills, without doubling a print."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from tests.passes import FAULTS, one_pass, through_fault
from vvv.collectors import COLLECTORS, darkpool, darkpool_recent

RECENT = COLLECTORS["darkpool_recent"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # a Tuesday afternoon in New York
LATER = NOW + timedelta(hours=2)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=300) as fake:
        yield fake


def _pass(conn: psycopg.Connection, api: FakeApi, collector=RECENT, settings=None):
    return one_pass(collector, settings or darkpool_recent.Settings(), conn=conn, api=api, clock=lambda: LATER)


def _stored(conn: psycopg.Connection) -> dict[int, bool]:
    return dict(conn.execute("SELECT tracking_id, canceled FROM trading.darkpool_trades").fetchall())


def test_a_pass_stores_the_markets_newest_page_and_a_pass_with_nothing_new_costs_one_request(conn, api) -> None:
    first = _pass(conn, api)
    assert first.status == "ok", first.error
    newest = api.darkpool_recent()[:200]
    assert (first.requests, first.inserted) == (1, 200)
    assert _stored(conn) == {p["tracking_id"]: p["canceled"] for p in newest}
    assert len({p["ticker"] for p in newest}) > 1
    assert [r.pairs for r in api.requests] == [(("date", "2026-03-10"), ("limit", "200"))]
    again = _pass(conn, api)
    assert (again.status, again.requests, again.inserted, again.revised) == ("ok", 1, 0, 0)


def test_new_prints_are_stored_and_a_full_page_that_does_not_reach_the_stored_ones_is_named(conn, api) -> None:
    _pass(conn, api)
    few = api.add_darkpool("AAPL", 5, day=NOW.date())
    result = _pass(conn, api)
    assert (result.status, result.inserted, result.notes) == ("ok", 5, None)
    assert {p["tracking_id"] for p in few} <= set(_stored(conn))
    api.add_darkpool("NVDA", 250, day=NOW.date())
    burst = _pass(conn, api)
    assert (burst.status, burst.inserted, burst.requests) == ("ok", 200, 1)
    assert "reaches back only to" in burst.notes and "may be missed" in burst.notes


def test_a_canceled_print_replaces_its_row_and_keeps_the_old_one_as_a_revision(conn, api) -> None:
    _pass(conn, api)
    target = next(p for p in api.darkpool_recent()[:200] if not p["canceled"])
    api.restate_print(target["ticker"], target["tracking_id"], canceled=True)
    result = _pass(conn, api)
    assert (result.status, result.inserted, result.revised) == ("ok", 0, 1)
    assert _stored(conn)[target["tracking_id"]] is True
    kept = conn.execute("SELECT old_row->>'canceled' FROM vvv.revisions WHERE collector = 'darkpool_recent'"
                        " AND key = %s", (str(target["tracking_id"]),)).fetchall()
    assert kept == [("false",)]


def test_with_the_per_ticker_collector_a_print_is_one_row(conn, api) -> None:
    per_ticker = COLLECTORS["darkpool"]
    first = _pass(conn, api, per_ticker, darkpool.Settings(tickers=["SPY", "AAPL"]))
    assert first.status == "ok", first.error
    before = _stored(conn)
    recent = _pass(conn, api)
    assert recent.status == "ok", recent.error
    market = {p["tracking_id"] for p in api.darkpool_recent()[:200]}
    overlap = market & set(before)
    assert overlap and (recent.inserted, recent.duplicates) == (len(market - overlap), len(overlap))
    assert set(_stored(conn)) == set(before) | market
    again = _pass(conn, api, per_ticker, darkpool.Settings(tickers=["SPY", "AAPL"]))
    assert (again.inserted, again.revised) == (0, 0)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_loses_nothing(conn, api, fault) -> None:
    *failed, last = through_fault(fault, api, lambda: _pass(conn, api))
    assert [r.status for r in failed] == (["failed"] if failed else [])
    assert last.status == "ok", last.error
    assert set(_stored(conn)) == {p["tracking_id"] for p in api.darkpool_recent()[:200]}
