"""The registry of collectors: each module exports one `COLLECTOR` declaration; adding a collector
adds its module here, one line each (the order is the order of `vvv collectors`)."""

from __future__ import annotations

from vvv.collectors import (
    congress_trades,
    darkpool,
    darkpool_recent,
    earnings,
    economic_calendar,
    fda_calendar,
    insider_trades,
    market_tide,
    net_prem_ticks,
    news,
    ohlc,
    options_flow,
    spot_exposures,
)
from vvv.core.base import Collector

_MODULES = (
    news,
    darkpool,
    darkpool_recent,
    options_flow,
    economic_calendar,
    ohlc,
    spot_exposures,
    net_prem_ticks,
    insider_trades,
    congress_trades,
    earnings,
    market_tide,
    fda_calendar,
)
COLLECTORS: dict[str, Collector] = {module.COLLECTOR.spec.name: module.COLLECTOR for module in _MODULES}
