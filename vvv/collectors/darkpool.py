"""Dark pool prints: `GET /api/darkpool/{ticker}`, one market day per request, newest first, paged by time.

A declaration over the kernel's `TimeSweep` by market day, one partition (and cursor) per
ticker of the watchlist. The data set is revisable: a print served again canceled or corrected
within the lookback replaces its row (the old version goes to vvv.revisions). Identity is
`tracking_id`, so the sweep's overlaps cost no duplicates.

    >>> from datetime import UTC
    >>> start = COLLECTOR.begin(None, "SPY", datetime(2025, 10, 25, 14, 0, tzinfo=UTC), Settings())  # a Saturday
    >>> COLLECTOR.next_request(start, None, None, Settings(), "SPY").params
    (('date', '2025-10-24'), ('limit', '500'))
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
from attrs import frozen

from vvv.core.base import Collector, Schedule, Spec, at_least, at_most
from vvv.core.convert import JsonObject
from vvv.core.paging import SweepCursor, TimeSweep
from vvv.core.partitions import ticker_problem, tickers, watchlist
from vvv.core.schema import Item

PATH = "/api/darkpool/{ticker}"
MAX_PAGE_SIZE = 500


@frozen
class Settings:
    """`[collectors.darkpool]` options beyond the schedule.

    `lookback_seconds`: how far behind the newest stored print each pass reads again, for
    prints reported late. `max_pages`: the most requests one pass makes for one ticker; a
    pass that reaches it continues where it stopped on the next pass.
    """

    tickers: tuple[str, ...] = attrs.field(default=("SPY", "QQQ"), converter=watchlist)
    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    lookback_seconds: int = attrs.field(default=300, validator=[at_least(0), at_most(86_400)])
    max_pages: int = attrs.field(default=200, validator=at_least(1))


@frozen
class Trade:
    """One stored print, a row of `trading.darkpool_trades` (its columns, in order). The fields vvv
    needs are required; `trf_executed_at` and `created_at` are live fields the description does
    not list: nothing promises their form, so one that does not read as a time stays in `extra`."""

    tracking_id: int
    executed_at: datetime
    ticker: str
    price: Decimal
    size: int
    premium: Decimal | None
    volume: int | None
    nbbo_bid: Decimal | None
    nbbo_ask: Decimal | None
    nbbo_bid_quantity: int | None
    nbbo_ask_quantity: int | None
    market_center: str | None
    canceled: bool | None
    ext_hour_sold_codes: str | None
    sale_cond_codes: str | None
    trade_code: str | None
    trade_settlement: str | None
    trf_executed_at: datetime | None
    created_at: datetime | None
    extra: JsonObject


def validate(record: Trade, now: datetime) -> str | None:
    """Business rules a parsed print must meet before it is stored."""
    if record.tracking_id == 0:  # seen in published samples: stored, every such print would be one row
        return "tracking_id 0 is not an identity: prints without a tracking id cannot be told apart"
    if record.price <= 0:
        return f"price {record.price} is not positive"
    if record.size <= 0:
        return f"size {record.size} is not positive"
    return ticker_problem(record.ticker)


SPEC = Spec(name="darkpool", table="trading.darkpool_trades", key=("tracking_id",), record=Trade,
            description="Dark pool prints (GET /api/darkpool/{ticker}) into trading.darkpool_trades",
            time_column="executed_at", settings=Settings, cursor=SweepCursor, revisable=True,
            schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900))

COLLECTOR = Collector(
    spec=SPEC,
    strategy=TimeSweep(path=PATH.replace("{ticker}", "{partition}"), time_field="executed_at", noun="prints",
                       late="prints of {day} reported late", by_market_day=True),
    item=Item(Trade, lenient=("trf_executed_at", "created_at")),
    validate=validate,
    partitions=tickers,
)
