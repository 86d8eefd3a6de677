"""The economic calendar: `GET /api/market/economic-calendar`, this week and next, one request.

A declaration over the kernel's `Single`: the endpoint answers with the whole calendar. An event
is its name and time; its forecast and previous value are revised as its date nears, so the data
set is revisable (replaced versions go to `vvv.revisions`). Undocumented event types (the live
calendar sends "13F") are stored as sent, with a note on the run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import frozen

from vvv.core.base import Collector, Page, Schedule, Spec, stable_id
from vvv.core.convert import JsonObject
from vvv.core.paging import LatestCursor, Single
from vvv.core.schema import Item

PATH = "/api/market/economic-calendar"
EVENT_TYPES = ("fed-speaker", "fomc", "report")  # the documented ones; others are stored too
# The calendar covers this week and next; an event further out than that is not plausible.
_HORIZON = timedelta(days=60)


@frozen
class Settings:
    """`[collectors.economic_calendar]` takes only the schedule: the endpoint has no options."""


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


def event_id(event: str, time: datetime) -> str:
    """The identity of an event: its name and its time in UTC, not its numbers, which are revised.

    sql/economic_calendar/002_one_row_per_event.sql computes the same id in SQL: keep them equal.
    """
    return stable_id(event, time.astimezone(UTC).isoformat())


def _event(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Event:
    return Event(event_id(values[0], values[1]), *values, extra)  # values: the fields less id and extra


def validate(record: Event, now: datetime) -> str | None:
    """Business rules an event must meet before it is stored."""
    if not record.event.strip():
        return "event is empty"
    if abs(record.time - now) > _HORIZON:
        return f"time {record.time.isoformat()} is more than {_HORIZON.days} days from now"
    return None


def notes(page: Page) -> list[str]:
    """Event types the description does not list: stored as sent, noted on the run once each."""
    unknown = dict.fromkeys(r.type for r in page.records if r.type is not None and r.type not in EVENT_TYPES)
    return [f"event type {kind!r} is not one the API documents ({', '.join(EVENT_TYPES)}); stored as sent"
            for kind in unknown]


SPEC = Spec(name="economic_calendar", table="trading.economic_events", key=("id",), record=Event,
            description="Economic calendar (GET /api/market/economic-calendar) into trading.economic_events",
            time_column="time", settings=Settings, cursor=LatestCursor, revisable=True,
            future_skew=None,  # the calendar is what lies ahead
            schedule=Schedule(interval=3600, extended_interval=3600, closed_interval=6 * 3600, stale_after=None))

COLLECTOR = Collector(spec=SPEC, strategy=Single(PATH, time_field="time"), item=Item(Event, computed=("id", "extra")),
                      build=_event, validate=validate, notes=notes)
