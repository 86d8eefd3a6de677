"""Which REST pass fills a stream's gap: the twin collector's cursor seeded over the gap, per scope.

The socket has no replay: what it sent while vvv was not connected (a drop, a refused join, a
restart) is gone from it. A twin's REST feed still has it, so the gap [start, end] is read from
there as one pass of the REST collector, from a cursor of its own (`GAP_KEY`, so its incremental
cursor never moves): flow alerts as a time window, news from the top down to `start`, dark pool
per watchlist ticker from the day of `start` on. `start` is already the last record stored (or
the gap's start, the earlier) less the lookback; identity makes the overlap cost nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vvv.collectors import darkpool, options_flow
from vvv.core.calendar import NY, last_trading_day
from vvv.core.paging import PageCursor, SweepCursor

GAP_KEY = "stream-gap"
MAX_GAP = timedelta(hours=6)  # older than this, a gap is the REST collector's or a backfill's to fill


def gap_key(scope: str) -> str:
    """Where a gap fill keeps its cursor, apart from the REST collector's own."""
    return f"{GAP_KEY}/{scope}" if scope else GAP_KEY


def fill_start(*, gap_start: datetime, stored: datetime | None, lookback: timedelta, end: datetime) -> datetime:
    """Where a fill reads from: the last record stored or the gap's start, whichever is earlier, less the
    lookback, and never more than `MAX_GAP` before `end`."""
    start = gap_start if stored is None else min(gap_start, stored)
    return max(start - lookback, end - MAX_GAP)


def seeds(twin: str, *, start: datetime, end: datetime, settings: Any) -> list[tuple[str, Any]]:
    """The (partition, cursor) pairs of the REST pass that reads [start, end] of `twin`."""
    if twin == "options_flow":
        return [("", options_flow.COLLECTOR.window(start, end))]
    if twin == "news":
        return [("", PageCursor(newest=start))]
    if twin == "darkpool":
        day = last_trading_day(start.astimezone(NY).date())
        return [(ticker, SweepCursor(day=day, newest=start)) for ticker in darkpool.COLLECTOR.partitions_of(settings)]
    raise ValueError(f"no REST twin named {twin!r}")
