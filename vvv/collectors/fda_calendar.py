"""The FDA calendar: `GET /api/market/fda-calendar`, the events of a window of target dates, one request.

A declaration over the kernel's `Single`, its window from the pass's clock: from `days_back`
days before today (outcomes fill in after the date) to `days_ahead` after, at most `limit`
events (a full answer is warned of). An event is (ticker, drug, catalyst, start_date), the
provider sending no id; its status and notes change before the date and its outcome comes after
it, so the data set is revisable (old versions go to `vvv.revisions`).

    >>> from datetime import UTC
    >>> start = COLLECTOR.begin(None, "", datetime(2026, 3, 10, 15, 0, tzinfo=UTC), Settings())
    >>> COLLECTOR.next_request(start, None, None, Settings()).params
    (('target_date_min', '2026-02-08'), ('target_date_max', '2026-07-08'), ('limit', '200'))
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Schedule, Spec, at_least, at_most
from vvv.core.calendar import NY
from vvv.core.convert import JsonObject
from vvv.core.paging import LatestCursor, Single
from vvv.core.schema import Item

PATH = "/api/market/fda-calendar"
MAX_LIMIT = 200


@frozen
class Settings:
    """`[collectors.fda_calendar]` options beyond the schedule: the window of target dates around
    today, and `limit`, the most events one answer holds."""

    days_back: int = attrs.field(default=30, validator=[at_least(0), at_most(3650)])
    days_ahead: int = attrs.field(default=120, validator=[at_least(0), at_most(3650)])
    limit: int = attrs.field(default=MAX_LIMIT, validator=[at_least(1), at_most(MAX_LIMIT)])


@frozen
class Event:
    """The current version of an FDA event, a row of `trading.fda_events` (its columns, in order).
    `catalyst` is part of the key: an event sent without one is stored with ""."""

    ticker: str
    drug: str
    catalyst: str
    start_date: date
    end_date: date
    status: str | None
    description: str | None
    indication: str | None
    outcome: str | None
    outcome_brief: str | None
    notes: str | None
    source_link: str | None
    has_options: bool | None
    marketcap: Decimal | None
    extra: JsonObject


ITEM = Item(Event, computed=("catalyst", "extra"), also={"catalyst": str | None})


def _event(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Event:
    *fields, catalyst = values  # the item's names: the record's fields less catalyst and extra, then catalyst
    return Event(*fields[:2], catalyst or "", *fields[2:], extra)


def validate(record: Event, now: datetime) -> str | None:
    """The key's text fields must say something, and an event's window cannot end before it starts."""
    if not record.ticker.strip():
        return "ticker is empty"
    if not record.drug.strip():
        return "drug is empty"
    if record.end_date < record.start_date:
        return f"end_date {record.end_date.isoformat()} is before start_date {record.start_date.isoformat()}"
    return None


def _window(settings: Settings, partition: str, asof: datetime) -> tuple[tuple[str, str], ...]:
    today = asof.astimezone(NY).date()
    return (("target_date_min", (today - timedelta(days=settings.days_back)).isoformat()),
            ("target_date_max", (today + timedelta(days=settings.days_ahead)).isoformat()),
            ("limit", str(settings.limit)))


SPEC = Spec(name="fda_calendar", table="trading.fda_events", key=("ticker", "drug", "catalyst", "start_date"),
            record=Event, description="FDA calendar (GET /api/market/fda-calendar) into trading.fda_events",
            time_column="collected_at", settings=Settings, cursor=LatestCursor, revisable=True,
            schedule=Schedule(interval=3600, extended_interval=3600, closed_interval=6 * 3600, stale_after=None))

COLLECTOR = Collector(spec=SPEC, strategy=Single(PATH, params=_window, full="limit"), item=ITEM, build=_event,
                      validate=validate)
