"""Options flow alerts: `GET /api/option-trades/flow-alerts`, newest first, paged by time, one cursor.

Live alerts carry the provider's own `id` (a UUID), and that is their identity: two alerts
of one rule on one contract at one instant are two alerts. An alert without one (the
description documents none) is identified by a stable hash of what makes it one alert:
the contract (`option_chain`), the rule that fired (`alert_rule`) and the instant it fired
(`created_at`, to the microsecond, in UTC whatever its spelling). Everything else on an alert
(premiums, sizes, volume, open interest, prices) measures it and may be restated; putting a
measurement in the identity would turn a restated alert into a second row. The data set is
insert-only: an alert served again is a duplicate.

Paging follows the dark pool collector without its market days: the first request has no
`older_than`, each next one sets it one millisecond above the oldest alert of the page before,
so alerts sharing that instant are read again under either reading of the bounds and the
overlap costs no duplicates. `older_than` drops on every request, so a sweep always ends; a
page whose alerts all share one instant can only be stepped over, and `warnings` names it.
A first pass reads back `first_run_hours`; later passes read down to `lookback_seconds`
behind the newest alert stored, for alerts published late. A sweep cut short by the page
cap is saved as the cut and the hole below it; the next pass fills the hole first.

The API's own filters (`[collectors.options_flow.filters]`) go into every request:

    >>> settings = Settings(filters={"min_premium": 50000, "rule_name": ["RepeatedHits"]})
    >>> start = begin(None, "", datetime(2025, 10, 22, 15, 0, tzinfo=UTC), settings)
    >>> next_request(start, None, None, settings).params
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
from vvv.core.base import Page, Reject, Request, Schedule, Spec, at_least, at_most, parse_data, stable_id
from vvv.core.convert import JsonObject
from vvv.core.params import Param, min_max
from vvv.core.schema import Item
from vvv.core.timepaging import TimeSweep, halt, window_bounds
from vvv.core.timepaging import bound as _bound
from vvv.core.timepaging import instant as _instant
from vvv.core.timepaging import ms as _ms
from vvv.core.timepaging import spell as _spell

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
class Cursor:
    """Where the collector stands, saved after every page. Bounds are unix milliseconds, as the API takes them.

    `newest`: the newest alert stored. A sweep from the top cut short read everything from
    `cut_at` up; the alerts below it down to `resume_after` are owed, and `resume_before` is how
    far down that hole has been filled. `since`: the bottom of a first pass, set by `begin`.
    """

    newest: datetime | None = None
    resume_before: int | None = None
    resume_after: int | None = None
    cut_at: int | None = None
    since: int | None = None
    window_end: int | None = None  # a backfill's window: its passes fill the hole and never sweep from the top


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

SPEC = Spec(
    name="options_flow",
    description="Options flow alerts (GET /api/option-trades/flow-alerts) into trading.options_flow_alerts",
    table="trading.options_flow_alerts",
    key=("id",),
    record=Alert,
    time_column="created_at",
    schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900),
    settings=Settings,
    cursor=Cursor,
)


def alert_id(*, option_chain: str, alert_rule: str, created_at: datetime, provider_id: str | None = None) -> str:
    """The identity of an alert: the provider's id when it sent one; else a hash in which every
    spelling and offset of one instant gives one id."""
    if provider_id is not None:
        return provider_id
    return stable_id(option_chain, alert_rule, created_at.astimezone(UTC).isoformat())


def parse(payload: Any) -> tuple[list[Alert], list[Reject]]:
    """Typed alerts from one response; anything unreadable becomes a reject, never an exception."""
    return parse_data(payload, ITEM, _alert)


def _alert(raw: Any, values: tuple[Any, ...], extra: dict[str, Any]) -> Alert | Reject:
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


def window(start: datetime, end: datetime) -> Cursor:
    """A backfill of the alerts created in [start, end]: one hole to fill, nothing above it."""
    return Cursor(**window_bounds(start, end), since=_ms(start), window_end=_ms(end))


def finished(cursor: Cursor | None) -> bool:
    """Has a backfill window been read completely?"""
    return cursor is not None and cursor.window_end is not None and cursor.resume_before is None


def begin(cursor: Cursor | None, scope: str, now: datetime, settings: Settings) -> Cursor:
    """The cursor a pass starts from; a collector that never stored an alert reads back `first_run_hours`."""
    if now.utcoffset() is None:
        raise ValueError(f"begin needs an aware datetime, got naive {now.isoformat()}")
    if cursor is not None and cursor.window_end is not None:
        return cursor
    return attrs.evolve(cursor or Cursor(), since=_ms(now) - settings.first_run_hours * 3_600_000)


def next_request(cursor: Cursor, previous: Request | None, page: Page | None, settings: Settings) -> Request | None:
    """The next request of the pass that started from `cursor` (from `begin`), or None when it is done."""
    if cursor.since is None:
        raise ValueError("options_flow.next_request needs the cursor returned by options_flow.begin")
    if cursor.window_end is not None and cursor.resume_before is None:
        return None  # the backfill window is complete
    sweep = _sweep(settings)
    if previous is None or page is None:
        return _opening(cursor, sweep, settings)
    onward = sweep.onward(cursor, previous, page)
    if onward is None:  # the page cap, or an unreadable page: stop there, read on from it next pass
        return None
    number, step = onward
    if step.bound is not None:
        return _request(sweep, settings, number=number, newer_than=_bound(previous, "newer_than"),
                        older_than=step.bound)
    in_hole = sweep.in_hole(cursor, previous)
    return _top(cursor, sweep, settings, number=number) if in_hole and cursor.window_end is None else None


def advance(cursor: Cursor, saved: Cursor, page: Page, settings: Settings) -> Cursor:
    """The cursor to save once `page` is stored: `cursor` is where the pass started (from `begin`),
    `saved` the cursor saved after the page before (`cursor` for the first page); safe after any prefix.
    An unreadable page moves nothing: `saved` owes what lies below it already (a top sweep's first
    page is read again from the top)."""
    sweep = _sweep(settings)
    step = sweep.step(cursor, page.request, page)
    if step.blind:
        return saved
    at = Cursor(newest=sweep.newest(page, saved.newest), window_end=cursor.window_end)
    moved = sweep.moved(cursor, at, page, step, in_hole=sweep.in_hole(cursor, page.request))
    return at if moved is None else moved


def warnings(cursor: Cursor, page: Page | None, settings: Settings) -> list[str]:
    """Possible gaps of the pass that started from `cursor`, for the run's log and status: with
    `page` None those its starting cursor reveals, else those `page` reveals."""
    sweep = _sweep(settings)
    if page is None:
        return sweep.unread_lookback(cursor, what="alerts published late")
    step = sweep.step(cursor, page.request, page)
    found = sweep.gap_warning(page, step, noun="alerts")
    if step.blind:
        before = _bound(page.request, "older_than")
        where = "" if before is None else f" older than {_spell(_instant(before))}"
        found.append(halt(page, noun="alerts", where=where))
    return found


def _sweep(settings: Settings) -> TimeSweep:
    """One sweep over all alerts, newest first by `created_at`."""
    return TimeSweep(path=PATH, time_field="created_at", page_size=settings.page_size,
                     lookback_seconds=settings.lookback_seconds, max_pages=settings.max_pages)


def _opening(cursor: Cursor, sweep: TimeSweep, settings: Settings) -> Request:
    """The hole a cut-short pass left, else the newest alerts."""
    if cursor.resume_before is not None:
        return _request(sweep, settings, number=1, newer_than=cursor.resume_after, older_than=cursor.resume_before)
    return _top(cursor, sweep, settings, number=1)


def _top(cursor: Cursor, sweep: TimeSweep, settings: Settings, *, number: int) -> Request:
    """From the newest alert down to the lookback behind the newest stored (a first pass: `since`).

    `newer_than` is one below the floor, so either reading of the bound includes the floor itself.
    """
    assert cursor.since is not None
    floor = cursor.since if cursor.newest is None else sweep.floor(cursor)
    return _request(sweep, settings, number=number, newer_than=floor - 1)


def _request(sweep: TimeSweep, settings: Settings, *, number: int, newer_than: int | None = None,
             older_than: int | None = None) -> Request:
    return sweep.request(number=number, newer_than=newer_than, older_than=older_than,
                         tail=params.query(FILTERS, settings.filters))
