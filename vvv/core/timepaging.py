"""The arithmetic of paging by time, newest first, with `older_than` / `newer_than` in unix
milliseconds (the `TimeSweep` strategy of `vvv.core.paging`): how to step below a full page under
either reading of the bounds, and how vvv spells the instants it reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from attrs import frozen

from vvv.core.base import HALT_MARK, Halt, Request
from vvv.core.calendar import NY, is_trading_day

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@frozen
class Step:
    """What one page says about the sweep: the next `older_than` (None: this sweep is over),
    the instant some of whose prints may be out of reach, and whether the page was unreadable:
    a full page without one readable item tells nothing of where to go on, so the sweep stops
    there (the collector keeps its cursor before the page) instead of taking it as the bottom."""

    bound: int | None
    gap: datetime | None = None
    blind: bool = False


def step_below(bound: int | None, times: Sequence[datetime]) -> tuple[int, datetime | None]:
    """The next `older_than` after a full page, always below `bound`, and the instant it may cut off.

    `m` is the page's oldest millisecond. `m + 1` reads m's prints again under either reading
    of the bound. A page all within m (or, under the inclusive reading, within m and m + 1) is
    stepped over with `m`: below m under the exclusive reading; under the inclusive one m is
    read again, and a page still all at m is then stepped over with `m - 1`.
    """
    oldest, newest = min(times), max(times)
    m = ms(oldest)
    if bound is not None and m >= bound:  # only the inclusive reading serves prints at the bound itself
        return bound - 1, oldest
    one_millisecond = m == ms(newest)
    if one_millisecond or (bound is not None and m + 1 >= bound):
        # The inclusive reading of `m` misses prints later within that millisecond than its start.
        sub_millisecond = oldest.microsecond % 1000 != 0
        return m, oldest if one_millisecond or sub_millisecond else None
    return m + 1, None


def bound(request: Request, name: str) -> int | None:
    value = request.param(name)
    return None if value is None else int(value)


def ms(moment: datetime) -> int:
    """Unix milliseconds, rounded down: the API's bounds take whole milliseconds."""
    return (moment - _EPOCH) // _MS


def instant(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def spell(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    precision = "seconds" if not moment.microsecond else "milliseconds" if not moment.microsecond % 1000 else "auto"
    return moment.replace(tzinfo=None).isoformat(timespec=precision) + "Z"


def continuation(
    request: Request, page: Any, *, times: Sequence[datetime], page_size: int, cut_at: int | None, top_sweep: bool
) -> Step:
    """Where a sweep goes after `page` (whose records were stamped `times`): a short page has
    reached the bottom of its window; a top sweep after a cut ends at the cut, since everything
    below it has been read since."""
    if page.received < int(request.param("limit") or page_size):
        return Step(None)
    if not times:
        return Step(None, blind=True)
    below, gap = step_below(bound(request, "older_than"), times)
    floor = bound(request, "newer_than")
    if floor is not None and below < floor:
        return Step(None, gap)
    if cut_at is not None and below <= cut_at and top_sweep:
        return Step(None, gap)
    return Step(below, gap)


def unreadable_why(reason: str, limit: int = 160) -> str:
    """A reject's reason told field first (`executed_at: Invalid isoformat string: '...'`), shortened:
    what a stuck sweep's error shows of the items it could not read."""
    parts = []
    for part in reason.split("; "):
        message, at, path = part.rpartition(" @ ")
        field = path.removeprefix("item").lstrip(".") if at else ""
        parts.append(f"{field}: {message}" if field else part)
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def halt(page: Any, *, noun: str, who: str = "", when: str = "", where: str = "") -> Halt:
    """What a stuck sweep reports of a full page it could not read: the pass stops there."""
    why = "" if page.rejected is None else f" ({unreadable_why(page.rejected)})"
    return Halt(f"{who}a full page of {page.received} {noun}{when}{where} could not be read{why}; {HALT_MARK}")


def day_end(day: date) -> int:
    """The unix millisecond at which `day` ends in New York: nothing timed on that day is at or above it."""
    return ms(datetime.combine(day + timedelta(days=1), time(0), tzinfo=NY))


def market_day_after(day: date, last: date | None) -> date | None:
    """The market day after `day`, when it is not later than `last` (a sweep partitioned by market day)."""
    following = day + timedelta(days=1)
    while not is_trading_day(following):
        following += timedelta(days=1)
    return following if last is not None and following <= last else None


def window_bounds(start: datetime, end: datetime) -> dict[str, int]:
    """A backfill of the records timed in [start, end]: one hole to fill, nothing above it."""
    return {"resume_before": ms(end) + 1, "resume_after": ms(start) - 1}
