"""The economic calendar: `GET /api/market/economic-calendar`, this week and next, one request.

The endpoint takes no parameters and answers with the whole calendar, so a pass is one
request and there is nothing to page. An event is identified by its name and time; its
forecast and previous value are revised as its date nears, so the data set is revisable:
the table holds one current row per event, and each version a revision replaced is kept in
`vvv.revisions`, so nothing the API ever said is lost. Event types beyond the ones the
description lists (the live calendar sends "13F") are stored as sent, with a note on the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import frozen

from vvv.core.base import Page, Reject, Request, Schedule, Single, Spec, parse_data, stable_id
from vvv.core.convert import JsonObject
from vvv.core.schema import Item

PATH = "/api/market/economic-calendar"
PAGING = Single(PATH)  # the endpoint answers with the whole calendar
EVENT_TYPES = ("fed-speaker", "fomc", "report")  # the documented ones; others are stored too
# The calendar covers this week and next; an event further out than that is not plausible.
_HORIZON = timedelta(days=60)


@frozen
class Settings:
    """`[collectors.economic_calendar]` takes only the schedule: the endpoint has no options."""


@frozen
class Cursor:
    """The latest event time seen: the calendar is a snapshot, so this is for the record only."""

    latest: datetime | None = None


@frozen
class Event:
    """The current version of an event, a row of `trading.economic_events` (its columns, in order);
    forecast and prev are often null."""

    id: str
    event: str
    time: datetime
    type: str | None
    reported_period: str | None
    forecast: str | None
    prev: str | None
    extra: JsonObject


ITEM = Item(Event, computed=("id", "extra"))

SPEC = Spec(
    name="economic_calendar",
    description="Economic calendar (GET /api/market/economic-calendar) into trading.economic_events",
    table="trading.economic_events",
    key=("id",),
    record=Event,
    time_column="time",
    schedule=Schedule(interval=3600, extended_interval=3600, closed_interval=6 * 3600, stale_after=None),
    settings=Settings,
    cursor=Cursor,
    revisable=True,
    future_skew=None,  # the calendar is what lies ahead
)


def event_id(event: str, time: datetime) -> str:
    """The identity of an event: its name and its time in UTC, not its numbers, which are revised.

    sql/economic_calendar/002_one_row_per_event.sql computes the same id in SQL: keep them equal.
    """
    return stable_id(event, time.astimezone(UTC).isoformat())


def next_request(cursor: Cursor, previous: Request | None, page: Page | None, settings: Settings) -> Request | None:
    """One request per pass: the endpoint answers with the whole calendar."""
    return PAGING.next_request(previous)


def parse(payload: Any) -> tuple[list[Event], list[Reject]]:
    """Typed events from one response; anything unreadable becomes a reject, never an exception."""
    return parse_data(payload, ITEM, _event)


def _event(raw: Any, values: tuple[Any, ...], extra: dict[str, Any]) -> Event:
    return Event(event_id(values[0], values[1]), *values, extra)  # ITEM's names start with event, time


def validate(record: Event, now: datetime) -> str | None:
    """Business rules an event must meet before it is stored."""
    if not record.event.strip():
        return "event is empty"
    if abs(record.time - now) > _HORIZON:
        return f"time {record.time.isoformat()} is more than {_HORIZON.days} days from now"
    return None


def warnings(cursor: Cursor, page: Page | None, settings: Settings) -> list[str]:
    """Event types the description does not list: stored as sent, noted on the run once each."""
    if page is None:
        return []
    unknown = dict.fromkeys(r.type for r in page.records if r.type is not None and r.type not in EVENT_TYPES)
    return [f"event type {kind!r} is not one the API documents ({', '.join(EVENT_TYPES)}); stored as sent"
            for kind in unknown]


def advance(cursor: Cursor, saved: Cursor, page: Page, settings: Settings) -> Cursor:
    """The latest event time seen so far (`saved` carries it from the page before)."""
    times = [r.time for r in page.records]
    if saved.latest is not None:
        times.append(saved.latest)
    return Cursor(latest=max(times, default=None))
