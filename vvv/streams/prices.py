"""`price:T` -> trading.stock_prices: the ticker's live price, `{"close", "time", "vol"}` (the ticker is the channel's).

Keyed by (ticker, time): a price re-sent after a reconnect is stored once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from attrs import frozen

from vvv.core.base import Reject, Spec
from vvv.core.convert import JsonObject
from vvv.streams.base import NO_SCHEDULE, Declaration, NoCursor, NoSettings, epoch_ms, number


@frozen
class Price:
    """One stored price, a row of `trading.stock_prices` (its columns, in order)."""

    ticker: str
    time: datetime
    close: Decimal
    volume: int | None
    extra: JsonObject


SPEC = Spec(name="stock_prices", table="trading.stock_prices", key=("ticker", "time"), record=Price,
            description="Live stock prices (socket price:TICKER) into trading.stock_prices",
            time_column="time", schedule=NO_SCHEDULE, settings=NoSettings, cursor=NoCursor)
_KNOWN = frozenset(("close", "time", "vol"))


def parse(payload: Any, ticker: str | None = None) -> Price | Reject:
    if not isinstance(payload, dict):
        return Reject(payload, f"payload is not a JSON object but {type(payload).__name__}")
    try:
        close, volume = number(payload.get("close"), "close"), payload.get("vol")
        if close is None:
            raise ValueError("close is missing")
        if volume is not None and type(volume) is not int:
            raise ValueError(f"vol: expected an integer, got {volume!r}")
        time = epoch_ms(payload.get("time"), "time")
    except ValueError as error:
        return Reject(payload, str(error))
    extra = {k: v for k, v in payload.items() if k not in _KNOWN}
    return Price(ticker=extra.pop("ticker", None) or ticker or "", time=time, close=close, volume=volume, extra=extra)


def validate(record: Price, now: datetime) -> str | None:
    if not record.ticker:
        return "no ticker: neither the channel nor the payload names one"
    return SPEC.storable(record, now)


def time_of(record: Price) -> datetime:
    return record.time


DECLARATION = Declaration(kind="price", spec=SPEC, parse=parse, time_of=time_of, validate=validate, ticker="required")
