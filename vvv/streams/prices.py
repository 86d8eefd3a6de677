"""`price:T` -> trading.stock_prices: the ticker's live price, `{"close", "time", "vol"}` (the ticker is the channel's).

Keyed by (ticker, time): a price re-sent after a reconnect is stored once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Column, Reject, Spec, structure_item, unstorable_text
from vvv.core.convert import JsonObject
from vvv.core.timepaging import fits_numeric
from vvv.streams.base import NO_SCHEDULE, Declaration, NoCursor, NoSettings


@frozen
class _Item:
    time: datetime
    close: Decimal
    vol: int | None = None


_DOCUMENTED = frozenset(a.name for a in attrs.fields(_Item))


@frozen
class Price:
    """One stored price; field order is the column order of `trading.stock_prices`."""

    ticker: str
    time: datetime
    close: Decimal
    volume: int | None
    extra: JsonObject


SPEC = Spec(
    name="stock_prices",
    description="Live stock prices (socket price:TICKER) into trading.stock_prices",
    table="trading.stock_prices",
    key=("ticker", "time"),
    columns=(Column("ticker", "text"), Column("time", "timestamp with time zone"), Column("close", "numeric"),
             Column("volume", "bigint"), Column("extra", "jsonb")),
    time_column="time",
    schedule=NO_SCHEDULE,
    settings=NoSettings,
    cursor=NoCursor,
)


def parse(payload: Any, ticker: str | None = None) -> Price | Reject:
    parsed = structure_item(payload, _Item, _DOCUMENTED)
    if isinstance(parsed, Reject):
        return parsed
    item, extra = parsed
    return Price(ticker=extra.pop("ticker", None) or ticker or "", time=item.time, close=item.close,
                 volume=item.vol, extra=extra)


def validate(record: Price, now: datetime) -> str | None:
    if not record.ticker:
        return "no ticker: neither the channel nor the payload names one"
    if not fits_numeric(record.close):
        return f"close {record.close} is beyond what a NUMERIC column holds"
    return unstorable_text(record.extra)


def time_of(record: Price) -> datetime:
    return record.time


DECLARATION = Declaration(kind="price", spec=SPEC, parse=parse, time_of=time_of, validate=validate, ticker="required")
