"""The economic calendar end to end: one request a pass, revisions kept as new versions."""

from __future__ import annotations

import psycopg

from tests.conftest import TOKEN
from vvv.collectors import COLLECTORS, economic_calendar
from vvv.config import CollectorConfig
from vvv.fake_api import FakeApi
from vvv.http import ApiClient
from vvv.runner import run_once

CALENDAR = COLLECTORS["economic_calendar"]
CONFIG = CollectorConfig(enabled=True, interval=3600, extended_interval=3600, closed_interval=None, stale_after=None,
                         options=economic_calendar.Settings())


def _pass(conn: psycopg.Connection, api: FakeApi):
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    try:
        return run_once(CALENDAR, CONFIG, conn=conn, client=client)
    finally:
        client.close()


def test_a_pass_stores_the_calendar_in_one_request_and_again_inserts_nothing(conn, fake_api: FakeApi) -> None:
    first = _pass(conn, fake_api)
    assert first.status == "ok", first.error
    assert (first.requests, first.inserted) == (1, len(fake_api.economic_events)) and first.inserted > 0
    again = _pass(conn, fake_api)
    assert (again.inserted, again.duplicates) == (0, len(fake_api.economic_events))


def test_a_revised_forecast_is_kept_beside_the_first_one(conn, fake_api: FakeApi) -> None:
    _pass(conn, fake_api)
    event = fake_api.revise_economic_event(0, forecast="9.9%")
    result = _pass(conn, fake_api)
    assert result.inserted == 1
    versions = conn.execute(
        "SELECT forecast FROM trading.economic_events WHERE event = %s AND time = %s::timestamptz"
        " ORDER BY collected_at", (event["event"], event["time"]),
    ).fetchall()
    assert [v[0] for v in versions][-1] == "9.9%" and len(versions) == 2
