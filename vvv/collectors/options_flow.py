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

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Column, Reject, Schedule, Spec, at_least, at_most, record_row, stable_id
from vvv.core.base import structure_item, unstorable_text
from vvv.core.convert import JsonObject
from vvv.core.paging import SweepCursor, TimeSweep
from vvv.core.timepaging import fits_numeric as _fits_numeric

PATH = "/api/option-trades/flow-alerts"
MAX_PAGE_SIZE = 200
FUTURE_SKEW = timedelta(minutes=5)
_BIGINT = range(-(2**63), 2**63)

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
_TICKER_LIST = re.compile(r"-?[A-Za-z0-9][A-Za-z0-9.\-]{0,9}(,[A-Za-z0-9][A-Za-z0-9.\-]{0,9})*")


@frozen
class _Filter:
    """One documented query filter: its kind and bounds. `number` accepts integers and decimals."""

    kind: str  # "integer", "number", "boolean", "tickers" or "choices"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


def _pair(kind: str, low: float | None = None, high: float | None = None, *,
          names: tuple[str, ...]) -> dict[str, _Filter]:
    return {f"{edge}_{name}": _Filter(kind, low, high) for name in names for edge in ("min", "max")}


# Every filter `GET /api/option-trades/flow-alerts` documents, by its TOML name (arrays without
# the `[]` the query adds). Where the description contradicts itself, the example wins:
# `min_premium` is typed integer with the example 12500.5, the volume/OI ratios integer with
# 0.32 and 1.58, `min_diff` string with 0.53 and a negative diff in its text: those take numbers.
FILTERS: dict[str, _Filter] = {
    "ticker_symbol": _Filter("tickers"),
    **_pair("number", 0, names=("premium",)),
    **_pair("integer", 0, names=("size", "volume", "open_interest", "dte", "marketcap")),
    **_pair("number", 0, names=("volume_oi_ratio", "price", "size_vol_ratio", "spread")),
    **_pair("number", 0, 1, names=("ask_perc", "bid_perc", "bull_perc", "bear_perc", "skew")),
    **_pair("number", names=("diff", "iv_change")),
    **{name: _Filter("boolean") for name in (
        "all_opening", "is_floor", "is_sweep", "is_call", "is_put", "is_ask_side", "is_bid_side", "is_otm",
        "is_multi_leg", "size_greater_oi", "vol_greater_oi",
    )},
    "rule_name": _Filter("choices", choices=RULE_NAMES),
    "issue_types": _Filter("choices", choices=ISSUE_TYPES),
}
_RESERVED = ("newer_than", "older_than", "limit")


def _filters(value: Any) -> dict[str, Any]:
    """The filters checked against the API's description; a ValueError or TypeError names the key."""
    if not isinstance(value, Mapping):
        raise TypeError(f"filters must be a table of API filters, got {value!r}")
    return {name: _checked_filter(name, given) for name, given in value.items()}


def _checked_filter(name: Any, value: Any) -> Any:
    where = f"filters.{name}"
    if name in _RESERVED:
        raise ValueError(f"{where}: vvv sets {name} itself while paging; it is not a filter")
    if not isinstance(name, str) or name.removesuffix("[]") not in FILTERS:
        hint = f"; write {name.removesuffix('[]')}" if isinstance(name, str) and name.endswith("[]") else ""
        raise ValueError(f"{where}: unknown filter{hint} (known: {', '.join(FILTERS)})")
    if name.endswith("[]"):
        raise ValueError(f"{where}: write {name.removesuffix('[]')} = [...]; vvv adds the [] to the query")
    spec = FILTERS[name]
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"{where}: expected true or false, got {value!r}")
        return value
    if spec.kind == "tickers":
        if not isinstance(value, str) or not _TICKER_LIST.fullmatch(value):
            raise TypeError(f"{where}: expected tickers separated by commas (\"-\" before the first excludes),"
                            f" e.g. \"AAPL,INTC\"; got {value!r}")
        return value.upper()
    if spec.kind == "choices":
        return _checked_choices(where, spec, value)
    return _checked_number(where, spec, value)


def _checked_choices(where: str, spec: _Filter, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise TypeError(f"{where}: expected a list of one or more of {', '.join(spec.choices)}; got {value!r}")
    unknown = [item for item in value if item not in spec.choices]
    if unknown:
        raise ValueError(f"{where}: {unknown[0]!r} is not one of {', '.join(spec.choices)}")
    return tuple(dict.fromkeys(value))


def _checked_number(where: str, spec: _Filter, value: Any) -> int | float:
    allowed = int if spec.kind == "integer" else int | float
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise TypeError(f"{where}: expected {'an integer' if spec.kind == 'integer' else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    if spec.low is not None and value < spec.low:
        raise ValueError(f"{where}: must be at least {spec.low:g}, got {value!r}")
    if spec.high is not None and value > spec.high:
        raise ValueError(f"{where}: must be at most {spec.high:g}, got {value!r}")
    return value


def filter_params(filters: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The query parameters for checked filters, in a stable order.

    An array filter is one parameter whose value is a tuple of strings: the client hands the
    params to httpx as a dict, which sends a tuple as the repeated `rule_name[]=...` the API takes.
    """
    params: list[tuple[str, Any]] = []
    for name in sorted(filters, key=list(FILTERS).index):
        value = filters[name]
        if isinstance(value, tuple):
            params.append((f"{name}[]", value))
        elif isinstance(value, bool):
            params.append((name, "true" if value else "false"))
        elif isinstance(value, float):
            params.append((name, format(Decimal(repr(value)), "f")))
        else:
            params.append((name, str(value)))
    return tuple(params)


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
class _Item:
    """An alert as the API describes it (`Flow Alert`): identity fields required, the rest may be null.

    `ticker`, `expiry`, `type` and `strike` restate the option symbol; they are checked against it.
    """

    created_at: datetime
    option_chain: str
    alert_rule: str
    id: str | None = None  # the provider's own id (a UUID), on live alerts
    rule_id: str | None = None  # the provider's id of the rule that fired
    ticker: str | None = None
    expiry: date | None = None
    type: str | None = None
    strike: Decimal | None = None
    issue_type: str | None = None
    price: Decimal | None = None
    underlying_price: Decimal | None = None
    total_premium: Decimal | None = None
    total_ask_side_prem: Decimal | None = None
    total_bid_side_prem: Decimal | None = None
    total_size: int | None = None
    trade_count: int | None = None
    volume: int | None = None
    open_interest: int | None = None
    volume_oi_ratio: Decimal | None = None
    expiry_count: int | None = None
    has_sweep: bool | None = None
    has_floor: bool | None = None
    has_multileg: bool | None = None
    has_singleleg: bool | None = None
    all_opening_trades: bool | None = None


_DOCUMENTED = frozenset(a.name for a in attrs.fields(_Item))


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
    """One stored alert; field order is the column order of `trading.options_flow_alerts`."""

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


_NUMERIC_FIELDS = ("strike", "price", "underlying_price", "total_premium", "total_ask_side_prem",
                   "total_bid_side_prem", "volume_oi_ratio")
_BIGINT_FIELDS = ("total_size", "trade_count", "volume", "open_interest", "expiry_count")
_TYPES = {datetime: "timestamp with time zone", date: "date", Decimal: "numeric", int: "bigint", bool: "boolean",
          str: "text"}


def _column(field: attrs.Attribute) -> Column:
    if field.name == "extra":
        return Column("extra", "jsonb")
    base = next(t for t in _TYPES if field.type in (t.__name__, f"{t.__name__} | None"))
    return Column(field.name, _TYPES[base])


SPEC = Spec(
    name="options_flow",
    description="Options flow alerts (GET /api/option-trades/flow-alerts) into trading.options_flow_alerts",
    table="trading.options_flow_alerts",
    key=("id",),
    columns=tuple(_column(field) for field in attrs.fields(Alert)),
    time_column="created_at",
    schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900),
    settings=Settings,
    cursor=SweepCursor,
)


def alert_id(*, option_chain: str, alert_rule: str, created_at: datetime, provider_id: str | None = None) -> str:
    """The identity of an alert: the provider's id when it sent one; else a hash in which every
    spelling and offset of one instant gives one id."""
    if provider_id is not None:
        return provider_id
    return stable_id(option_chain, alert_rule, created_at.astimezone(UTC).isoformat())


def _parse_item(raw: Any) -> Alert | Reject:
    parsed = structure_item(raw, _Item, _DOCUMENTED)
    if isinstance(parsed, Reject):
        return parsed
    item, extra = parsed
    symbol = parse_option_symbol(item.option_chain)
    if isinstance(symbol, str):
        return Reject(raw, symbol)
    reason = disagreement(symbol, ticker=item.ticker, expiry=item.expiry, option_type=item.type, strike=item.strike)
    if reason is not None:
        return Reject(raw, reason)
    fields = attrs.asdict(item, recurse=False)
    for restated in ("expiry", "type", "strike", "id"):
        del fields[restated]
    return Alert(
        id=alert_id(option_chain=item.option_chain, alert_rule=item.alert_rule, created_at=item.created_at,
                    provider_id=item.id),
        underlying=symbol.root, expiry=symbol.expiry, option_type=symbol.option_type, strike=symbol.strike,
        extra=extra, **fields,
    )


def validate(record: Alert, now: datetime) -> str | None:
    """Business rules a parsed alert must meet before it is stored."""
    if record.created_at > now + FUTURE_SKEW:
        return f"created_at {record.created_at.isoformat()} is in the future"
    if not record.alert_rule.strip():
        return "alert_rule is empty"
    for name in _BIGINT_FIELDS:
        if (value := getattr(record, name)) is not None and value not in _BIGINT:
            return f"{name} {value} does not fit a bigint"
    for name in _NUMERIC_FIELDS:
        if (value := getattr(record, name)) is not None and not _fits_numeric(value):
            return f"{name} {value} is beyond what a NUMERIC column holds"
    return unstorable_text(record_row(record))


COLLECTOR = Collector(
    spec=SPEC,
    strategy=TimeSweep(path=PATH, time_field="created_at", noun="alerts", late="alerts published late",
                       params=lambda settings: filter_params(settings.filters)),
    parse_item=_parse_item,
    validate=validate,
)
