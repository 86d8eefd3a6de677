"""`gex:T` -> trading.gex: the ticker's gamma, delta, charm and vanna exposure per 1% move, live.

Every number comes as a string, `""` where there is none (`delta_per_one_percent_move_oi`).
Keyed by (ticker, timestamp): an update re-sent after a reconnect is stored once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from attrs import frozen

from vvv.core.base import Reject, Spec
from vvv.core.convert import JsonObject
from vvv.streams.base import NO_SCHEDULE, Declaration, NoCursor, NoSettings, epoch_ms, number

MEASURES = tuple(f"{greek}_per_one_percent_move_{basis}" for basis in ("oi", "vol", "dir")
                 for greek in ("gamma", "delta", "charm", "vanna") if (greek, basis) != ("delta", "dir"))


@frozen
class Gex:
    """One stored update, a row of `trading.gex` (its columns, in order: the payload's)."""

    ticker: str
    timestamp: datetime
    price: Decimal | None
    gamma_per_one_percent_move_oi: Decimal | None
    delta_per_one_percent_move_oi: Decimal | None
    charm_per_one_percent_move_oi: Decimal | None
    vanna_per_one_percent_move_oi: Decimal | None
    gamma_per_one_percent_move_vol: Decimal | None
    delta_per_one_percent_move_vol: Decimal | None
    charm_per_one_percent_move_vol: Decimal | None
    vanna_per_one_percent_move_vol: Decimal | None
    gamma_per_one_percent_move_dir: Decimal | None
    charm_per_one_percent_move_dir: Decimal | None
    vanna_per_one_percent_move_dir: Decimal | None
    extra: JsonObject


SPEC = Spec(name="gex", table="trading.gex", key=("ticker", "timestamp"), record=Gex,
            description="Live GEX per ticker (socket gex:TICKER) into trading.gex",
            time_column="timestamp", schedule=NO_SCHEDULE, settings=NoSettings, cursor=NoCursor)
_KNOWN = frozenset(("ticker", "timestamp", "price", *MEASURES))


def parse(payload: Any, ticker: str | None = None) -> Gex | Reject:
    if not isinstance(payload, dict):
        return Reject(payload, f"payload is not a JSON object but {type(payload).__name__}")
    named = payload.get("ticker")
    if type(named) is not str or not named:
        return Reject(payload, f"ticker is missing or not a string: {named!r}")
    if ticker is not None and named.upper() != ticker:
        return Reject(payload, f"ticker {named!r} on the channel of {ticker}")
    try:
        values = [number(payload.get(name), name) for name in ("price", *MEASURES)]
        timestamp = epoch_ms(payload.get("timestamp"), "timestamp")
    except ValueError as error:
        return Reject(payload, str(error))
    return Gex(named, timestamp, *values, {k: v for k, v in payload.items() if k not in _KNOWN})


def validate(record: Gex, now: datetime) -> str | None:
    return SPEC.storable(record, now)


def time_of(record: Gex) -> datetime:
    return record.timestamp


DECLARATION = Declaration(kind="gex", spec=SPEC, parse=parse, time_of=time_of, validate=validate, ticker="required")
