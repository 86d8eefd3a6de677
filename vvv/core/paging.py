"""The named paging strategies: how a collector walks its endpoint, as a declaration.

Each strategy is a frozen value that a collector declares once (`TimeSweep`, `PageNumber`,
`Single`, `PerDate`, `DaySeries`); its parameters that an operator tunes (`page_size`, `max_pages`,
`lookback_seconds`, ...) are read from the collector's settings by those names. Every method is
pure and takes the partition at hand (a ticker, an endpoint variant; "" when the collector has
none), so a cursor holds only positions, one cursor per partition. The runner calls, per pass
and partition: `begin` once, then `next_request` / `advance` / `warnings` after every page
(see `vvv.core.base` for the fold), and backfill calls `window` and `finished`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import attrs
from attrs import frozen

from vvv.core.base import HALT_MARK, Halt, Page, Request
from vvv.core.calendar import (
    NY,
    is_trading_day,
    last_trading_day,
    next_trading_day,
    previous_trading_day,
    session,
)
from vvv.core.partitions import fill
from vvv.core.timepaging import (
    Step,
    bound,
    continuation,
    day_end,
    halt,
    instant,
    market_day_after,
    ms,
    spell,
    window_bounds,
)


def _aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError(f"begin needs an aware datetime, got naive {now.isoformat()}")


def _no_params(settings: Any) -> tuple[tuple[str, Any], ...]:
    return ()


@frozen
class Numbered(Request):
    """A request that knows its place in the pass, for the page cap; the API sees only path and params."""

    number: int = attrs.field(default=1, eq=False)


@frozen
class SweepCursor:
    """Where a time sweep stands, saved after every page. Bounds are unix milliseconds, as the API takes them.

    `newest`: the newest record stored (of `day`, when swept by market day). A sweep from the top
    cut short (page cap, crash) read everything from `cut_at` up; the records below it down to
    `resume_after` (None: the day's start) are owed, and `resume_before` is how far down that
    hole has been filled. The next pass fills the hole first, then sweeps from the top down to
    `cut_at` or the lookback, whichever it meets first.
    By market day, `day` is the day being collected (every earlier one is finished) and
    `target` the newest market day, set by `begin` from the clock. Otherwise `since` is the
    bottom of a first pass (set by `begin`), and `window_end` marks a backfill's window, whose
    passes fill the hole and never sweep from the top.
    """

    RETIRED: ClassVar[tuple[str, ...]] = ("ticker",)  # releases before partitions kept the ticker here

    day: date | None = None
    newest: datetime | None = None
    resume_before: int | None = None
    resume_after: int | None = None
    cut_at: int | None = None
    target: date | None = None
    since: int | None = None
    window_end: int | None = None


@frozen
class TimeSweep:
    """Newest first by a time field, paged by `older_than` / `newer_than` in unix milliseconds.

    The first request has no `older_than`; each next one sets it one millisecond above the
    oldest record of the page before, so records sharing that instant are read again under
    either reading of the bounds and the overlap costs no duplicates (identity dedups). A page
    whose records all share one instant can only be stepped over: `warnings` names it. A full
    page none of whose records can be read tells nothing of where to go on: the sweep stops
    there with the cursor before it, and `warnings` says so as a `Halt`. `older_than` drops on
    every request, so a sweep always ends.

    An incremental sweep stops at `lookback_seconds` behind the newest record stored, for records
    reported late. A sweep cut short is saved as the cut and the hole below it, which the next
    pass fills first. `by_market_day`: one request series per market day (`date`), every day
    owed up to the last one swept in order; else a first pass reads back `first_run_hours`.
    Settings read: `page_size`, `lookback_seconds`, `max_pages` (and `first_run_hours`).
    `path` may name `{partition}`; `params(settings)` are sent after the bounds (filters).

    `bounded=False` is an endpoint that takes no time bounds (only the newest `limit` records, of a
    `date` by market day): each request is the whole of what can be read, so a pass is one request
    a day owed, and a full page that does not reach back to the newest record stored is named in
    `warnings` (what lies between is out of reach). Settings read: `page_size`, `max_pages`.
    """

    path: str
    time_field: str
    noun: str  # what the records are called in warnings: "prints"
    late: str  # what a lookback band cut short may miss: "prints of {day} reported late"
    by_market_day: bool = False
    params: Callable[[Any], tuple[tuple[str, Any], ...]] = _no_params
    bounded: bool = True
    cursor: type = SweepCursor

    @property
    def backfills(self) -> bool:
        """Whether `vvv backfill` can walk a range with it: not without bounds, which only see the newest."""
        return self.bounded

    @property
    def reads(self) -> tuple[str, ...]:
        """The settings fields the sweep reads by name."""
        if not self.bounded:
            return ("page_size", "max_pages")
        return ("page_size", "lookback_seconds", "max_pages", *(() if self.by_market_day else ("first_run_hours",)))

    def begin(self, saved: SweepCursor | None, partition: str, now: datetime, settings: Any) -> SweepCursor:
        """The cursor a pass starts from: by market day, from the saved day up to the last market day (a
        first pass: that day whole); else from the saved position, a first pass reading `first_run_hours`."""
        _aware(now)
        if self.by_market_day:
            target = last_trading_day(now.astimezone(NY).date())
            if saved is None or saved.day is None:
                return SweepCursor(day=target, target=target)
            return attrs.evolve(saved, target=target)
        if saved is not None and saved.window_end is not None:
            return saved
        depth = settings.first_run_hours * 3_600_000 if self.bounded else 0  # without bounds: the newest page
        return attrs.evolve(saved or SweepCursor(), since=ms(now) - depth)

    def next_request(self, cursor: SweepCursor, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None:
        """The next request of the pass that started from `cursor` (from `begin`), or None when it is done."""
        begun = cursor.target is not None and cursor.day is not None if self.by_market_day else (
            cursor.since is not None or cursor.window_end is not None)
        if not begun:
            raise ValueError("next_request needs the cursor returned by begin")
        if cursor.window_end is not None and cursor.resume_before is None:
            return None  # the backfill window is complete
        if previous is None or page is None:
            return self._opening(cursor, cursor.day, settings, partition, number=1)
        segment = self.segment(cursor, previous)
        number = getattr(previous, "number", 1) + 1
        if number > settings.max_pages:  # the page cap: read on from here next pass
            return None
        step = self.step(cursor, previous, page, settings, top_sweep=segment == "top")
        if step.blind:  # an unreadable page: stop there, read on from it next pass
            return None
        if step.bound is not None:
            return self.request(settings, partition, _day_of(previous), number=number,
                                newer_than=bound(previous, "newer_than"), older_than=step.bound)
        if segment == "hole":
            return None if cursor.window_end is not None else self._top(cursor, settings, partition, number=number)
        following = market_day_after(_day_of(previous), cursor.target) if self.by_market_day else None
        return None if following is None else self._opening(cursor, following, settings, partition, number=number)

    def advance(self, cursor: SweepCursor, saved: SweepCursor, page: Page, settings: Any,
                partition: str = "") -> SweepCursor:
        """The cursor to save once `page` is stored: `cursor` is where the pass started (from `begin`),
        `saved` the cursor saved after the page before (`cursor` for the first page). Safe after any
        prefix of a pass; the newest record is carried in `saved`, so no page is read twice. An
        unreadable page moves nothing: what lies below it stays owed."""
        request, segment = page.request, self.segment(cursor, page.request)
        step = self.step(cursor, request, page, settings, top_sweep=segment == "top")
        if step.blind:  # below a page with `older_than`, `saved` owes it already
            if bound(request, "older_than") is not None or not self.by_market_day:
                return saved
            return self._owed_from_top(cursor, saved, request)
        day = _day_of(request)
        newest = self.newest(page, saved.newest if day == saved.day else None)
        at = SweepCursor(day=day, newest=newest, target=cursor.target, window_end=cursor.window_end)
        if segment == "hole":
            moved = attrs.evolve(at, resume_before=step.bound,
                                 resume_after=None if step.bound is None else cursor.resume_after, cut_at=cursor.cut_at)
            return self._reading_the_owed_top(saved, request, moved, step) if self.by_market_day else moved
        if step.bound is not None:
            return attrs.evolve(at, resume_before=step.bound, resume_after=bound(request, "newer_than"),
                                cut_at=step.bound)
        following = market_day_after(day, cursor.target) if self.by_market_day else None
        return at if following is None else SweepCursor(day=following, target=cursor.target)

    def warnings(self, cursor: SweepCursor, page: Page | None, settings: Any, partition: str = "") -> list[str]:
        """Possible gaps of the pass that started from `cursor`: with `page` None those its starting
        cursor reveals (a lookback band left unread), else those `page` reveals."""
        who = f"{partition}: " if partition else ""
        if page is None:
            return self._unread_lookback(cursor, settings, what=who + self.late.format(day=cursor.day)
                                         ) if self.bounded else []
        step = self.step(cursor, page.request, page, settings, top_sweep=self.segment(cursor, page.request) == "top")
        day = _day_of(page.request)
        found = [] if self.bounded or step.blind else self._out_of_reach(cursor, page, who=who)
        if step.gap is not None:
            found.append(f"{who}at least {page.received} {self.noun} share {spell(step.gap)}"
                         f"{'' if day is None else f' ({day})'}, a whole page;"
                         " the API pages by time only, so some of them may be unreachable")
        if step.blind:
            before = bound(page.request, "older_than")
            top = before is None or (day is not None and before >= day_end(day))
            where = "" if top else f" older than {spell(instant(before))}"
            when = "" if day is None else f" for {day}"
            found.append(Halt(f"{who}a response that is not a page ({page.rejected}) came back{when}{where};"
                              f" {HALT_MARK}") if _not_a_page(page) else halt(page, noun=self.noun, who=who,
                                                                               when=when, where=where))
        return found

    def _out_of_reach(self, cursor: SweepCursor, page: Page, *, who: str) -> list[str]:
        """Without bounds: a full page whose oldest record is newer than the newest stored before the
        pass leaves the records between unread, for good."""
        times = [getattr(r, self.time_field) for r in (*page.records, *page.refused)]
        if (cursor.newest is None or not times or page.received < int(page.request.param("limit") or 0)
                or _day_of(page.request) != cursor.day or min(times) <= cursor.newest):
            return []
        return [f"{who}a full page of {page.received} {self.noun} reaches back only to {spell(min(times))}, newer"
                f" than the newest stored ({spell(cursor.newest)}); the API takes no time bounds here, so"
                f" {self.noun} between may be missed: collect more often, or narrow the filters"]

    def finished(self, cursor: SweepCursor | None) -> bool:
        """Has a backfill unit been read completely? By market day: its day, with nothing owed below a
        cut; else its window."""
        if cursor is None:
            return False
        if self.by_market_day:
            return cursor.day is not None and cursor.resume_before is None and cursor.cut_at is None
        return cursor.window_end is not None and cursor.resume_before is None

    def window(self, start: datetime, end: datetime) -> SweepCursor | None:
        """A backfill of the records timed in [start, end]: one hole to fill, nothing above it. None by
        market day: a day's pass is the pass of a clock standing at its end."""
        if self.by_market_day:
            return None
        return SweepCursor(**window_bounds(start, end), since=ms(start), window_end=ms(end))

    def request(self, settings: Any, partition: str, day: date | None, *, number: int,
                newer_than: int | None = None, older_than: int | None = None) -> Numbered:
        """A page request: the date (by market day), the limit and the bounds, then `params`, in that order."""
        lead = () if day is None else (("date", day.isoformat()),)
        bounds = tuple((name, str(value)) for name, value in (("newer_than", newer_than), ("older_than", older_than))
                       if value is not None and self.bounded)
        return Numbered(self.path.format(partition=partition),
                        (*lead, ("limit", str(settings.page_size)), *bounds, *self.params(settings)), number=number)

    def segment(self, cursor: SweepCursor, request: Request) -> str:
        """Which sweep a request belongs to: the hole's requests are the only ones bounded at or below its
        top; a later market day is swept whole ("day"); a top sweep never goes below `cut_at`."""
        if self.by_market_day and _day_of(request) != cursor.day:
            return "day"
        older_than = bound(request, "older_than")
        hole = cursor.resume_before
        return "hole" if hole is not None and older_than is not None and older_than <= hole else "top"

    def step(self, cursor: SweepCursor, request: Request, page: Page, settings: Any, *, top_sweep: bool) -> Step:
        """Where the sweep goes after `page` (see `continuation`); refused records still place it. A
        response that was not a page at all (no `data` list) tells nothing either: the sweep stops."""
        if _not_a_page(page):
            return Step(None, blind=True)
        times = [getattr(r, self.time_field) for r in (*page.records, *page.refused)]
        if not self.bounded:  # the page is all there is to read; a full one none of which reads is still blind
            return Step(None, blind=page.received >= int(page.request.param("limit") or settings.page_size)
                        and not times)
        return continuation(request, page, times=times, page_size=settings.page_size, cut_at=cursor.cut_at,
                            top_sweep=top_sweep)

    def newest(self, page: Page, carried: datetime | None) -> datetime | None:
        """The newest record time known after `page`, given the one `carried` from the pages before."""
        seen = [getattr(r, self.time_field) for r in page.records]
        return max([*seen, *([] if carried is None else [carried])], default=None)

    def floor(self, cursor: SweepCursor, settings: Any) -> int:
        """The oldest millisecond a top sweep reads again, the lookback behind the newest record stored."""
        return ms(cursor.newest) - settings.lookback_seconds * 1000

    def _opening(self, cursor: SweepCursor, day: date | None, settings: Any, partition: str, *,
                 number: int) -> Request:
        """The first request for `day`: the hole a cut-short pass left, else the newest records."""
        if day == cursor.day and cursor.resume_before is not None:
            return self.request(settings, partition, day, number=number, newer_than=cursor.resume_after,
                                older_than=cursor.resume_before)
        if day == cursor.day:
            return self._top(cursor, settings, partition, number=number)
        return self.request(settings, partition, day, number=number)

    def _top(self, cursor: SweepCursor, settings: Any, partition: str, *, number: int) -> Request:
        """From the newest record down to the lookback behind the newest stored (a first pass: `since`);
        `newer_than` is one below the floor, so either reading of the bound includes the floor itself."""
        if not self.bounded:
            return self.request(settings, partition, cursor.day, number=number)
        floor = cursor.since if cursor.newest is None else self.floor(cursor, settings)
        return self.request(settings, partition, cursor.day, number=number,
                            newer_than=None if floor is None else floor - 1)

    def _reading_the_owed_top(self, saved: SweepCursor, request: Request, moved: SweepCursor, step: Step
                              ) -> SweepCursor:
        """Inside the hole, the cut carried from the page before; on the day's top, owed since an
        unreadable page stood there, the cut of a sweep from the top cut short, so the records published
        above it before the hole is filled are read by the next top sweep."""
        day = _day_of(request)
        cut = saved.cut_at if saved.day == day else moved.cut_at
        if (bound(request, "older_than") or 0) >= day_end(day):
            cut = step.bound
        return attrs.evolve(moved, cut_at=cut)

    def _owed_from_top(self, cursor: SweepCursor, saved: SweepCursor, request: Request) -> SweepCursor:
        """A cursor owing all of `request`'s day from its top down to the request's `newer_than`: a hole
        whose top is the day's end, so the day is not taken as finished (a backfill would skip it)."""
        day = _day_of(request)
        top = day_end(day)
        return SweepCursor(day=day, newest=saved.newest if saved.day == day else None, resume_before=top,
                           resume_after=bound(request, "newer_than"), cut_at=top, target=cursor.target)

    def _unread_lookback(self, cursor: SweepCursor, settings: Any, *, what: str) -> list[str]:
        """A sweep cut short inside the lookback leaves a band this pass will not read again.

        Passes fill the hole below the cut, then sweep from the top down to the cut: records
        reported late into the band between the lookback and the cut, after the hole passed them,
        are missed. This happens only when the lookback holds more than `max_pages` pages (or
        after a crash).
        """
        if cursor.cut_at is None or cursor.newest is None:
            return []
        low = self.floor(cursor, settings)
        if cursor.resume_before is not None:
            low = max(low, cursor.resume_before)
        if cursor.cut_at <= low:
            return []
        return [
            f"{what} between {spell(instant(low))} and {spell(instant(cursor.cut_at))} may be missed: a pass was"
            f" cut short inside the lookback window; raise max_pages ({settings.max_pages}) or lower"
            f" lookback_seconds ({settings.lookback_seconds})"
        ]


def _not_a_page(page: Page) -> bool:
    """A response without a `data` list (the shell refuses those, but a strategy never takes one for
    an empty page, which would end a sweep or a date as if everything had been read)."""
    return page.received == 0 and not page.records and not page.refused and page.rejected is not None


def _day_of(request: Request) -> date | None:
    day = request.param("date")
    return None if day is None else date.fromisoformat(day)


class _Plain:
    """What a strategy says that has no gaps to warn of and no backfill windows: `vvv backfill` refuses it."""

    backfills = False

    def warnings(self, cursor: Any, page: Page | None, settings: Any, partition: str = "") -> list[str]:
        return []

    def finished(self, cursor: Any) -> bool:
        return False

    def window(self, start: datetime, end: datetime) -> None:
        return None


@frozen
class PageCursor:
    """`newest`: every record before it is stored; a pass from page 0 fetches what came after.

    `resume_page`/`pending_newest`: where a pass stopped by the page cap left off, and the
    newest record it saw, so the next pass finishes the gap before `newest` moves.

    A first run in progress (no `newest` yet, `resume_page` set) also keeps `owed`: how many
    records below `oldest`, the oldest one it has fetched, it still needs to reach its depth.
    """

    newest: datetime | None = None
    resume_page: int | None = None
    pending_newest: datetime | None = None
    owed: int | None = None
    oldest: datetime | None = None


@frozen
class FirstRunPage(Request):
    """A request of a first run, carrying what the run still owed before it, so that the pass can
    stop at its depth; the API sees only path and params."""

    owed: int = attrs.field(default=0, eq=False)
    beyond: bool = attrs.field(default=True, eq=False)  # past what earlier passes fetched: every item is new


@frozen
class PageNumber(_Plain):
    """Newest first by page number from 0, for a feed with no time filter.

    A pass pages down from page 0 until it sees a record older than the newest one stored: that
    page overlaps the previous pass, which catches records sharing the cursor's instant. A pass
    stopped by the page cap saves where it stopped and the next pass resumes there, so a burst
    never leaves a silent gap. The first run reads `first_run_pages` pages of history; cut short
    (an error, a crash, a failover), it too saves where it stopped, and later passes finish it
    before reading what is new on top. Settings read: `page_size`, `max_pages`, `first_run_pages`.
    `params(settings)` are sent after the paging parameters (filters). A `time_field` holding a date
    (a filing date) counts as its midnight UTC: a pass reads the newest date whole, again.
    """

    path: str
    time_field: str
    params: Callable[[Any], tuple[tuple[str, Any], ...]] = _no_params
    cursor: type = PageCursor
    reads = ("page_size", "max_pages", "first_run_pages")

    def begin(self, saved: PageCursor | None, partition: str, now: datetime, settings: Any) -> PageCursor:
        return PageCursor() if saved is None else saved

    def next_request(self, cursor: PageCursor, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None:
        """The next page to fetch, or None when the pass has reached the cursor, the end, its depth or its cap."""
        start = cursor.resume_page or 0
        if cursor.newest is None:
            return self._next_first_run_request(cursor, previous, page, settings)
        if previous is None or page is None:
            return self._page(start, settings)
        number = int(previous.param("page") or 0)
        if self._is_last(cursor, page, settings) or number - start + 1 >= settings.max_pages:
            return None
        return self._page(number + 1, settings)

    def advance(self, cursor: PageCursor, saved: PageCursor, page: Page, settings: Any,
                partition: str = "") -> PageCursor:
        """The cursor to save once `page` is stored: `cursor` is where the pass started, `saved` the
        cursor saved after the page before (`cursor` for the first page)."""
        if cursor.newest is None:
            return self._advance_first_run(cursor, saved, page, settings)
        # The newest record of the pages before rides in `saved` as `pending_newest`.
        newest_seen = max([*self._times(page), *_present(saved.pending_newest)], default=None)
        if self._is_last(cursor, page, settings):
            return PageCursor(newest=max([cursor.newest, *_present(newest_seen)]))
        # Resume after the last page fetched: records published meanwhile push older ones to
        # later pages, never earlier, so the next unseen record is at or after that page.
        return attrs.evolve(cursor, resume_page=int(page.request.param("page") or 0) + 1, pending_newest=newest_seen)

    def _next_first_run_request(self, cursor: PageCursor, previous: Request | None, page: Page | None,
                                settings: Any) -> Request | None:
        """A first run pages down until it owes nothing: `first_run_pages` pages in one pass when
        nothing cuts it short, else on from where it stopped, `max_pages` a pass."""
        start = cursor.resume_page or 0
        if previous is None or page is None:
            return self._first_run_page(start, self._initial_owed(cursor, settings), _beyond(cursor, cursor), settings)
        owed = previous.owed if isinstance(previous, FirstRunPage) else self._initial_owed(cursor, settings)
        beyond = previous.beyond if isinstance(previous, FirstRunPage) else True
        owed -= self._first_run_progress(cursor, beyond, page)
        number = int(previous.param("page") or 0)
        cap = settings.first_run_pages if cursor.resume_page is None else settings.max_pages
        if page.received < settings.page_size or owed <= 0 or number - start + 1 >= cap:
            return None
        return self._first_run_page(number + 1, owed, beyond or self._past(cursor, page), settings)

    def _advance_first_run(self, cursor: PageCursor, saved: PageCursor, page: Page, settings: Any) -> PageCursor:
        """The first run's cursor after `page`: done (`newest` set) at its depth or the feed's end,
        else where to go on, with what it still owes. A run that has read no record yet starts over."""
        number = int(page.request.param("page") or 0)
        times = self._times(page)
        top = max([*times, *_present(saved.pending_newest)], default=None)
        if cursor.resume_page is None:  # one pass from the top: every page before this one was full
            owed = self._initial_owed(cursor, settings) - number * settings.page_size - page.received
        else:
            owed = (saved.owed or 0) - self._first_run_progress(cursor, _beyond(cursor, saved), page)
        if page.received < settings.page_size or owed <= 0 or top is None:
            return PageCursor(newest=top)
        oldest = min([*times, *_present(saved.oldest)])
        return PageCursor(resume_page=number + 1, pending_newest=top, owed=owed, oldest=oldest)

    def _initial_owed(self, cursor: PageCursor, settings: Any) -> int:
        if cursor.resume_page is None:
            return settings.first_run_pages * settings.page_size
        return cursor.owed or 0

    def _first_run_progress(self, cursor: PageCursor, beyond: bool, page: Page) -> int:
        """How many of the records the first run owes `page` brought.

        Records published since the run stopped push the rest down (see `advance`), so the page it
        resumes at begins with records it has fetched already: until the pass is past them, only
        records older than the oldest fetched count (one in the same instant might be a repeat, so
        it does not count); after that the pass's pages follow each other and every item counts.
        """
        if beyond or cursor.oldest is None:
            return page.received
        return sum(1 for t in self._times(page) if t < cursor.oldest)

    def _past(self, cursor: PageCursor, page: Page) -> bool:
        """Does `page` hold a record older than any the run had before this pass?"""
        return cursor.oldest is None or any(t < cursor.oldest for t in self._times(page))

    def _is_last(self, cursor: PageCursor, page: Page, settings: Any) -> bool:
        """True when nothing older than this page can be new to us."""
        if page.received < settings.page_size:
            return True
        return cursor.newest is not None and any(t < cursor.newest for t in self._times(page))

    def _times(self, page: Page) -> list[datetime]:
        return [_moment(getattr(r, self.time_field)) for r in page.records]

    def _first_run_page(self, number: int, owed: int, beyond: bool, settings: Any) -> Request:
        return FirstRunPage(self.path, self._page(number, settings).params, owed=owed, beyond=beyond)

    def _page(self, number: int, settings: Any) -> Request:
        return Request(self.path, (("limit", str(settings.page_size)), ("page", str(number)), *self.params(settings)))


def _moment(value: date | datetime) -> datetime:
    """A record time as an aware datetime: a date is its midnight UTC."""
    return value if isinstance(value, datetime) else datetime.combine(value, time(0), tzinfo=UTC)


def _beyond(cursor: PageCursor, saved: PageCursor) -> bool:
    """Has this pass, before the page at hand, fetched a record older than any the run had?"""
    if cursor.resume_page is None or cursor.oldest is None:
        return True
    return saved.oldest is not None and saved.oldest < cursor.oldest


def _present(value: datetime | None) -> list[datetime]:
    return [] if value is None else [value]


@frozen
class LatestCursor:
    """The latest record time seen: a snapshot endpoint has no position, so this is for the record only.
    `asof`: the clock of the pass, set by `begin`, from which `Single.params` picks the day to ask for."""

    latest: datetime | None = None
    asof: datetime | None = None


def _no_dated_params(settings: Any, partition: str, asof: datetime) -> tuple[tuple[str, Any], ...]:
    return ()


@frozen
class Single(_Plain):
    """The paging strategy of an endpoint that answers with its whole data set: one request a pass.

    `params(settings, partition, asof)` are its query, from the pass's clock: the day of a daily
    series (`calendar.opened_day`), a window of dates around today. `full`: the settings field of a
    `limit` the endpoint caps its answer at; a response that fills it is warned of, since what lies
    beyond is not served.

        >>> Single("/api/market/economic-calendar", "time").next_request(LatestCursor(), None, None, None)
        Request(path='/api/market/economic-calendar', params=())
    """

    path: str
    time_field: str = ""
    params: Callable[[Any, str, datetime], tuple[tuple[str, Any], ...]] = _no_dated_params
    full: str | None = None
    cursor: type = LatestCursor

    @property
    def reads(self) -> tuple[str, ...]:
        return () if self.full is None else (self.full,)

    def begin(self, saved: LatestCursor | None, partition: str, now: datetime, settings: Any) -> LatestCursor:
        _aware(now)
        return attrs.evolve(LatestCursor() if saved is None else saved, asof=now)

    def next_request(self, cursor: LatestCursor, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None:
        if previous is not None:
            return None
        if cursor.asof is None and self.params is not _no_dated_params:
            raise ValueError("next_request needs the cursor returned by begin")
        params = () if cursor.asof is None else self.params(settings, partition, cursor.asof)
        return Request(self.path.format(partition=partition), params)

    def warnings(self, cursor: LatestCursor, page: Page | None, settings: Any, partition: str = "") -> list[str]:
        """A response as long as the `limit` asked for may have left records out."""
        if page is None or self.full is None or page.received < getattr(settings, self.full):
            return []
        who = f"{partition}: " if partition else ""
        return [f"{who}the response holds {page.received} items, the {self.full} asked for: more may exist"
                " that were not served; raise it or narrow the window"]

    def advance(self, cursor: LatestCursor, saved: LatestCursor, page: Page, settings: Any,
                partition: str = "") -> LatestCursor:
        """The latest record time seen so far (`saved` carries it from the page before)."""
        times = [_moment(getattr(r, self.time_field)) for r in page.records] if self.time_field else []
        return LatestCursor(latest=max([*times, *_present(saved.latest)], default=None))


@frozen
class DateCursor:
    """Where a walk over dates stands: `day` and `page` are the next request owed (None: the walk is
    done, the next pass starts over at the window's first date); `first`/`last`, the pass's window,
    set by `begin` from the clock."""

    day: date | None = None
    page: int = 0
    first: date | None = None
    last: date | None = None


@frozen
class PerDate(_Plain):
    """One request series per date of a window around today (e.g. earnings by report date): each
    date paged by `page` from 0 until a page comes back short, dates oldest first. `market_days`:
    the window is counted in trading days and walks them only (`days_back` 1: the last trading
    day before today; on a day without trading, the next trading day stands for today), for data
    that exists on trading days alone.

    A pass cut short by `max_pages` (or a crash) saves the next request owed, and the next pass
    goes on from there, then to the window's end; a pass that reached it starts over next time, so
    records restated within the window are read again (the data set is revisable). An unreadable
    full page is stepped over: page numbers, unlike times, say where the next page is.
    Settings read: `page_size`, `max_pages`, `days_back`, `days_ahead`.
    """

    path: str
    date_param: str = "date"
    market_days: bool = False
    cursor: type = DateCursor
    reads = ("page_size", "max_pages", "days_back", "days_ahead")

    def begin(self, saved: DateCursor | None, partition: str, now: datetime, settings: Any) -> DateCursor:
        _aware(now)
        today = now.astimezone(NY).date()
        first, last = self._shift(today, -settings.days_back), self._shift(today, settings.days_ahead)
        if saved is not None and saved.day is not None and first <= saved.day <= last:
            return DateCursor(day=saved.day, page=saved.page, first=first, last=last)
        return DateCursor(day=first, page=0, first=first, last=last)

    def next_request(self, cursor: DateCursor, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None:
        if cursor.first is None or cursor.last is None:
            raise ValueError("next_request needs the cursor returned by begin")
        if previous is None or page is None:
            return None if cursor.day is None else self.request(cursor.day, cursor.page, settings, partition)
        number = getattr(previous, "number", 1) + 1
        if _not_a_page(page):  # stop there, and ask for that page again next pass
            return None
        following = self._after(cursor, previous, page, settings)
        if following.day is None or number > settings.max_pages:
            return None
        return self.request(following.day, following.page, settings, partition, count=number)

    def advance(self, cursor: DateCursor, saved: DateCursor, page: Page, settings: Any,
                partition: str = "") -> DateCursor:
        return saved if _not_a_page(page) else self._after(cursor, page.request, page, settings)

    def _shift(self, day: date, days: int) -> date:
        """`days` dates after `day` (before, when negative), counted in trading days with `market_days`."""
        if not self.market_days:
            return day + timedelta(days=days)
        if days == 0:
            return day if is_trading_day(day) else next_trading_day(day)
        for _ in range(abs(days)):
            day = next_trading_day(day) if days > 0 else previous_trading_day(day)
        return day

    def request(self, day: date, number: int, settings: Any, partition: str, *, count: int = 1) -> Numbered:
        params = ((self.date_param, day.isoformat()), ("page", str(number)), ("limit", str(settings.page_size)))
        return Numbered(self.path.format(partition=partition), params, number=count)

    def _after(self, cursor: DateCursor, request: Request, page: Page, settings: Any) -> DateCursor:
        """The request owed after `page`: the date's next page after a full one, else the next date."""
        day, number = date.fromisoformat(request.param(self.date_param) or ""), int(request.param("page") or 0)
        if page.received >= settings.page_size:
            return attrs.evolve(cursor, day=day, page=number + 1)
        following = self._shift(day, 1)
        return attrs.evolve(cursor, day=following if cursor.last is not None and following <= cursor.last else None,
                            page=0)


@frozen
class DayCursor:
    """`day`: the market day a partition's series was last read for; `closed`: that read came after
    the series had ended, so nothing of it is owed. `target` (the current market day) and `over`
    (has its series ended) are set by `begin` from the clock, for the pass only."""

    day: date | None = None
    closed: bool = False
    target: date | None = None
    over: bool = False
    missed: date | None = None  # the first of the days owed beyond `catch_up`, skipped (a warning)


@frozen
class DaySeries(_Plain):
    """A market day's whole series in one request (`date`), per partition: today's, and before
    today's series begins (the session phase `hours[0]`, e.g. after midnight) the previous market
    day's. A day read before its series ended (`hours[1]` plus `SETTLE`) is read once more after,
    so its last ticks are not lost: every pass reads the days owed since the saved one, oldest
    first, at most `catch_up` of them (a warning names the rest, for `vvv backfill`). A day read
    after its end costs no request again: a pass with nothing new costs one request or none.
    Revisable series (an open candle) are served again whole, so a restated record is re-read.
    A backfill unit is a pass with the clock at the day's end. Settings read: none.

        >>> from datetime import UTC
        >>> series = DaySeries("/api/stock/{0}/spot-exposures", "time", hours=("open", "close"))
        >>> start = series.begin(None, "SPY", datetime(2025, 10, 27, 12, 0, tzinfo=UTC), None)  # Monday, 08:00 NY
        >>> series.next_request(start, None, None, None, "SPY")
        Request(path='/api/stock/SPY/spot-exposures', params=(('date', '2025-10-24'),))
    """

    SETTLE: ClassVar[timedelta] = timedelta(minutes=15)  # the provider's last ticks come in a little late

    path: str  # `{partition}`, or `{0}`, `{1}`, ... for the parts of a crossed partition
    time_field: str
    hours: tuple[str, str] = ("pre_open", "after_close")  # the `calendar.Session` fields the series spans
    catch_up: int = 5
    params: Callable[[Any], tuple[tuple[str, Any], ...]] = _no_params
    cursor: type = DayCursor
    reads = ()
    backfills = True

    def begin(self, saved: DayCursor | None, partition: str, now: datetime, settings: Any) -> DayCursor:
        """The pass's days: from the first one owed since `saved` to the current market day."""
        _aware(now)
        local = now.astimezone(NY).date()
        today = session(local)
        target = local if today is not None and now >= getattr(today, self.hours[0]) else previous_trading_day(local)
        over = now >= getattr(session(target), self.hours[1]) + self.SETTLE
        if saved is None or saved.day is None or saved.day > target:
            first: date | None = target
        else:
            first = market_day_after(saved.day, target) if saved.closed else saved.day
        earliest, missed = target, None
        for _ in range(self.catch_up - 1):
            earliest = previous_trading_day(earliest)
        if first is not None and first < earliest:
            first, missed = earliest, first
        return DayCursor(day=first, closed=first is None, target=target, over=over, missed=missed)

    def next_request(self, cursor: DayCursor, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None:
        if cursor.target is None:
            raise ValueError("next_request needs the cursor returned by begin")
        if previous is None or page is None:
            return None if cursor.closed or cursor.day is None else self.request(cursor.day, settings, partition)
        following = None if _not_a_page(page) else market_day_after(_day_of(previous), cursor.target)
        return None if following is None else self.request(following, settings, partition)

    def advance(self, cursor: DayCursor, saved: DayCursor, page: Page, settings: Any,
                partition: str = "") -> DayCursor:
        """The day read, closed when it was over: a day before the target always is."""
        if _not_a_page(page):
            return saved
        day = _day_of(page.request)
        return DayCursor(day=day, closed=day != cursor.target or cursor.over)

    def warnings(self, cursor: DayCursor, page: Page | None, settings: Any, partition: str = "") -> list[str]:
        if page is not None or cursor.missed is None or cursor.day is None:
            return []
        last = previous_trading_day(cursor.day)
        who = f"{partition}: " if partition else ""
        return [f"{who}the market days {cursor.missed} to {last} were not collected (more than {self.catch_up}"
                f" behind); `vvv backfill` of this collector --from {cursor.missed} --to {last} collects them"]

    def finished(self, cursor: DayCursor | None) -> bool:
        return cursor is not None and cursor.closed

    def request(self, day: date, settings: Any, partition: str) -> Request:
        return Request(fill(self.path, partition), (("date", day.isoformat()), *self.params(settings)))
