"""`gex:T` -> trading.gex: the ticker's gamma, delta, charm and vanna exposure per 1% move, live.

Every number comes as a string, `""` where there is none (`delta_per_one_percent_move_oi`).
Keyed by (ticker, timestamp): an update re-sent after a reconnect is stored once.
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

MEASURES = tuple(f"{greek}_per_one_percent_move_{basis}" for basis in ("oi", "vol", "dir")
                 for greek in ("gamma", "delta", "charm", "vanna") if (greek, basis) != ("delta", "dir"))


@frozen
class _Item:
    ticker: str
    timestamp: datetime
    price: Decimal | None = None
    gamma_per_one_percent_move_oi: Decimal | None = None
    delta_per_one_percent_move_oi: Decimal | None = None
    charm_per_one_percent_move_oi: Decimal | None = None
    vanna_per_one_percent_move_oi: Decimal | None = None
    gamma_per_one_percent_move_vol: Decimal | None = None
    delta_per_one_percent_move_vol: Decimal | None = None
    charm_per_one_percent_move_vol: Decimal | None = None
    vanna_per_one_percent_move_vol: Decimal | None = None
    gamma_per_one_percent_move_dir: Decimal | None = None
    charm_per_one_percent_move_dir: Decimal | None = None
    vanna_per_one_percent_move_dir: Decimal | None = None


_DOCUMENTED = frozenset(a.name for a in attrs.fields(_Item))


@frozen
class Gex:
    """One stored update; field order is the column order of `trading.gex` (the payload's order)."""

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


SPEC = Spec(
    name="gex",
    description="Live GEX per ticker (socket gex:TICKER) into trading.gex",
    table="trading.gex",
    key=("ticker", "timestamp"),
    columns=(Column("ticker", "text"), Column("timestamp", "timestamp with time zone"), Column("price", "numeric"),
             *(Column(name, "numeric") for name in MEASURES), Column("extra", "jsonb")),
    time_column="timestamp",
    schedule=NO_SCHEDULE,
    settings=NoSettings,
    cursor=NoCursor,
)


def parse(payload: Any, ticker: str | None = None) -> Gex | Reject:
    parsed = structure_item(payload, _Item, _DOCUMENTED)
    if isinstance(parsed, Reject):
        return parsed
    item, extra = parsed
    if ticker is not None and item.ticker.upper() != ticker:
        return Reject(payload, f"ticker {item.ticker!r} on the channel of {ticker}")
    return Gex(**attrs.asdict(item, recurse=False), extra=extra)


def validate(record: Gex, now: datetime) -> str | None:
    for name in ("price", *MEASURES):
        value = getattr(record, name)
        if value is not None and not fits_numeric(value):
            return f"{name} {value} is beyond what a NUMERIC column holds"
    return unstorable_text((record.ticker, record.extra))


def time_of(record: Gex) -> datetime:
    return record.timestamp


DECLARATION = Declaration(kind="gex", spec=SPEC, parse=parse, time_of=time_of, validate=validate, ticker="required")
