"""Dark pool prints: `GET /api/darkpool/{ticker}`, one market day per request, newest first, paged by time.

A declaration over the kernel's `TimeSweep` by market day, one partition (and cursor) per
ticker of the watchlist. The data set is revisable: a print served again canceled or corrected
within the lookback replaces its row (the old version goes to vvv.revisions). Identity is
`tracking_id`, so the sweep's overlaps cost no duplicates.

    >>> start = COLLECTOR.begin(None, "SPY", datetime(2025, 10, 25, 14, 0, tzinfo=UTC), Settings())  # a Saturday
    >>> COLLECTOR.next_request(start, None, None, Settings(), "SPY").params
    (('date', '2025-10-24'), ('limit', '500'))
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Column, Reject, Schedule, Spec, at_least, at_most, record_row, structure_item
from vvv.core.base import unstorable_text
from vvv.core.convert import JsonObject, parse_timestamp
from vvv.core.paging import SweepCursor, TimeSweep
from vvv.core.partitions import ticker_problem, tickers, watchlist
from vvv.core.timepaging import fits_numeric as _fits_numeric

PATH = "/api/darkpool/{ticker}"
MAX_PAGE_SIZE = 500
FUTURE_SKEW = timedelta(minutes=5)

_BIGINT = range(-(2**63), 2**63)


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
class _Item:
    """A print as the API describes it (`Darkpool Trade`): the fields vvv needs are required."""

    tracking_id: int
    executed_at: datetime
    ticker: str
    price: Decimal
    size: int
    premium: Decimal | None = None
    volume: int | None = None
    nbbo_bid: Decimal | None = None
    nbbo_ask: Decimal | None = None
    nbbo_bid_quantity: int | None = None
    nbbo_ask_quantity: int | None = None
    market_center: str | None = None
    canceled: bool | None = None
    ext_hour_sold_codes: str | None = None
    sale_cond_codes: str | None = None
    trade_code: str | None = None
    trade_settlement: str | None = None


_DOCUMENTED = frozenset(a.name for a in attrs.fields(_Item))
# Per-print times the live API sends beyond the description. Nothing promises their form, so
# one that does not read as a timestamp stays in `extra` instead of costing the print.
_LIVE_TIMES = ("trf_executed_at", "created_at")


@frozen
class Trade:
    """One stored print; field order is the column order of `trading.darkpool_trades`."""

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


_BIGINT_FIELDS = ("tracking_id", "size", "volume", "nbbo_bid_quantity", "nbbo_ask_quantity")
_NUMERIC_FIELDS = ("price", "premium", "nbbo_bid", "nbbo_ask")

SPEC = Spec(
    name="darkpool",
    description="Dark pool prints (GET /api/darkpool/{ticker}) into trading.darkpool_trades",
    table="trading.darkpool_trades",
    key=("tracking_id",),
    columns=(
        Column("tracking_id", "bigint"),
        Column("executed_at", "timestamp with time zone"),
        Column("ticker", "text"),
        Column("price", "numeric"),
        Column("size", "bigint"),
        Column("premium", "numeric"),
        Column("volume", "bigint"),
        Column("nbbo_bid", "numeric"),
        Column("nbbo_ask", "numeric"),
        Column("nbbo_bid_quantity", "bigint"),
        Column("nbbo_ask_quantity", "bigint"),
        Column("market_center", "text"),
        Column("canceled", "boolean"),
        Column("ext_hour_sold_codes", "text"),
        Column("sale_cond_codes", "text"),
        Column("trade_code", "text"),
        Column("trade_settlement", "text"),
        Column("trf_executed_at", "timestamp with time zone"),
        Column("created_at", "timestamp with time zone"),
        Column("extra", "jsonb"),
    ),
    time_column="executed_at",
    schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900),
    settings=Settings,
    cursor=SweepCursor,
    revisable=True,
)


def _parse_item(raw: Any) -> Trade | Reject:
    parsed = structure_item(raw, _Item, _DOCUMENTED)
    if isinstance(parsed, Reject):
        return parsed
    item, rest = parsed
    live, extra = _live_times(rest)
    return Trade(*record_row(item), **live, extra=extra)  # Trade's fields start with _Item's, in order


def _live_times(rest: dict[str, Any]) -> tuple[dict[str, datetime | None], dict[str, Any]]:
    typed: dict[str, datetime | None] = dict.fromkeys(_LIVE_TIMES)
    extra = dict(rest)
    for name in _LIVE_TIMES:
        if name not in rest:
            continue
        try:
            typed[name] = None if rest[name] is None else parse_timestamp(rest[name])
        except Exception:  # ValueError, or OverflowError from an absurd epoch number
            continue
        del extra[name]
    return typed, extra


def validate(record: Trade, now: datetime) -> str | None:
    """Business rules a parsed print must meet before it is stored."""
    if record.tracking_id == 0:  # seen in published samples: stored, every such print would be one row
        return "tracking_id 0 is not an identity: prints without a tracking id cannot be told apart"
    if record.price <= 0:
        return f"price {record.price} is not positive"
    if record.size <= 0:
        return f"size {record.size} is not positive"
    if record.executed_at > now + FUTURE_SKEW:
        return f"executed_at {record.executed_at.isoformat()} is in the future"
    if (problem := ticker_problem(record.ticker)) is not None:
        return problem
    for name in _BIGINT_FIELDS:
        if (value := getattr(record, name)) is not None and value not in _BIGINT:
            return f"{name} {value} does not fit a bigint"
    for name in _NUMERIC_FIELDS:
        if (value := getattr(record, name)) is not None and not _fits_numeric(value):
            return f"{name} {value} is beyond what a NUMERIC column holds"
    return unstorable_text(record_row(record))


COLLECTOR = Collector(
    spec=SPEC,
    strategy=TimeSweep(path=PATH.replace("{ticker}", "{partition}"), time_field="executed_at", noun="prints",
                       late="prints of {day} reported late", by_market_day=True),
    parse_item=_parse_item,
    validate=validate,
    partitions=tickers,
)
