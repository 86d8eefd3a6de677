"""Market tide: `GET /api/market/market-tide`, the whole market's net premium ticks of one day, one request.

A declaration over the kernel's `Single`, one partition (and cursor) per tick interval of the
settings (`interval_5m` true or false): every pass reads the newest day whose session has opened
(`calendar.opened_day`: today from 09:30 New York time, the trading day before at night, so its
last tick is read closed). A tick is (timestamp, interval); the last one changes until it closes,
so the data set is revisable and a pass that finds nothing new writes nothing.

    >>> from datetime import UTC
    >>> start = COLLECTOR.begin(None, "1m", datetime(2026, 3, 10, 12, 0, tzinfo=UTC), Settings())  # 08:00 New York
    >>> COLLECTOR.next_request(start, None, None, Settings(), "1m").params
    (('date', '2026-03-09'), ('interval_5m', 'false'))
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Reject, Schedule, Spec
from vvv.core.calendar import NY, opened_day
from vvv.core.convert import JsonObject
from vvv.core.paging import LatestCursor, Single
from vvv.core.partitions import variants
from vvv.core.schema import Item

PATH = "/api/market/market-tide"
INTERVALS = ("1m", "5m")


@frozen
class Settings:
    """`[collectors.market_tide]` options beyond the schedule: `intervals`, the tick series (one
    request each a pass), "5m" (the API's default) and/or "1m"."""

    intervals: tuple[str, ...] = attrs.field(default=("5m",), converter=variants("intervals", INTERVALS))


@frozen
class Tick:
    """One tick of the tide, a row of `trading.market_tide` (its columns, in order): the market's
    net premiums and volume since the open, cumulative, at the tick's start `timestamp`."""

    timestamp: datetime
    interval: str
    date: date
    net_call_premium: Decimal | None
    net_put_premium: Decimal | None
    net_volume: int | None
    extra: JsonObject


# `date` is the tick's New York day, from its timestamp; the item's own (live, undocumented) is checked.
ITEM = Item(Tick, computed=("interval", "date", "extra"), also={"date": date | None})


def _tick(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Tick | Reject:
    timestamp, calls, puts, volume, sent_date = values
    day = timestamp.astimezone(NY).date()
    if sent_date is not None and sent_date != day:
        return Reject(raw, f"date {sent_date.isoformat()} is not the New York day of timestamp {timestamp.isoformat()}")
    return Tick(timestamp, partition, day, calls, puts, volume, extra)


def _params(settings: Settings, partition: str, asof: datetime) -> tuple[tuple[str, str], ...]:
    return ("date", opened_day(asof).isoformat()), ("interval_5m", "true" if partition == "5m" else "false")


SPEC = Spec(name="market_tide", table="trading.market_tide", key=("timestamp", "interval"), record=Tick,
            description="Market tide (GET /api/market/market-tide) into trading.market_tide",
            time_column="timestamp", settings=Settings, cursor=LatestCursor, revisable=True,
            schedule=Schedule(interval=60, extended_interval=900, closed_interval=None, stale_after=900))

COLLECTOR = Collector(spec=SPEC, strategy=Single(PATH, time_field="timestamp", params=_params), item=ITEM,
                      build=_tick, validate=lambda record, now: None, partitions=lambda settings: settings.intervals)
