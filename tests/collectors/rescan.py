"""The definitions of `advance` and `warnings` before they were folded page by page: each call
rescanned every page of the pass so far. Kept as the model the folded ones must equal, after
every page of every pass the collector tests play (see `check_fold`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from vvv.collectors import darkpool, economic_calendar, news, options_flow
from vvv.core.base import HALT_MARK, Collector, Page, advance_over, warnings_over
from vvv.core.paging import LatestCursor, PageCursor, SweepCursor
from vvv.core.timepaging import bound as _bound
from vvv.core.timepaging import (
    day_end,
    instant,
    market_day_after,
    spell,
    unreadable_why,
)

_DARKPOOL = darkpool.COLLECTOR.strategy
_FLOW = options_flow.COLLECTOR.strategy
_NEWS = news.COLLECTOR.strategy


@attrs.frozen
class On:
    """A collector's planning calls for one partition, as the runner makes them (`vvv.core.base`'s folds
    take these four-argument forms)."""

    collector: Collector
    partition: str = ""

    def begin(self, saved: Any, now: Any, settings: Any) -> Any:
        return self.collector.begin(saved, self.partition, now, settings)

    def next_request(self, cursor: Any, previous: Any, page: Any, settings: Any) -> Any:
        return self.collector.next_request(cursor, previous, page, settings, self.partition)

    def advance(self, cursor: Any, saved: Any, page: Page, settings: Any) -> Any:
        return self.collector.advance(cursor, saved, page, settings, self.partition)

    def warnings(self, cursor: Any, page: Any, settings: Any) -> list[str]:
        return self.collector.warnings(cursor, page, settings, self.partition)


SPY = On(darkpool.COLLECTOR, "SPY")


def _day_of(request: Any) -> Any:
    from datetime import date

    return date.fromisoformat(request.param("date"))


def _darkpool_step(cursor: SweepCursor, request: Any, page: Page, settings: darkpool.Settings) -> Any:
    return _DARKPOOL.step(cursor, request, page, settings, top_sweep=_DARKPOOL.segment(cursor, request) == "top")


def darkpool_advance(cursor: SweepCursor, pages: Sequence[Page], settings: darkpool.Settings) -> SweepCursor:
    if not pages:
        return cursor
    last = pages[-1]
    if _darkpool_step(cursor, last.request, last, settings).blind:  # a pass stops at an unreadable page
        before = darkpool_advance(cursor, pages[:-1], settings)
        if _bound(last.request, "older_than") is not None:
            return before
        return _DARKPOOL._owed_from_top(cursor, before, last.request)
    day = _day_of(last.request)
    seen = [r.executed_at for p in pages if _day_of(p.request) == day for r in p.records]
    if day == cursor.day and cursor.newest is not None:
        seen.append(cursor.newest)
    at = SweepCursor(day=day, newest=max(seen, default=None), target=cursor.target)
    bound = _darkpool_step(cursor, last.request, last, settings).bound
    if _DARKPOOL.segment(cursor, last.request) == "hole":
        cut = cursor.cut_at
        for page in pages:  # the day's top, owed since an unreadable page: read like a sweep from the top
            if (_bound(page.request, "older_than") or 0) >= day_end(day):
                cut = _darkpool_step(cursor, page.request, page, settings).bound
        return attrs.evolve(at, resume_before=bound, resume_after=None if bound is None else cursor.resume_after,
                            cut_at=cut)
    if bound is not None:
        return attrs.evolve(at, resume_before=bound, resume_after=_bound(last.request, "newer_than"),
                            cut_at=bound)
    following = market_day_after(day, cursor.target)
    return at if following is None else SweepCursor(day=following, target=cursor.target)


def darkpool_warnings(cursor: SweepCursor, pages: Sequence[Page], settings: darkpool.Settings) -> list[str]:
    found = SPY.warnings(cursor, None, settings)
    for page in pages:
        step = _darkpool_step(cursor, page.request, page, settings)
        day = _day_of(page.request).isoformat()
        if step.gap is not None:
            found.append(
                f"SPY: at least {page.received} prints share {spell(step.gap)} ({day}),"
                " a whole page; the API pages by time only, so some of them may be unreachable"
            )
        if step.blind:
            before = _bound(page.request, "older_than")
            top = before is None or before >= day_end(_day_of(page.request))
            where = "" if top else f" older than {spell(instant(before))}"
            why = "" if page.rejected is None else f" ({unreadable_why(page.rejected)})"
            found.append(f"SPY: a full page of {page.received} prints for {day}{where} could not be"
                         f" read{why}; {HALT_MARK}")
    return list(dict.fromkeys(found))


def _flow_step(cursor: Any, request: Any, page: Page, settings: Any) -> Any:
    return _FLOW.step(cursor, request, page, settings, top_sweep=_FLOW.segment(cursor, request) == "top")


def _present(value: Any) -> list[Any]:
    return [] if value is None else [value]


def options_flow_advance(cursor: SweepCursor, pages: Sequence[Page],
                         settings: options_flow.Settings) -> SweepCursor:
    if not pages:
        return cursor
    last = pages[-1]
    if _flow_step(cursor, last.request, last, settings).blind:  # a pass stops at an unreadable page
        return options_flow_advance(cursor, pages[:-1], settings)
    seen = [r.created_at for p in pages for r in p.records]
    at = SweepCursor(newest=max([*seen, *([cursor.newest] if cursor.newest else [])], default=None),
                             window_end=cursor.window_end)
    bound = _flow_step(cursor, last.request, last, settings).bound
    if _FLOW.segment(cursor, last.request) == "hole":
        return attrs.evolve(at, resume_before=bound, resume_after=None if bound is None else cursor.resume_after,
                            cut_at=cursor.cut_at)
    if bound is not None:
        return attrs.evolve(at, resume_before=bound, resume_after=_bound(last.request, "newer_than"),
                            cut_at=bound)
    return at


def options_flow_warnings(cursor: SweepCursor, pages: Sequence[Page],
                          settings: options_flow.Settings) -> list[str]:
    found = options_flow.COLLECTOR.warnings(cursor, None, settings)
    for page in pages:
        step = _flow_step(cursor, page.request, page, settings)
        if step.gap is not None:
            found.append(
                f"at least {page.received} alerts share {spell(step.gap)}, a whole page;"
                " the API pages by time only, so some of them may be unreachable"
            )
        if step.blind:
            before = _bound(page.request, "older_than")
            where = "" if before is None else f" older than {spell(instant(before))}"
            why = "" if page.rejected is None else f" ({unreadable_why(page.rejected)})"
            found.append(f"a full page of {page.received} alerts{where} could not be read{why}; {HALT_MARK}")
    return list(dict.fromkeys(found))


def news_advance(cursor: PageCursor, pages: Sequence[Page], settings: news.Settings) -> PageCursor:
    if not pages:
        return cursor
    if cursor.newest is None:
        return _news_first_run(cursor, pages, settings)
    seen = [r.created_at for p in pages for r in p.records]
    newest_seen = max([*seen, *_present(cursor.pending_newest)], default=None)
    if _NEWS._is_last(cursor, pages[-1], settings):
        return PageCursor(newest=max([cursor.newest, *_present(newest_seen)]))
    return attrs.evolve(cursor, resume_page=int(pages[-1].request.param("page") or 0) + 1,
                        pending_newest=newest_seen)


def _news_first_run(cursor: PageCursor, pages: Sequence[Page], settings: news.Settings) -> PageCursor:
    """Owed: what the cursor owed less the items of the pass below the oldest it had fetched; on the
    page that first reaches below it, only the headlines older than it count."""
    seen = [r.created_at for p in pages for r in p.records]
    top = max([*seen, *_present(cursor.pending_newest)], default=None)
    if cursor.resume_page is None:
        owed = settings.first_run_pages * settings.page_size - sum(p.received for p in pages)
    else:
        below = [i for i, p in enumerate(pages) if any(r.created_at < cursor.oldest for r in p.records)]
        first = below[0] if below else len(pages)
        owed = cursor.owed - sum(1 for p in pages[first:first + 1] for r in p.records if r.created_at < cursor.oldest)
        owed -= sum(p.received for p in pages[first + 1:])
    if pages[-1].received < settings.page_size or owed <= 0 or top is None:
        return PageCursor(newest=top)
    return PageCursor(resume_page=int(pages[-1].request.param("page")) + 1, pending_newest=top, owed=owed,
                       oldest=min([*seen, *_present(cursor.oldest)]))


def economic_calendar_advance(cursor: LatestCursor, pages: Sequence[Page],
                              settings: economic_calendar.Settings) -> LatestCursor:
    times = [r.time for p in pages for r in p.records]
    if cursor.latest is not None:
        times.append(cursor.latest)
    return LatestCursor(latest=max(times, default=None))


_MODELS: dict[Any, tuple[Callable[..., Any], Callable[..., list[str]] | None]] = {
    darkpool: (darkpool_advance, darkpool_warnings),
    options_flow: (options_flow_advance, options_flow_warnings),
    news: (news_advance, None),
    economic_calendar: (economic_calendar_advance, None),
}


def check_fold(module: Any, cursor: Any, saved: Any, pages: Sequence[Page], settings: Any) -> None:
    """The cursor folded page by page (`saved`, after `pages`) equals the one rescanning every page
    gives, and so do the warnings."""
    rescan_advance, rescan_warnings = _MODELS[module]
    assert saved == rescan_advance(cursor, pages, settings)
    on = SPY if module is darkpool else On(module.COLLECTOR)
    assert advance_over(on.advance, cursor, pages, settings) == saved
    if rescan_warnings is not None:
        assert warnings_over(on.warnings, cursor, pages, settings) == rescan_warnings(cursor, pages, settings)
