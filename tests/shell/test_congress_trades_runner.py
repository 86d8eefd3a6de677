"""Congress trades end to end: the fake API -> runner -> PostgreSQL, the newest reports in one request."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from tests.fakes.api import FakeApi
from tests.passes import FAULTS, one_pass, through_fault
from vvv.collectors import COLLECTORS, congress_trades

CONGRESS = COLLECTORS["congress_trades"]
FEED = "congress_trades"


def _pass(conn: psycopg.Connection, api: FakeApi, **options):
    return one_pass(CONGRESS, congress_trades.Settings(**options), conn=conn, api=api)


def _stored(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT name, ticker, filed_at_date::text, amounts, notes FROM trading.congress_trades"
                        " ORDER BY 1, 2, 3, 4, 5").fetchall()


def _served(api: FakeApi) -> list[tuple]:
    return sorted((i["name"], i["ticker"], i["filed_at_date"], i["amounts"], i["notes"] or None)
                  for i in api.records(FEED))


def test_a_first_pass_stores_what_was_served_and_a_pass_with_nothing_new_costs_one_request(conn, fake_api) -> None:
    first = _pass(conn, fake_api)
    assert first.status == "ok", first.error
    assert (first.requests, first.inserted) == (1, 150)
    assert [r.pairs for r in fake_api.requests] == [(("limit", "200"),)]
    assert _stored(conn) == _served(fake_api)
    again = _pass(conn, fake_api)
    assert (again.status, again.requests, again.inserted, again.revised, again.duplicates) == ("ok", 1, 0, 0, 150)
    with_asset_type = sum("asset_type" in i for i in fake_api.records(FEED))
    assert conn.execute("SELECT count(*) FROM trading.congress_trades WHERE extra ? 'asset_type'").fetchone() == (
        with_asset_type,)


def test_new_reports_are_stored_and_a_restated_one_replaces_its_row_keeping_the_old_as_a_revision(conn, fake_api):
    _pass(conn, fake_api)
    fake_api.add_records(FEED, 2)
    old = fake_api.records(FEED)[5]
    fake_api.restate_record(FEED, (), 5, notes="Amended: spouse's account", is_active=False)
    result = _pass(conn, fake_api)
    assert (result.status, result.inserted, result.revised) == ("ok", 2, 1)
    assert _stored(conn) == _served(fake_api)
    kept = conn.execute("SELECT old_row->>'notes' FROM vvv.revisions WHERE collector = 'congress_trades'").fetchall()
    assert kept == [(old["notes"] or None,)]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_loses_nothing(conn, fake_api, fault) -> None:
    *failed, last = through_fault(fault, fake_api, lambda: _pass(conn, fake_api))
    assert [r.status for r in failed] == (["failed"] if failed else [])
    assert last.status == "ok", last.error
    assert _stored(conn) == _served(fake_api)


def test_page_size_is_the_limit_sent_and_is_bounded_by_the_api() -> None:
    settings = congress_trades.Settings(page_size=50)
    start = CONGRESS.strategy.begin(None, "", datetime(2026, 3, 10, 15, tzinfo=UTC), settings)
    assert CONGRESS.next_request(start, None, None, settings).params == (("limit", "50"),)
    with pytest.raises(ValueError, match="page_size"):
        congress_trades.Settings(page_size=201)
