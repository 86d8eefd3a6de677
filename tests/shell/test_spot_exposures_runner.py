"""Spot GEX per minute end to end: the fake API -> runner -> PostgreSQL, one request per ticker a pass."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.day_series import passes_store_what_was_served, rows, run_pass
from vvv.collectors import COLLECTORS

SPOT = COLLECTORS["spot_exposures"]


def test_passes_store_exactly_what_was_served_and_nothing_twice(conn, fake_api) -> None:
    passes_store_what_was_served(SPOT, fake_api, conn, at=datetime(2026, 3, 10, 19, 0, tzinfo=UTC),
                                 day=date(2026, 3, 10))


def test_before_the_open_the_previous_days_minutes_are_read_once_then_no_request(conn, fake_api) -> None:
    premarket = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 in New York, Tuesday: Monday's series
    first = run_pass(SPOT, fake_api, conn, premarket, tickers=["SPY"])
    assert (first.status, first.requests) == ("ok", 1), first.error
    assert fake_api.requests[-1].query["date"] == "2026-03-09"
    served = fake_api.records("spot_exposures", ("SPY", date(2026, 3, 9)))
    assert rows(conn, "SELECT count(*), min(price) > 0 FROM trading.spot_exposures WHERE ticker = 'SPY'") == [
        (len(served), True)]
    assert run_pass(SPOT, fake_api, conn, premarket, tickers=["SPY"]).requests == 0  # Monday is over and read
