"""The definitions of the strategies' `advance` and `warnings` before they were folded page by page:
each call rescanned every page of the pass so far. Kept as the model the folded ones must equal,
after every page of every pass the strategy tests play (see `check_fold`)."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import attrs

from vvv.core.base import HALT_MARK, Page, advance_over, warnings_over
from vvv.core.paging import LatestCursor, PageCursor, PageNumber, Single, SweepCursor, TimeSweep
from vvv.core.timepaging import bound as _bound
from vvv.core.timepaging import (
    day_end,
    instant,
    market_day_after,
    spell,
    unreadable_why,
)


def _day_of(request: Any) -> Any:
    from datetime import date

    day = request.param("date")
    return None if day is None else date.fromisoformat(day)


def _step(sweep: TimeSweep, cursor: SweepCursor, request: Any, page: Page, settings: Any) -> Any:
    return sweep.step(cursor, request, page, settings, top_sweep=sweep.segment(cursor, request) == "top")


def _present(value: Any) -> list[Any]:
    return [] if value is None else [value]


def sweep_advance(sweep: TimeSweep, cursor: SweepCursor, pages: Sequence[Page], settings: Any) -> SweepCursor:
    if not pages:
        return cursor
    last = pages[-1]
    if _step(sweep, cursor, last.request, last, settings).blind:  # a pass stops at an unreadable page
        before = sweep_advance(sweep, cursor, pages[:-1], settings)
        if not sweep.by_market_day or _bound(last.request, "older_than") is not None:
            return before
        return sweep._owed_from_top(cursor, before, last.request)
    day = _day_of(last.request)
    seen = [getattr(r, sweep.time_field) for p in pages if _day_of(p.request) == day for r in p.records]
    if day == cursor.day and cursor.newest is not None:
        seen.append(cursor.newest)
    at = SweepCursor(day=day, newest=max(seen, default=None), target=cursor.target, window_end=cursor.window_end)
    bound = _step(sweep, cursor, last.request, last, settings).bound
    if sweep.segment(cursor, last.request) == "hole":
        cut = cursor.cut_at
        for page in pages if sweep.by_market_day else ():  # a day's top, owed since an unreadable page: a top sweep
            if (_bound(page.request, "older_than") or 0) >= day_end(day):
                cut = _step(sweep, cursor, page.request, page, settings).bound
        return attrs.evolve(at, resume_before=bound, resume_after=None if bound is None else cursor.resume_after,
                            cut_at=cut)
    if bound is not None:
        return attrs.evolve(at, resume_before=bound, resume_after=_bound(last.request, "newer_than"),
                            cut_at=bound)
    following = market_day_after(day, cursor.target) if sweep.by_market_day else None
    return at if following is None else SweepCursor(day=following, target=cursor.target)


def sweep_warnings(sweep: TimeSweep, cursor: SweepCursor, pages: Sequence[Page], settings: Any,
                   partition: str) -> list[str]:
    who = f"{partition}: " if partition else ""
    found = sweep.warnings(cursor, None, settings, partition)
    for page in pages:
        step = _step(sweep, cursor, page.request, page, settings)
        day = _day_of(page.request)
        if step.gap is not None:
            found.append(
                f"{who}at least {page.received} {sweep.noun} share {spell(step.gap)}"
                f"{'' if day is None else f' ({day})'}, a whole page;"
                " the API pages by time only, so some of them may be unreachable"
            )
        if step.blind:
            before = _bound(page.request, "older_than")
            top = before is None or (day is not None and before >= day_end(day))
            where = "" if top else f" older than {spell(instant(before))}"
            when = "" if day is None else f" for {day}"
            why = "" if page.rejected is None else f" ({unreadable_why(page.rejected)})"
            found.append(f"{who}a full page of {page.received} {sweep.noun}{when}{where} could not be"
                         f" read{why}; {HALT_MARK}")
    return list(dict.fromkeys(found))


def page_number_advance(numbered: PageNumber, cursor: PageCursor, pages: Sequence[Page], settings: Any
                        ) -> PageCursor:
    if not pages:
        return cursor
    if cursor.newest is None:
        return _first_run(numbered, cursor, pages, settings)
    seen = [getattr(r, numbered.time_field) for p in pages for r in p.records]
    newest_seen = max([*seen, *_present(cursor.pending_newest)], default=None)
    if numbered._is_last(cursor, pages[-1], settings):
        return PageCursor(newest=max([cursor.newest, *_present(newest_seen)]))
    return attrs.evolve(cursor, resume_page=int(pages[-1].request.param("page") or 0) + 1,
                        pending_newest=newest_seen)


def _first_run(numbered: PageNumber, cursor: PageCursor, pages: Sequence[Page], settings: Any) -> PageCursor:
    """Owed: what the cursor owed less the items of the pass below the oldest it had fetched; on the
    page that first reaches below it, only the items older than it count."""
    field = numbered.time_field
    seen = [getattr(r, field) for p in pages for r in p.records]
    top = max([*seen, *_present(cursor.pending_newest)], default=None)
    if cursor.resume_page is None:
        owed = settings.first_run_pages * settings.page_size - sum(p.received for p in pages)
    else:
        below = [i for i, p in enumerate(pages) if any(getattr(r, field) < cursor.oldest for r in p.records)]
        first = below[0] if below else len(pages)
        owed = cursor.owed - sum(1 for p in pages[first:first + 1] for r in p.records
                                 if getattr(r, field) < cursor.oldest)
        owed -= sum(p.received for p in pages[first + 1:])
    if pages[-1].received < settings.page_size or owed <= 0 or top is None:
        return PageCursor(newest=top)
    return PageCursor(resume_page=int(pages[-1].request.param("page")) + 1, pending_newest=top, owed=owed,
                       oldest=min([*seen, *_present(cursor.oldest)]))


def single_advance(single: Single, cursor: LatestCursor, pages: Sequence[Page], settings: Any) -> LatestCursor:
    times = [getattr(r, single.time_field) for p in pages for r in p.records] if single.time_field else []
    if cursor.latest is not None:
        times.append(cursor.latest)
    return LatestCursor(latest=max(times, default=None))


def check_fold(of: Any, cursor: Any, saved: Any, pages: Sequence[Page], settings: Any, partition: str = "") -> None:
    """The cursor folded page by page (`saved`, after `pages`) equals the one rescanning every page
    gives, and so do a time sweep's warnings. `of`: the strategy (or a collector module: its strategy)."""
    strategy = of.COLLECTOR.strategy if isinstance(of, ModuleType) else of
    if isinstance(strategy, TimeSweep):
        assert saved == sweep_advance(strategy, cursor, pages, settings)
        assert warnings_over(lambda *call: strategy.warnings(*call, partition), cursor, pages, settings) == (
            sweep_warnings(strategy, cursor, pages, settings, partition))
    elif isinstance(strategy, PageNumber):
        assert saved == page_number_advance(strategy, cursor, pages, settings)
    else:
        assert saved == single_advance(strategy, cursor, pages, settings)
    assert advance_over(lambda *call: strategy.advance(*call, partition), cursor, pages, settings) == saved
