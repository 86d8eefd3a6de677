"""Earnings end to end: both report times x the window of trading days, against the fake and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, earnings
from vvv.config import CollectorConfig
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

EARNINGS = COLLECTORS["earnings"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # a Tuesday afternoon in New York
# The trading day before, today, and five trading days ahead (over a weekend).
WINDOW = [date(2026, 3, d) for d in (9, 10, 11, 12, 13, 16, 17)]
KEYS = [(variant, day) for variant in ("premarket", "afterhours") for day in WINDOW]
CONFIG = CollectorConfig(enabled=True, interval=3600, extended_interval=3600, closed_interval=None, stale_after=None,
                         options=earnings.Settings())


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=11, now=NOW) as fake:
        yield fake


def _pass(conn: psycopg.Connection, api: FakeApi):
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    try:
        return run_once(EARNINGS, CONFIG, conn=conn, client=client, clock=lambda: NOW)
    finally:
        client.close()


def _stored(conn: psycopg.Connection) -> dict[tuple[str, str, str], str | None]:
    rows = conn.execute("SELECT symbol, report_date::text, report_time, actual_eps::text FROM trading.earnings")
    return {(symbol, day, time): eps for symbol, day, time, eps in rows}


def _served(api: FakeApi) -> dict[tuple[str, str, str], str | None]:
    return {(item["symbol"], item["report_date"], item["report_time"]): item["actual_eps"] or None
            for key in KEYS for item in api.records("earnings", key)}


def _pages(api: FakeApi) -> int:
    """Requests a pass over the window needs: each date's pages until a short one."""
    return sum(len(api.records("earnings", key)) // earnings.MAX_PAGE_SIZE + 1 for key in KEYS)


def test_a_pass_stores_the_window_as_served_and_again_writes_nothing(conn, api: FakeApi) -> None:
    first = _pass(conn, api)
    assert first.status == "ok", first.error
    assert _stored(conn) == _served(api) and first.inserted == len(_served(api)) > 0
    assert first.requests == _pages(api)
    dates = {r.query.get("date") for r in api.requests if r.path.startswith("/api/earnings/")}
    assert dates == {day.isoformat() for day in WINDOW}  # trading days only: no weekend asked for
    again = _pass(conn, api)
    assert (again.status, again.inserted, again.revised, again.duplicates) == ("ok", 0, 0, first.inserted)
    assert again.requests == _pages(api)  # one per date unless its companies take more than a page


def test_results_filling_in_replace_the_row_and_keep_the_old_version(conn, api: FakeApi) -> None:
    _pass(conn, api)
    key = ("afterhours", date(2026, 3, 10))  # today's: no results yet
    report = api.restate_record("earnings", key, 0, actual_eps="1.23", reaction="0.051")
    result = _pass(conn, api)
    assert (result.inserted, result.revised) == (0, 1)
    assert _stored(conn)[(report["symbol"], "2026-03-10", "postmarket")] == "1.23"
    kept = conn.execute("SELECT old_row->>'symbol', old_row->>'actual_eps' FROM vvv.revisions"
                        " WHERE collector = 'earnings'").fetchall()
    assert kept == [(report["symbol"], None)]


def test_a_server_error_and_a_response_that_is_no_page_lose_nothing(conn, api: FakeApi) -> None:
    api.fail_next(503)  # retried within the pass
    api.on_request(4, lambda: api.fail_next(200, body='{"data": null}'))
    first = _pass(conn, api)
    assert first.status == "ok" and _stored(conn) == _served(api)


def test_a_pass_that_fails_in_the_window_is_finished_by_the_next(conn, api: FakeApi) -> None:
    api.on_request(4, lambda: api.fail_next(200, body='{"data": null}', times=5))  # beyond the retries
    first = _pass(conn, api)
    assert first.status != "ok" and first.error and 0 < first.inserted < len(_served(api))
    second = _pass(conn, api)
    assert second.status == "ok", second.error
    assert _stored(conn) == _served(api)
    assert conn.execute("SELECT count(*) FROM vvv.rejects WHERE collector = 'earnings'").fetchone() == (0,)
