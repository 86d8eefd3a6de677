"""The FDA calendar end to end: one request a pass for a window of target dates, against the fake and
PostgreSQL; an outcome coming in revises the event's row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, fda_calendar
from vvv.config import CollectorConfig
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

FDA = COLLECTORS["fda_calendar"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
LOW, HIGH = "2026-02-08", "2026-07-08"  # 30 days back, 120 ahead


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=9, now=NOW) as fake:
        yield fake


def _pass(conn: psycopg.Connection, api: FakeApi, **options):
    config = CollectorConfig(enabled=True, interval=3600, extended_interval=3600, closed_interval=None,
                             stale_after=None, options=fda_calendar.Settings(**options))
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    try:
        return run_once(FDA, config, conn=conn, client=client, clock=lambda: NOW)
    finally:
        client.close()


def _stored(conn: psycopg.Connection) -> dict[tuple, tuple]:
    rows = conn.execute("SELECT ticker, drug, catalyst, start_date::text, end_date::text, status, outcome"
                        " FROM trading.fda_events").fetchall()
    return {row[:4]: row[4:] for row in rows}


def _served(api: FakeApi) -> dict[tuple, tuple]:
    return {(e["ticker"], e["drug"], e["catalyst"] or "", e["start_date"]): (e["end_date"], e["status"], e["outcome"])
            for e in api.records("fda_calendar") if e["end_date"] >= LOW and e["start_date"] <= HIGH}


def test_a_pass_stores_the_window_in_one_request_and_again_writes_nothing(conn, api: FakeApi) -> None:
    first = _pass(conn, api)
    assert first.status == "ok", first.error
    assert _stored(conn) == _served(api) and first.inserted == len(_served(api)) > 0
    assert len(_served(api)) < len(api.records("fda_calendar"))  # the window is narrower than the calendar
    assert first.requests == 1 and not first.notes
    again = _pass(conn, api)
    assert (again.requests, again.inserted, again.revised, again.duplicates) == (1, 0, 0, first.inserted)


def test_an_outcome_coming_in_revises_the_event_and_keeps_its_old_version(conn, api: FakeApi) -> None:
    _pass(conn, api)
    index = next(i for i, e in enumerate(api.records("fda_calendar")) if e["start_date"] >= "2026-03-10")
    event = api.restate_record("fda_calendar", (), index, outcome="Approved", status="Approved")
    result = _pass(conn, api)
    assert (result.inserted, result.revised) == (0, 1)
    assert _stored(conn) == _served(api)
    kept = conn.execute("SELECT old_row->>'drug', old_row->>'outcome' FROM vvv.revisions"
                        " WHERE collector = 'fda_calendar'").fetchall()
    assert kept == [(event["drug"], None)]


def test_an_event_without_a_catalyst_is_stored_with_an_empty_one(conn, api: FakeApi) -> None:
    index = next(i for i, e in enumerate(api.records("fda_calendar")) if e["end_date"] >= LOW)
    event = api.restate_record("fda_calendar", (), index, catalyst=None)
    assert _pass(conn, api).rejects == 0
    assert (event["ticker"], event["drug"], "", event["start_date"]) in _stored(conn)


def test_an_answer_as_long_as_the_limit_is_warned_of(conn, api: FakeApi) -> None:
    result = _pass(conn, api, limit=5)
    assert result.status == "ok" and result.inserted == 5
    assert "the limit asked for: more may exist" in result.notes


def test_a_server_error_and_a_response_that_is_no_page_lose_nothing(conn, api: FakeApi) -> None:
    api.fail_next(502)
    assert _pass(conn, api).status == "ok" and _stored(conn) == _served(api)
    before = len(_served(api))
    api.add_records("fda_calendar", 3)
    assert len(_served(api)) > before
    api.fail_next(200, body="[]", times=5)  # beyond the retries: the pass fails and stores nothing
    failed = _pass(conn, api)
    assert failed.status != "ok" and failed.error and failed.inserted == 0
    assert _pass(conn, api).inserted == len(_served(api)) - before and _stored(conn) == _served(api)


def test_malformed_events_are_kept_once_as_rejects_and_the_rest_stored(conn, api: FakeApi) -> None:
    api.malformed_items(7)
    first = _pass(conn, api)
    assert first.status == "ok" and first.rejects > 0
    _pass(conn, api)
    rejects = conn.execute("SELECT count(*) FROM vvv.rejects WHERE collector = 'fda_calendar'").fetchone()[0]
    assert rejects == first.rejects  # once each, however often re-read
    assert set(_stored(conn)) < set(_served(api))
