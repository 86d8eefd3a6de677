"""Spot GEX per minute: `GET /api/stock/{ticker}/spot-exposures`, a market day's minutes in one request.

A declaration over the kernel's `DaySeries` (`vvv.core.series`): one partition (and cursor) per
watchlist ticker, over the regular session. A minute is its ticker and calculation time; its
figures are computed once, so the data set is insert-only: a minute served again is a duplicate.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attrs import frozen

from vvv.core.convert import JsonObject
from vvv.core.series import ticker_day_series

PATH = "/api/stock/{partition}/spot-exposures"


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


COLLECTOR = ticker_day_series(Exposure, "spot_exposures", PATH, time_field="time", title="Spot GEX per minute")
