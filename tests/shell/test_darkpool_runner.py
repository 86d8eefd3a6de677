"""Dark pool end to end: the fake API (either reading of its time bounds) -> runner -> PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import psycopg.types.json
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, darkpool
from vvv.config import CollectorConfig
from vvv.core.convert import parse_timestamp
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

DARKPOOL = COLLECTORS["darkpool"]
# A Tuesday afternoon in New York: the fake serves that market day's prints. vvv's clock runs
# two hours later (still Tuesday in New York), so the prints the tests publish are not "future".
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


def _config(**options) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=darkpool.Settings(**options))


@pytest.fixture(params=[True, False], ids=["inclusive-bounds", "exclusive-bounds"])
def api(request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=3, now=NOW, darkpool_count=1200, bounds_inclusive=request.param) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    yield http
    http.close()


def _pass(conn, client, **options):
    return run_once(DARKPOOL, _config(**options), conn=conn, client=client, clock=lambda: LATER)


def _stored(conn: psycopg.Connection, ticker: str) -> list[int]:
    ids = [r[0] for r in conn.execute("SELECT tracking_id FROM trading.darkpool_trades WHERE ticker = %s", (ticker,))]
    conn.rollback()
    return ids


def _served(api: FakeApi, ticker: str) -> set[int]:
    return {int(item["tracking_id"]) for item in api.darkpool(ticker) if isinstance(item, dict)}


def test_first_pass_stores_the_whole_day_for_every_ticker(conn, client, api) -> None:
    result = _pass(conn, client, tickers=["SPY", "QQQ"])
    assert result.status == "ok", result.error
    for ticker in ("SPY", "QQQ"):
        stored = _stored(conn, ticker)
        assert len(stored) == len(set(stored))
        assert set(stored) == _served(api, ticker)
    positions = dict(conn.execute("SELECT scope, position FROM vvv.cursors WHERE collector = 'darkpool'").fetchall())
    conn.rollback()
    assert set(positions) == {"SPY", "QQQ"}  # one cursor per partition, kept under it
    assert all("ticker" not in position for position in positions.values())  # the partition is not inside
    assert store.load_cursor(conn, DARKPOOL.spec, "SPY").day is not None


def test_incremental_passes_store_exactly_what_the_api_served_within_the_request_bound(conn, client, api) -> None:
    _pass(conn, client, tickers=["SPY"])
    for added in (0, 7, 499, 501, 1300):
        api.add_darkpool("SPY", added)
        before = len(api.requests)
        result = _pass(conn, client, tickers=["SPY"])
        requests = len(api.requests) - before
        assert result.status == "ok", result.error
        stored = _stored(conn, "SPY")
        assert len(stored) == len(set(stored))
        assert set(stored) == _served(api, "SPY")
        assert requests <= math.ceil(result.fetched / 500) + 1


def test_a_bad_ticker_in_the_watchlist_is_refused_naming_it() -> None:
    for bad in ("../../etc", "SPY?x=1", "%2F", "A#B"):
        with pytest.raises(ValueError, match="is not a ticker"):
            darkpool.Settings(tickers=["SPY", bad])


def test_a_burst_larger_than_a_page_is_a_recorded_possible_gap_not_a_loop(conn) -> None:
    with FakeApi(token=TOKEN, seed=3, now=NOW, darkpool_count=300, darkpool_burst=600) as api:
        http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
        result = _pass(conn, http, tickers=["SPY"])
        http.close()
    assert result.status == "ok"
    assert result.notes and "SPY" in result.notes and "share" in result.notes
    notes = conn.execute("SELECT notes FROM vvv.runs WHERE id = %s", (result.run_id,)).fetchone()[0]
    assert notes == result.notes


@settings(max_examples=8)  # each example starts a fake API and runs several passes against PostgreSQL
@given(inclusive=st.booleans(), history=st.lists(st.tuples(st.integers(0, 900), st.integers(0, 40)), max_size=4))
def test_any_history_of_new_and_late_prints_ends_with_exactly_what_the_api_served(
    conn, inclusive: bool, history: list[tuple[int, int]]
) -> None:
    """Between passes the API gains prints, some reported late (inside the lookback); either bound reading."""
    conn.execute("DELETE FROM trading.darkpool_trades; DELETE FROM vvv.cursors")
    conn.commit()
    with FakeApi(token=TOKEN, seed=11, now=NOW, darkpool_count=600, bounds_inclusive=inclusive) as api:
        http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
        _pass(conn, http, tickers=["SPY"])
        for new, late in history:
            api.add_darkpool("SPY", new)
            if late:  # reported now, executed a minute before the newest print: within the 5-minute lookback
                at = max(parse_timestamp(p["executed_at"]) for p in api.darkpool("SPY") if isinstance(p, dict))
                api.add_darkpool("SPY", late, at=at - timedelta(minutes=1))
            before = len(api.requests)
            result = _pass(conn, http, tickers=["SPY"])
            assert result.status == "ok", result.error
            assert len(api.requests) - before <= math.ceil(result.fetched / 500) + 1
            stored = _stored(conn, "SPY")
            assert len(stored) == len(set(stored))
            assert set(stored) == _served(api, "SPY")
        http.close()


def test_a_cursor_saved_by_a_release_that_kept_the_ticker_inside_it_is_gone_on_from(conn, client, api) -> None:
    """Users' vvv.cursors rows from before partitions carry the ticker: a pass reads them, goes on from
    where they stood (no day read again from the start) and saves the new shape under the same key."""
    first = _pass(conn, client, tickers=["SPY"])
    assert first.status == "ok", first.error
    (position,) = conn.execute("SELECT position FROM vvv.cursors WHERE collector = 'darkpool' AND scope = 'SPY'"
                               ).fetchone()
    conn.execute("UPDATE vvv.cursors SET position = %s WHERE collector = 'darkpool' AND scope = 'SPY'",
                 (psycopg.types.json.Jsonb({"ticker": "SPY", **position}),))
    conn.commit()
    api.add_darkpool("SPY", 3)
    again = _pass(conn, client, tickers=["SPY"])
    assert again.status == "ok", again.error
    assert again.inserted == 3 and again.requests == 1  # from the saved position: the lookback only
    assert set(_stored(conn, "SPY")) == _served(api, "SPY")
    (position,) = conn.execute("SELECT position FROM vvv.cursors WHERE collector = 'darkpool' AND scope = 'SPY'"
                               ).fetchone()
    conn.rollback()
    assert "ticker" not in position
