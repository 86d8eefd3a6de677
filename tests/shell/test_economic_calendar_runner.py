"""The economic calendar end to end: one request a pass, one row per event, revisions kept aside."""

from __future__ import annotations

import psycopg

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, economic_calendar
from vvv.config import CollectorConfig
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

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


def test_a_revised_forecast_replaces_the_current_row_and_the_first_one_is_kept_as_a_revision(conn, fake_api) -> None:
    _pass(conn, fake_api)
    event = fake_api.revise_economic_event(0, forecast="9.9%")
    result = _pass(conn, fake_api)
    assert (result.inserted, result.revised) == (0, 1)
    current = conn.execute(
        "SELECT forecast FROM trading.economic_events WHERE event = %s AND time = %s::timestamptz",
        (event["event"], event["time"]),
    ).fetchall()
    kept = conn.execute("SELECT old_row->>'forecast' FROM vvv.revisions WHERE collector = 'economic_calendar'"
                        " AND old_row->>'event' = %s", (event["event"],)).fetchall()
    assert current == [("9.9%",)]
    assert len(kept) == 1 and kept[0][0] != "9.9%"


def test_an_event_type_the_description_does_not_list_is_stored_and_noted_on_the_run(conn, fake_api: FakeApi) -> None:
    event = fake_api.revise_economic_event(0, type="13F", forecast="")
    result = _pass(conn, fake_api)
    assert result.status == "ok" and result.rejects == 0 and result.inserted == len(fake_api.economic_events)
    stored = conn.execute("SELECT type, forecast FROM trading.economic_events WHERE event = %s AND time = %s::timestamptz",
                          (event["event"], event["time"])).fetchall()
    assert stored == [("13F", None)]
    assert "'13F'" in result.notes
    assert conn.execute("SELECT notes FROM vvv.runs WHERE id = %s", (result.run_id,)).fetchone() == (result.notes,)
