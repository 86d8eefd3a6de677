"""Net premium ticks end to end: the fake API -> runner -> PostgreSQL, one request per ticker a pass."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tests.day_series import passes_store_what_was_served, rows, run_pass
from vvv.collectors import COLLECTORS
from vvv.core.convert import parse_timestamp

TICKS = COLLECTORS["net_prem_ticks"]
DAY = date(2026, 3, 10)


def test_passes_store_exactly_what_was_served_and_nothing_twice(conn, fake_api) -> None:
    passes_store_what_was_served(TICKS, fake_api, conn, at=datetime(2026, 3, 10, 19, 0, tzinfo=UTC), day=DAY)


def test_a_tick_is_stored_with_its_figures_exact_whichever_spelling_of_its_time(conn, fake_api) -> None:
    result = run_pass(TICKS, fake_api, conn, datetime(2026, 3, 10, 14, 0, tzinfo=UTC), tickers=["SPY"])
    assert result.status == "ok" and result.rejects == 0, result.error
    served = {parse_timestamp(t["tape_time"]): (Decimal(t["net_delta"]), t["call_volume"], date.fromisoformat(t["date"]))
              for t in fake_api.records("net_prem_ticks", ("SPY", DAY))}
    stored = {at: rest for at, *rest in rows(conn, "SELECT tape_time, net_delta, call_volume, date"
                                                   " FROM trading.net_prem_ticks WHERE ticker = 'SPY'")}
    assert {at: tuple(rest) for at, rest in stored.items()} == served and len(served) > 1
