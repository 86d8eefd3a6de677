"""Spot GEX per minute: `GET /api/stock/{ticker}/spot-exposures`, a market day's minutes in one request.

A declaration over the kernel's `DaySeries`, one partition (and cursor) per watchlist ticker,
over the regular session (the series' hours). A minute is its ticker and calculation time; its
figures are computed once, so the data set is insert-only: a minute served again is a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attrs import frozen

from vvv.core.base import Collector, Schedule, Spec
from vvv.core.convert import JsonObject
from vvv.core.paging import DayCursor, DaySeries
from vvv.core.partitions import Watchlist, known_ticker, leading, tickers
from vvv.core.schema import Item


@frozen
class Exposure:
    """One minute's dealer exposure per one percent move, a row of `trading.spot_exposures`: gamma,
    charm and vanna by open interest (_oi), volume (_vol) and directionalized volume (_dir)."""

    ticker: str
    time: datetime
    price: Decimal | None
    gamma_per_one_percent_move_oi: Decimal | None
    gamma_per_one_percent_move_vol: Decimal | None
    gamma_per_one_percent_move_dir: Decimal | None
    charm_per_one_percent_move_oi: Decimal | None
    charm_per_one_percent_move_vol: Decimal | None
    charm_per_one_percent_move_dir: Decimal | None
    vanna_per_one_percent_move_oi: Decimal | None
    vanna_per_one_percent_move_vol: Decimal | None
    vanna_per_one_percent_move_dir: Decimal | None
    extra: JsonObject


SPEC = Spec(name="spot_exposures", table="trading.spot_exposures", key=("ticker", "time"), record=Exposure,
            description="Spot GEX per minute (GET /api/stock/{ticker}/spot-exposures) into trading.spot_exposures",
            time_column="time", settings=Watchlist, cursor=DayCursor,
            schedule=Schedule(interval=60, extended_interval=300, closed_interval=3600, stale_after=900))

COLLECTOR = Collector(
    spec=SPEC,
    strategy=DaySeries("/api/stock/{partition}/spot-exposures", time_field="time", hours=("open", "close")),
    item=Item(Exposure, computed=("ticker", "extra")),
    build=leading(Exposure),
    validate=known_ticker,
    partitions=tickers,
)
