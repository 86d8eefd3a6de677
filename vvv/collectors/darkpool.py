"""Dark pool prints: `GET /api/darkpool/{ticker}`, one market day per request, newest first, paged by time.

Per ticker, a pass sweeps each market day it owes from the newest print down. The first
request has no `older_than`; each next one sets it one millisecond above the oldest print of
the page before, so the prints sharing that instant are read again whether the API's bounds
are inclusive or not, and the overlap costs no duplicates (identity is `tracking_id`). A page
whose prints all share one instant can only be stepped over, never read further: `warnings`
names that instant. A full page none of whose prints can be read tells nothing of where to go
on: the sweep stops there with the cursor before it, and `warnings` says so as a `Halt`.
`older_than` drops on every request, so a sweep always ends.

An incremental sweep stops at the lookback behind the newest print stored, so prints
reported late within it are caught, and so are prints restated within it: the data set is
revisable, so a print served again canceled or corrected replaces its row (the old version
goes to vvv.revisions); a print restated after it left the lookback keeps its last version. After midnight the previous market day is swept once
more before the new one starts; days missed while vvv was down are collected in order.
A sweep cut short (the page cap, a crash) is saved as the cut and the hole below it; the
next pass fills the hole first, then sweeps from the top down to the cut.

    >>> start = begin(None, "spy", datetime(2025, 10, 25, 14, 0, tzinfo=UTC), Settings())  # a Saturday
    >>> next_request(start, None, None, Settings()).params
    (('date', '2025-10-24'), ('limit', '500'))
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import attrs
from attrs import frozen

from vvv.core.calendar import NY, last_trading_day
from vvv.core.base import Page, Reject, Request, Schedule, Spec, at_least, at_most, parse_data
from vvv.core.convert import JsonObject
from vvv.core.schema import Item
from vvv.core.timepaging import TimeSweep, day_end, halt, market_day_after
from vvv.core.timepaging import bound as _bound
from vvv.core.timepaging import instant as _instant
from vvv.core.timepaging import spell as _spell

PATH = "/api/darkpool/{ticker}"
MAX_PAGE_SIZE = 500

# Letters, digits, "." and "-", starting with a letter or digit so that "." and ".." (which
# would climb the request path) are not tickers either.
_TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,9}")


def ticker_problem(value: Any) -> str | None:
    """Why `value` is not a ticker as vvv stores and requests it (upper case), or None."""
    if isinstance(value, str) and _TICKER.fullmatch(value):
        return None
    return f"{value!r} is not a ticker (1 to 10 letters, digits, '.' or '-', starting with a letter or digit)"


def normalize_ticker(value: Any) -> str:
    """`value` upper-cased, or a ValueError naming it: nothing but a ticker reaches the request path."""
    # Only ASCII is upper-cased: "ı".upper() is "I", which would let a look-alike through.
    upper = value.upper() if isinstance(value, str) and value.isascii() else None
    if ticker_problem(upper) is not None:
        raise ValueError(ticker_problem(value))
    return upper


def _watchlist(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"tickers must be a list of tickers, got {value!r}")
    if not value:
        raise ValueError("tickers must name at least one ticker")
    try:
        return tuple(dict.fromkeys(normalize_ticker(ticker) for ticker in value))
    except ValueError as error:
        raise ValueError(f"tickers: {error}") from None


@frozen
class Settings:
    """`[collectors.darkpool]` options beyond the schedule.

    `lookback_seconds`: how far behind the newest stored print each pass reads again, for
    prints reported late. `max_pages`: the most requests one pass makes for one ticker; a
    pass that reaches it continues where it stopped on the next pass.
    """

    tickers: tuple[str, ...] = attrs.field(default=("SPY", "QQQ"), converter=_watchlist)
    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    lookback_seconds: int = attrs.field(default=300, validator=[at_least(0), at_most(86_400)])
    max_pages: int = attrs.field(default=200, validator=at_least(1))


@frozen
class Cursor:
    """Where one ticker stands, saved after every page. Bounds are unix milliseconds, as the API takes them.

    `day`: the market day being collected; every earlier one is finished. `newest`: the newest
    print fetched for `day`. A sweep from the top cut short (page cap, crash) read everything
    from `cut_at` up; the prints below it down to `resume_after` (None: the day's start) are
    owed, and `resume_before` is how far down that hole has been filled. The next pass fills
    the hole first, then sweeps from the top down to `cut_at` or the lookback, whichever it
    meets first.
    `target`: the newest market day, set by `begin` from the clock for the pass at hand.
    """

    ticker: str = ""
    day: date | None = None
    newest: datetime | None = None
    resume_before: int | None = None
    resume_after: int | None = None
    cut_at: int | None = None
    target: date | None = None


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


ITEM = Item(Trade, lenient=("trf_executed_at", "created_at"))

SPEC = Spec(
    name="darkpool",
    description="Dark pool prints (GET /api/darkpool/{ticker}) into trading.darkpool_trades",
    table="trading.darkpool_trades",
    key=("tracking_id",),
    record=Trade,
    time_column="executed_at",
    schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900),
    settings=Settings,
    cursor=Cursor,
    revisable=True,
)


def parse(payload: Any) -> tuple[list[Trade], list[Reject]]:
    """Typed prints from one response; anything unreadable becomes a reject, never an exception."""
    return parse_data(payload, ITEM, lambda raw, values, extra: Trade(*values, extra))


def validate(record: Trade, now: datetime) -> str | None:
    """Business rules a parsed print must meet before it is stored."""
    if record.tracking_id == 0:  # seen in published samples: stored, every such print would be one row
        return "tracking_id 0 is not an identity: prints without a tracking id cannot be told apart"
    if record.price <= 0:
        return f"price {record.price} is not positive"
    if record.size <= 0:
        return f"size {record.size} is not positive"
    return ticker_problem(record.ticker)


def scopes(settings: Settings) -> tuple[str, ...]:
    """One cursor per ticker in the watchlist."""
    return settings.tickers


def begin(cursor: Cursor | None, scope: str, now: datetime, settings: Settings) -> Cursor:
    """The cursor a pass for `scope` starts from: it collects from the saved day up to the last market day.

    A ticker that never ran starts with the whole last market day; on a weekend or holiday that
    is the trading day before.
    """
    if now.utcoffset() is None:
        raise ValueError(f"begin needs an aware datetime, got naive {now.isoformat()}")
    ticker = normalize_ticker(scope)
    target = last_trading_day(now.astimezone(NY).date())
    if cursor is None or cursor.day is None:
        return Cursor(ticker=ticker, day=target, target=target)
    if cursor.ticker not in ("", ticker):
        raise ValueError(f"the cursor of {cursor.ticker} was given for {ticker}")
    return attrs.evolve(cursor, ticker=ticker, target=target)


_Segment = Literal["hole", "top", "day"]


def next_request(cursor: Cursor, previous: Request | None, page: Page | None, settings: Settings) -> Request | None:
    """The next request of the pass that started from `cursor` (from `begin`), or None when it is done."""
    _require_begun(cursor)
    sweep = _sweep(settings, cursor.ticker)
    if previous is None or page is None:
        return _opening(cursor, cursor.day, sweep, number=1)
    onward = sweep.onward(cursor, previous, page, top_sweep=_segment(cursor, previous) == "top")
    if onward is None:  # the page cap, or an unreadable page: stop there, read on from it next pass
        return None
    number, step = onward
    if step.bound is not None:
        return _request(sweep, _day_of(previous), number=number, newer_than=_bound(previous, "newer_than"),
                        older_than=step.bound)
    if _segment(cursor, previous) == "hole":
        return _top(cursor, sweep, number=number)
    following = market_day_after(_day_of(previous), cursor.target)
    return None if following is None else _opening(cursor, following, sweep, number=number)


def advance(cursor: Cursor, saved: Cursor, page: Page, settings: Settings) -> Cursor:
    """The cursor to save once `page` is stored: `cursor` is where the pass started (from `begin`),
    `saved` the cursor saved after the page before (`cursor` for the first page). Safe after any
    prefix of a pass; the newest print of a day is carried in `saved`, so no page is read twice.
    An unreadable page moves nothing: what lies below it stays owed."""
    sweep, segment = _sweep(settings, cursor.ticker), _segment(cursor, page.request)
    step = sweep.step(cursor, page.request, page, top_sweep=segment == "top")
    if step.blind:  # below a page with `older_than`, `saved` owes it already
        return saved if _bound(page.request, "older_than") is not None else _owed_from_top(cursor, saved, page.request)
    day = _day_of(page.request)
    newest = sweep.newest(page, saved.newest if day == saved.day else None)
    at = Cursor(ticker=cursor.ticker, day=day, newest=newest, target=cursor.target)
    moved = sweep.moved(cursor, at, page, step, in_hole=segment == "hole")
    if moved is not None:
        return _reading_the_owed_top(saved, page.request, moved, step) if segment == "hole" else moved
    following = market_day_after(day, cursor.target)
    return at if following is None else Cursor(ticker=cursor.ticker, day=following, target=cursor.target)


def _reading_the_owed_top(saved: Cursor, request: Request, moved: Cursor, step: Any) -> Cursor:
    """Inside the hole, the cut carried from the page before; on the day's top, owed since an
    unreadable page stood there, the cut of a sweep from the top cut short, so the prints published
    above it before the hole is filled are read by the next top sweep."""
    day = _day_of(request)
    cut = saved.cut_at if saved.day == day else moved.cut_at
    if (_bound(request, "older_than") or 0) >= day_end(day):
        cut = step.bound
    return attrs.evolve(moved, cut_at=cut)


def _owed_from_top(cursor: Cursor, saved: Cursor, request: Request) -> Cursor:
    """A cursor owing all of `request`'s day from its top down to the request's `newer_than`: a hole
    whose top is the day's end, so the day is not taken as finished (a backfill would skip it)."""
    day, top = _day_of(request), day_end(_day_of(request))
    return Cursor(ticker=cursor.ticker, day=day, newest=saved.newest if saved.day == day else None,
                  resume_before=top, resume_after=_bound(request, "newer_than"), cut_at=top, target=cursor.target)


def finished(cursor: Cursor | None) -> bool:
    """Has a sweep read its day completely (nothing owed below a cut)? Backfill skips such days."""
    return cursor is not None and cursor.day is not None and cursor.resume_before is None and cursor.cut_at is None


def warnings(cursor: Cursor, page: Page | None, settings: Settings) -> list[str]:
    """Possible gaps of the pass that started from `cursor`, for the run's log and status: with
    `page` None those its starting cursor reveals, else those `page` reveals."""
    sweep = _sweep(settings, cursor.ticker)
    if page is None:
        return sweep.unread_lookback(cursor, what=f"{cursor.ticker}: prints of {cursor.day} reported late")
    step = sweep.step(cursor, page.request, page, top_sweep=_segment(cursor, page.request) == "top")
    day, who = _day_of(page.request).isoformat(), f"{cursor.ticker}: "
    found = sweep.gap_warning(page, step, noun="prints", who=who, when=f" ({day})")
    if step.blind:
        before = _bound(page.request, "older_than")
        top = before is None or before >= day_end(_day_of(page.request))
        where = "" if top else f" older than {_spell(_instant(before))}"
        found.append(halt(page, noun="prints", who=who, when=f" for {day}", where=where))
    return found


def _require_begun(cursor: Cursor) -> None:
    if not cursor.ticker or cursor.day is None or cursor.target is None:
        raise ValueError("darkpool.next_request needs the cursor returned by darkpool.begin")


def _sweep(settings: Settings, ticker: str) -> TimeSweep:
    """One ticker's sweep, newest first by `executed_at`, within one market day per request."""
    return TimeSweep(path=PATH.format(ticker=ticker), time_field="executed_at", page_size=settings.page_size,
                     lookback_seconds=settings.lookback_seconds, max_pages=settings.max_pages)


def _opening(cursor: Cursor, day: date, sweep: TimeSweep, *, number: int) -> Request:
    """The first request for `day`: the hole a cut-short pass left, else the newest prints."""
    if day == cursor.day and cursor.resume_before is not None:
        return _request(sweep, day, number=number, newer_than=cursor.resume_after, older_than=cursor.resume_before)
    if day == cursor.day:
        return _top(cursor, sweep, number=number)
    return _request(sweep, day, number=number)


def _top(cursor: Cursor, sweep: TimeSweep, *, number: int) -> Request:
    """From the newest print of `cursor.day` down to the lookback behind the newest one stored; `newer_than`
    is one below the floor, so either reading includes it."""
    floor = None if cursor.newest is None else sweep.floor(cursor) - 1
    return _request(sweep, cursor.day, number=number, newer_than=floor)


def _request(sweep: TimeSweep, day: date, *, number: int, newer_than: int | None = None,
             older_than: int | None = None) -> Request:
    return sweep.request(number=number, newer_than=newer_than, older_than=older_than,
                         lead=(("date", day.isoformat()),))


def _segment(cursor: Cursor, request: Request) -> _Segment:
    """Which sweep a request belongs to: the hole's requests are the only ones bounded at or below its top.

    A later market day is swept whole ("day"); on `cursor.day` a top sweep never goes below `cut_at`,
    which is at or above the hole's top.
    """
    if _day_of(request) != cursor.day:
        return "day"
    older_than = _bound(request, "older_than")
    hole = cursor.resume_before
    return "hole" if hole is not None and older_than is not None and older_than <= hole else "top"


def _day_of(request: Request) -> date:
    return date.fromisoformat(request.param("date") or "")
