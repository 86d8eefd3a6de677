"""Options flow alerts: `GET /api/option-trades/flow-alerts`, newest first, paged by time, one cursor.

A declaration over the kernel's `TimeSweep`, one cursor. Identity is the provider's `id` (a
UUID) on live alerts; without one, a stable hash of what makes an alert one (`option_chain`,
`alert_rule`, `created_at` in UTC), never of what measures it and may be restated. Insert-only:
an alert served again is a duplicate.

The API's own filters (`[collectors.options_flow.filters]`) go into every request:

    >>> settings = Settings(filters={"min_premium": 50000, "rule_name": ["RepeatedHits"]})
    >>> start = COLLECTOR.begin(None, "", datetime(2025, 10, 22, 15, 0, tzinfo=UTC), settings)
    >>> COLLECTOR.next_request(start, None, None, settings).params
    (('limit', '200'), ('newer_than', '1761141599999'), ('min_premium', '50000'), ('rule_name[]', ('RepeatedHits',)))
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core import params
from vvv.core.base import (
    Collector,
    Reject,
    Schedule,
    Spec,
    at_least,
    at_most,
    stable_id,
)
from vvv.core.convert import JsonObject
from vvv.core.paging import SweepCursor, TimeSweep
from vvv.core.params import Param, min_max
from vvv.core.schema import Item

PATH = "/api/option-trades/flow-alerts"
MAX_PAGE_SIZE = 200

# OCC symbol as the API writes it, without padding: root, YYMMDD, C or P, strike x 1000 in 8 digits.
_OCC = re.compile(r"(?P<root>[A-Z][A-Z0-9.]{0,5})(?P<date>[0-9]{6})(?P<type>[CP])(?P<strike>[0-9]{8})")
# Index options whose weekly or PM-settled series trade under a root other than the index's ticker.
_INDEX_ROOTS = {"SPXW": "SPX", "NDXP": "NDX", "RUTW": "RUT", "VIXW": "VIX", "XSPW": "XSP", "DJXW": "DJX"}

RULE_NAMES = (
    "FloorTradeSmallCap", "FloorTradeMidCap", "RepeatedHits", "RepeatedHitsAscendingFill",
    "RepeatedHitsDescendingFill", "FloorTradeLargeCap", "OtmEarningsFloor", "LowHistoricVolumeFloor",
    "SweepsFollowedByFloor",
)
ISSUE_TYPES = ("Common Stock", "ETF", "Index", "ADR")

# Every filter `GET /api/option-trades/flow-alerts` documents. Where the description contradicts
# itself, the example wins: `min_premium` is typed integer with the example 12500.5, the volume/OI
# ratios integer with 0.32 and 1.58, `min_diff` string with 0.53 and a negative diff in its text:
# those take numbers.
FILTERS: dict[str, Param] = {
    "ticker_symbol": Param("tickers"),
    **min_max("number", 0, names=("premium",)),
    **min_max("integer", 0, names=("size", "volume", "open_interest", "dte", "marketcap")),
    **min_max("number", 0, names=("volume_oi_ratio", "price", "size_vol_ratio", "spread")),
    **min_max("number", 0, 1, names=("ask_perc", "bid_perc", "bull_perc", "bear_perc", "skew")),
    **min_max("number", names=("diff", "iv_change")),
    **{name: Param("boolean") for name in (
        "all_opening", "is_floor", "is_sweep", "is_call", "is_put", "is_ask_side", "is_bid_side", "is_otm",
        "is_multi_leg", "size_greater_oi", "vol_greater_oi",
    )},
    "rule_name": Param("choices", choices=RULE_NAMES),
    "issue_types": Param("choices", choices=ISSUE_TYPES),
}
_filters = functools.partial(params.checked, FILTERS, reserved=("newer_than", "older_than", "limit"))


@frozen
class Settings:
    """`[collectors.options_flow]` options beyond the schedule.

    `first_run_hours`: how far back the very first pass reads. `lookback_seconds`: how far
    behind the newest stored alert each pass reads again, for alerts published late.
    `max_pages`: the most requests one pass makes; a pass that reaches it continues where it
    stopped. `filters`: the API's own filters, sent with every request.
    """

    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    lookback_seconds: int = attrs.field(default=300, validator=[at_least(0), at_most(86_400)])
    max_pages: int = attrs.field(default=100, validator=at_least(1))
    first_run_hours: int = attrs.field(default=1, validator=[at_least(1), at_most(24 * 30)])
    filters: JsonObject = attrs.field(factory=dict, converter=_filters, hash=False)


@frozen
class OptionSymbol:
    """An OCC option symbol taken apart: `AAPL230317C00150000` is AAPL, 2023-03-17, call, 150."""

    root: str
    expiry: date
    option_type: str  # "call" or "put"
    strike: Decimal

    def __str__(self) -> str:
        letter = "C" if self.option_type == "call" else "P"
        return f"{self.root}{self.expiry:%y%m%d}{letter}{int(self.strike * 1000):08d}"


def parse_option_symbol(text: Any) -> OptionSymbol | str:
    """The symbol's parts, or why `text` is not an OCC option symbol."""
    match = _OCC.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return f"option_chain {text!r} is not an OCC option symbol (root, YYMMDD, C or P, strike x 1000 in 8 digits)"
    digits = match["date"]
    try:  # not strptime: its %y reads 69-99 as 19xx, and no listed option expires before 2000
        expiry = date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
    except ValueError:
        return f"option_chain {text!r} has no real date in {match['date']!r}"
    strike = Decimal(int(match["strike"])) / 1000
    return OptionSymbol(match["root"], expiry, "call" if match["type"] == "C" else "put", strike)


def disagreement(symbol: OptionSymbol, *, ticker: str | None, expiry: date | None, option_type: str | None,
                 strike: Decimal | None) -> str | None:
    """Which fields sent with an alert contradict its option symbol, or None; a null field agrees."""
    problems = []
    if ticker is not None and not _same_underlying(symbol.root, ticker):
        problems.append(f"ticker {ticker!r} (symbol root {symbol.root})")
    if expiry is not None and expiry != symbol.expiry:
        problems.append(f"expiry {expiry.isoformat()} (symbol {symbol.expiry.isoformat()})")
    if option_type is not None and option_type.lower() != symbol.option_type:
        problems.append(f"type {option_type!r} (symbol {symbol.option_type})")
    if strike is not None and strike != symbol.strike:
        problems.append(f"strike {strike} (symbol {symbol.strike})")
    if not problems:
        return None
    return f"option_chain {symbol} disagrees with " + ", ".join(problems)


def _same_underlying(root: str, ticker: str) -> bool:
    """An adjusted contract's root carries a digit (AAPL1); index weeklies have their own roots (SPXW)."""
    ticker = ticker.upper()
    return root in (ticker, ticker.replace(".", "")) or _INDEX_ROOTS.get(root) == ticker or (
        root[:-1] == ticker and root[-1].isdigit())


@frozen
class Alert:
    """One stored alert, a row of `trading.options_flow_alerts` (its columns, in order); the
    identity fields are required, the rest may be null."""

    id: str
    created_at: datetime
    option_chain: str
    alert_rule: str
    rule_id: str | None
    underlying: str
    expiry: date
    option_type: str
    strike: Decimal
    ticker: str | None
    issue_type: str | None
    price: Decimal | None
    underlying_price: Decimal | None
    total_premium: Decimal | None
    total_ask_side_prem: Decimal | None
    total_bid_side_prem: Decimal | None
    total_size: int | None
    trade_count: int | None
    volume: int | None
    open_interest: int | None
    volume_oi_ratio: Decimal | None
    expiry_count: int | None
    has_sweep: bool | None
    has_floor: bool | None
    has_multileg: bool | None
    has_singleleg: bool | None
    all_opening_trades: bool | None
    extra: JsonObject


# An alert as the API describes it (`Flow Alert`): the symbol's parts are vvv's, and the item's
# `expiry`, `type` and `strike` restate the symbol (they are checked against it); `id` is the provider's.
ITEM = Item(Alert, computed=("id", "underlying", "expiry", "option_type", "strike", "extra"),
            also={"id": str | None, "expiry": date | None, "type": str | None, "strike": Decimal | None})


def alert_id(*, option_chain: str, alert_rule: str, created_at: datetime, provider_id: str | None = None) -> str:
    """The identity of an alert: the provider's id when it sent one; else a hash in which every
    spelling and offset of one instant gives one id."""
    if provider_id is not None:
        return provider_id
    return stable_id(option_chain, alert_rule, created_at.astimezone(UTC).isoformat())


def _alert(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Alert | Reject:
    fields = dict(zip(ITEM.names, values, strict=True))
    symbol = parse_option_symbol(fields["option_chain"])
    if isinstance(symbol, str):
        return Reject(raw, symbol)
    provider_id, expiry, option_type, strike = (fields.pop(name) for name in ("id", "expiry", "type", "strike"))
    reason = disagreement(symbol, ticker=fields["ticker"], expiry=expiry, option_type=option_type, strike=strike)
    if reason is not None:
        return Reject(raw, reason)
    return Alert(
        id=alert_id(option_chain=fields["option_chain"], alert_rule=fields["alert_rule"],
                    created_at=fields["created_at"], provider_id=provider_id),
        underlying=symbol.root, expiry=symbol.expiry, option_type=symbol.option_type, strike=symbol.strike,
        extra=extra, **fields,
    )


def validate(record: Alert, now: datetime) -> str | None:
    """Business rules a parsed alert must meet before it is stored."""
    return "alert_rule is empty" if not record.alert_rule.strip() else None


SPEC = Spec(name="options_flow", table="trading.options_flow_alerts", key=("id",), record=Alert,
            description="Options flow alerts (GET /api/option-trades/flow-alerts) into trading.options_flow_alerts",
            time_column="created_at", settings=Settings, cursor=SweepCursor,
            schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900))

COLLECTOR = Collector(
    spec=SPEC,
    strategy=TimeSweep(path=PATH, time_field="created_at", noun="alerts", late="alerts published late",
                       params=lambda settings: params.query(FILTERS, settings.filters)),
    item=ITEM,
    build=_alert,
    validate=validate,
)
