"""Paging by time, newest first, shared by the collectors whose API filters by `older_than` /
`newer_than` in unix milliseconds (dark pool, options flow): how to step below a full page
under either reading of the bounds, and how vvv spells the instants it reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import HALT_MARK, Halt, Request
from vvv.core.calendar import NY, is_trading_day

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@frozen
class Numbered(Request):
    """A request that knows its place in the pass, for the page cap; the API sees only path and params."""

    number: int = attrs.field(default=1, eq=False)


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


@frozen
class TimeSweep:
    """The newest-first time sweep as a declaration: a collector names its time field and limits,
    keeps its own cursor type (an attrs class with `newest`, `resume_before`, `resume_after` and
    `cut_at`), and the sweep says where to go next, how the cursor moves and what may be missed.

    A sweep from the top reads down to the lookback behind the newest record stored; one cut
    short (the page cap, a crash) is saved as the cut and the hole below it, which the next
    pass fills first. Requests are `Numbered`, for the page cap.
    """

    path: str
    time_field: str
    page_size: int
    lookback_seconds: int
    max_pages: int

    def request(self, *, number: int, newer_than: int | None = None, older_than: int | None = None,
                lead: Sequence[tuple[str, Any]] = (), tail: Sequence[tuple[str, Any]] = ()) -> Numbered:
        """A page request: `lead`, the limit and the bounds, then `tail` (filters), in that order."""
        bounds = [(name, str(value)) for name, value in (("newer_than", newer_than), ("older_than", older_than))
                  if value is not None]
        return Numbered(self.path, (*lead, ("limit", str(self.page_size)), *bounds, *tail), number=number)

    def in_hole(self, cursor: Any, request: Request) -> bool:
        """The hole's requests are the only ones bounded at or below its top; a top sweep stops at `cut_at`."""
        older_than = bound(request, "older_than")
        return cursor.resume_before is not None and older_than is not None and older_than <= cursor.resume_before

    def step(self, cursor: Any, request: Request, page: Any, *, top_sweep: bool | None = None) -> Step:
        """Where the sweep goes after `page` (see `continuation`)."""
        top = not self.in_hole(cursor, request) if top_sweep is None else top_sweep
        return continuation(request, page, times=[getattr(r, self.time_field) for r in (*page.records, *page.refused)],
                            page_size=self.page_size, cut_at=cursor.cut_at, top_sweep=top)

    def onward(self, cursor: Any, previous: Request, page: Any, *, top_sweep: bool | None = None
               ) -> tuple[int, Step] | None:
        """The next request's number and the step after `page`, or None: the pass stops here (the
        page cap, or an unreadable page, which tells nothing of where below it the records go on)."""
        number = getattr(previous, "number", 1) + 1
        if number > self.max_pages:
            return None
        step = self.step(cursor, previous, page, top_sweep=top_sweep)
        return None if step.blind else (number, step)

    def newest(self, page: Any, carried: datetime | None) -> datetime | None:
        """The newest record time known after `page`, given the one `carried` from the pages before."""
        seen = [getattr(r, self.time_field) for r in page.records]
        if carried is not None:
            seen.append(carried)
        return max(seen, default=None)

    def moved(self, cursor: Any, at: Any, page: Any, step: Step, *, in_hole: bool) -> Any | None:
        """`at` (the cursor after `page`, with its newest time) carrying what is still owed: inside the
        hole, how far down it is filled; after a top sweep cut short, the cut and the hole below it.
        None: a top sweep that reached its floor, which the collector finishes its own way."""
        if in_hole:
            return attrs.evolve(at, resume_before=step.bound,
                                resume_after=None if step.bound is None else cursor.resume_after, cut_at=cursor.cut_at)
        if step.bound is not None:
            return attrs.evolve(at, resume_before=step.bound, resume_after=bound(page.request, "newer_than"),
                                cut_at=step.bound)
        return None

    def floor(self, cursor: Any) -> int:
        """The oldest millisecond a top sweep reads again, the lookback behind the newest record stored."""
        return ms(cursor.newest) - self.lookback_seconds * 1000

    def gap_warning(self, page: Any, step: Step, *, noun: str, who: str = "", when: str = "") -> list[str]:
        if step.gap is None:
            return []
        return [f"{who}at least {page.received} {noun} share {spell(step.gap)}{when}, a whole page;"
                " the API pages by time only, so some of them may be unreachable"]

    def unread_lookback(self, cursor: Any, *, what: str) -> list[str]:
        """A sweep cut short inside the lookback leaves a band this pass will not read again.

        Passes fill the hole below the cut, then sweep from the top down to the cut: records
        reported late into the band between the lookback and the cut, after the hole passed them,
        are missed. This happens only when the lookback holds more than `max_pages` pages (or
        after a crash). `what` says what may be missed ("prints of 2025-10-24 reported late").
        """
        if cursor.cut_at is None or cursor.newest is None:
            return []
        low = self.floor(cursor)
        if cursor.resume_before is not None:
            low = max(low, cursor.resume_before)
        if cursor.cut_at <= low:
            return []
        return [
            f"{what} between {spell(instant(low))} and {spell(instant(cursor.cut_at))} may be missed: a pass was"
            f" cut short inside the lookback window; raise max_pages ({self.max_pages}) or lower lookback_seconds"
            f" ({self.lookback_seconds})"
        ]


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
