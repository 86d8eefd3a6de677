"""Intraday candles: `GET /api/stock/{ticker}/ohlc/{candle_size}`, a market day's candles in one request.

A declaration over the kernel's `DaySeries`, one partition (and cursor) per watchlist ticker and
configured candle size ("SPY/1m"). A candle is its ticker, size and start; the open candle
changes until it closes, so the data set is revisable (its earlier versions go to vvv.revisions).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Schedule, Spec
from vvv.core.convert import JsonObject
from vvv.core.paging import DayCursor, DaySeries
from vvv.core.partitions import crossed, leading, ticker_problem, variants, watchlist
from vvv.core.schema import Item

CANDLE_SIZES = ("1m", "5m", "10m", "15m", "30m", "1h", "4h", "1d")
MAX_LIMIT = "2500"  # the most the endpoint returns; a day of 1m candles, 04:00-20:00, is 960



@frozen
class Settings:
    """`[collectors.ohlc]` options beyond the schedule: one request a pass per ticker and candle size."""

    tickers: tuple[str, ...] = attrs.field(default=("SPY", "QQQ"), converter=watchlist)
    candle_sizes: tuple[str, ...] = attrs.field(default=("1m",), converter=variants("candle_sizes", CANDLE_SIZES))


@frozen
class Candle:
    """One candle, a row of `trading.ohlc`; ticker and size are the partition's, not the item's."""

    ticker: str
    candle_size: str
    start_time: datetime
    end_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int | None
    total_volume: int | None
    market_time: str | None  # "pr", "r" or "po"; others are stored as sent
    extra: JsonObject


def validate(record: Candle, now: datetime) -> str | None:
    """Business rules a candle must meet before it is stored."""
    if record.end_time <= record.start_time:
        return f"end_time {record.end_time.isoformat()} is not after start_time {record.start_time.isoformat()}"
    if record.low > record.high:
        return f"low {record.low} is above high {record.high}"
    return ticker_problem(record.ticker)


SPEC = Spec(name="ohlc", table="trading.ohlc", key=("ticker", "candle_size", "start_time"), record=Candle,
            description="Intraday candles (GET /api/stock/{ticker}/ohlc/{candle_size}) into trading.ohlc",
            time_column="start_time", settings=Settings, cursor=DayCursor, revisable=True,
            schedule=Schedule(interval=60, extended_interval=60, closed_interval=3600, stale_after=900))

COLLECTOR = Collector(
    spec=SPEC,
    strategy=DaySeries("/api/stock/{0}/ohlc/{1}", time_field="start_time", params=lambda _: (("limit", MAX_LIMIT),)),
    item=Item(Candle, computed=("ticker", "candle_size", "extra")),
    build=leading(Candle, 2),
    validate=validate,
    partitions=lambda settings: crossed(settings.tickers, settings.candle_sizes),
)
