"""Net premium ticks: `GET /api/stock/{ticker}/net-prem-ticks`, a market day's minutes in one request.

A declaration over the kernel's `DaySeries` (`vvv.core.series`): one partition (and cursor) per
watchlist ticker, over the regular session. A tick is its ticker and `tape_time` (the minute's
start), reported once the minute has passed: insert-only, a tick served again is a duplicate.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from attrs import frozen

from vvv.core.convert import JsonObject
from vvv.core.series import ticker_day_series

PATH = "/api/stock/{partition}/net-prem-ticks"


@frozen
class Tick:
    """One minute of a ticker's options, a row of `trading.net_prem_ticks`: call and put volume (by
    side), net premium and net volume (ask side less bid side), and net delta."""

    ticker: str
    tape_time: datetime
    date: date
    call_volume: int | None
    call_volume_ask_side: int | None
    call_volume_bid_side: int | None
    put_volume: int | None
    put_volume_ask_side: int | None
    put_volume_bid_side: int | None
    net_call_premium: Decimal | None
    net_put_premium: Decimal | None
    net_call_volume: int | None
    net_put_volume: int | None
    net_delta: Decimal | None
    extra: JsonObject


COLLECTOR = ticker_day_series(Tick, "net_prem_ticks", PATH, time_field="tape_time", title="Net premium ticks")
