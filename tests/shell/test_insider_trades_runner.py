"""Insider transactions end to end: the fake API -> runner -> PostgreSQL, paged by number until known."""

from __future__ import annotations

import psycopg
import pytest

from tests.fakes.api import FakeApi
from tests.passes import FAULTS, one_pass, through_fault
from vvv.collectors import COLLECTORS, insider_trades

INSIDER = COLLECTORS["insider_trades"]
FEED = "insider_transactions"


def _pass(conn: psycopg.Connection, api: FakeApi, **options):
    settings = insider_trades.Settings(**{"page_size": 100, "first_run_pages": 5, **options})
    return one_pass(INSIDER, settings, conn=conn, api=api)


def _stored(conn: psycopg.Connection) -> dict[str, tuple]:
    rows = conn.execute("SELECT id, ticker, filing_date::text, price::text FROM trading.insider_transactions")
    return {row[0]: row[1:] for row in rows}


def _served_ids(api: FakeApi) -> set[str]:
    return {item["id"] for item in api.records(FEED) if "id" in item}


def test_a_first_pass_stores_what_was_served_and_a_pass_with_nothing_new_costs_one_request(conn, fake_api) -> None:
    first = _pass(conn, fake_api)
    assert first.status == "ok", first.error
    served = fake_api.records(FEED)
    stored = _stored(conn)
    assert (first.requests, first.inserted, len(stored)) == (4, len(served), len(served)) == (4, 300, 300)
    assert _served_ids(fake_api) <= set(stored)
    hashed = [key for key in stored if key not in _served_ids(fake_api)]
    assert len(hashed) == sum("id" not in item for item in served) and all(len(key) == 64 for key in hashed)
    again = _pass(conn, fake_api)
    assert (again.status, again.requests, again.inserted, again.revised) == ("ok", 1, 0, 0)
    assert _stored(conn) == stored


def test_new_filings_on_top_are_stored_by_the_next_pass(conn, fake_api) -> None:
    _pass(conn, fake_api)
    added = fake_api.add_records(FEED, 3)
    result = _pass(conn, fake_api)
    assert (result.status, result.inserted) == ("ok", 3)
    assert {item["id"] for item in added if "id" in item} <= set(_stored(conn))


def test_a_restated_filing_replaces_its_row_and_keeps_the_old_one_as_a_revision(conn, fake_api) -> None:
    _pass(conn, fake_api)
    old = fake_api.records(FEED)[0]
    new = fake_api.restate_record(FEED, (), 0, price="999.99", transactions=9)
    result = _pass(conn, fake_api)
    assert (result.status, result.inserted, result.revised) == ("ok", 0, 1)
    assert _stored(conn)[new["id"]][2] == "999.99"
    kept = conn.execute("SELECT old_row->>'price' FROM vvv.revisions WHERE collector = 'insider_trades'"
                        " AND old_row->>'id' = %s", (old["id"],)).fetchall()
    assert kept == [(str(old["price"]),)]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_on_the_third_page_loses_nothing(conn, fake_api, fault) -> None:
    *failed, last = through_fault(fault, fake_api, lambda: _pass(conn, fake_api), after=2)
    assert [(r.status, r.inserted) for r in failed] == ([("partial", 200)] if failed else [])  # two pages kept
    assert last.status == "ok", last.error
    assert len(_stored(conn)) == len(fake_api.records(FEED)) == 300


def test_filters_go_into_every_request_and_narrow_what_is_stored(conn, fake_api) -> None:
    result = _pass(conn, fake_api, filters={"ticker_symbol": "meta", "transaction_codes": ["S"]})
    assert result.status == "ok", result.error
    sent = [dict(request.pairs) for request in fake_api.requests if request.path == insider_trades.PATH]
    assert sent and all(pairs.get("ticker_symbol") == "META" and pairs.get("transaction_codes[]") == "S"
                        for pairs in sent)
    wanted = [i for i in fake_api.records(FEED) if i["ticker"] == "META" and i["transaction_code"] == "S"]
    assert result.inserted == len(wanted) > 0
    assert {row[0] for row in _stored(conn).values()} == {"META"}


@pytest.mark.parametrize(("filters", "key"), [({"sector": "Energy"}, "filters.sector"),
                                              ({"is_officer": "yes"}, "filters.is_officer"),
                                              ({"transaction_codes": ["Q"]}, "filters.transaction_codes"),
                                              ({"page": 3}, "filters.page")])
def test_a_filter_the_api_does_not_take_is_an_error_naming_it(filters, key) -> None:
    with pytest.raises((TypeError, ValueError), match=key):
        insider_trades.Settings(filters=filters)
