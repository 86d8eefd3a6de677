"""The definitions of `advance` and `warnings` before they were folded page by page: each call
rescanned every page of the pass so far. Kept as the model the folded ones must equal, after
every page of every pass the collector tests play (see `check_fold`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from vvv.collectors import darkpool, economic_calendar, news, options_flow
from vvv.core.base import HALT_MARK, Page, advance_over, warnings_over
from vvv.core.timepaging import day_end, market_day_after, unreadable_why


def _darkpool_step(cursor: darkpool.Cursor, request: Any, page: Page, settings: darkpool.Settings) -> Any:
    sweep = darkpool._sweep(settings, cursor.ticker)
    return sweep.step(cursor, request, page, top_sweep=darkpool._segment(cursor, request) == "top")


def darkpool_advance(cursor: darkpool.Cursor, pages: Sequence[Page], settings: darkpool.Settings) -> darkpool.Cursor:
    if not pages:
        return cursor
    last = pages[-1]
    if _darkpool_step(cursor, last.request, last, settings).blind:  # a pass stops at an unreadable page
        before = darkpool_advance(cursor, pages[:-1], settings)
        if darkpool._bound(last.request, "older_than") is not None:
            return before
        return darkpool._owed_from_top(cursor, before, last.request)
    day = darkpool._day_of(last.request)
    seen = [r.executed_at for p in pages if darkpool._day_of(p.request) == day for r in p.records]
    if day == cursor.day and cursor.newest is not None:
        seen.append(cursor.newest)
    at = darkpool.Cursor(ticker=cursor.ticker, day=day, newest=max(seen, default=None), target=cursor.target)
    bound = _darkpool_step(cursor, last.request, last, settings).bound
    if darkpool._segment(cursor, last.request) == "hole":
        cut = cursor.cut_at
        for page in pages:  # the day's top, owed since an unreadable page: read like a sweep from the top
            if (darkpool._bound(page.request, "older_than") or 0) >= day_end(day):
                cut = _darkpool_step(cursor, page.request, page, settings).bound
        return attrs.evolve(at, resume_before=bound, resume_after=None if bound is None else cursor.resume_after,
                            cut_at=cut)
    if bound is not None:
        return attrs.evolve(at, resume_before=bound, resume_after=darkpool._bound(last.request, "newer_than"),
                            cut_at=bound)
    following = market_day_after(day, cursor.target)
    return at if following is None else darkpool.Cursor(ticker=cursor.ticker, day=following, target=cursor.target)


def darkpool_warnings(cursor: darkpool.Cursor, pages: Sequence[Page], settings: darkpool.Settings) -> list[str]:
    found = darkpool.warnings(cursor, None, settings)
    for page in pages:
        step = _darkpool_step(cursor, page.request, page, settings)
        day = darkpool._day_of(page.request).isoformat()
        if step.gap is not None:
            found.append(
                f"{cursor.ticker}: at least {page.received} prints share {darkpool._spell(step.gap)} ({day}),"
                " a whole page; the API pages by time only, so some of them may be unreachable"
            )
        if step.blind:
            before = darkpool._bound(page.request, "older_than")
            top = before is None or before >= day_end(darkpool._day_of(page.request))
            where = "" if top else f" older than {darkpool._spell(darkpool._instant(before))}"
            why = "" if page.rejected is None else f" ({unreadable_why(page.rejected)})"
            found.append(f"{cursor.ticker}: a full page of {page.received} prints for {day}{where} could not be"
                         f" read{why}; {HALT_MARK}")
    return list(dict.fromkeys(found))


def options_flow_advance(cursor: options_flow.Cursor, pages: Sequence[Page],
                         settings: options_flow.Settings) -> options_flow.Cursor:
    if not pages:
        return cursor
    last = pages[-1]
    if options_flow._sweep(settings).step(cursor, last.request, last).blind:  # a pass stops at an unreadable page
        return options_flow_advance(cursor, pages[:-1], settings)
    seen = [r.created_at for p in pages for r in p.records]
    at = options_flow.Cursor(newest=max([*seen, *([cursor.newest] if cursor.newest else [])], default=None),
                             window_end=cursor.window_end)
    bound = options_flow._sweep(settings).step(cursor, last.request, last).bound
    if options_flow._sweep(settings).in_hole(cursor, last.request):
        return attrs.evolve(at, resume_before=bound, resume_after=None if bound is None else cursor.resume_after,
                            cut_at=cursor.cut_at)
    if bound is not None:
        return attrs.evolve(at, resume_before=bound, resume_after=options_flow._bound(last.request, "newer_than"),
                            cut_at=bound)
    return at


def options_flow_warnings(cursor: options_flow.Cursor, pages: Sequence[Page],
                          settings: options_flow.Settings) -> list[str]:
    found = options_flow.warnings(cursor, None, settings)
    for page in pages:
        step = options_flow._sweep(settings).step(cursor, page.request, page)
        if step.gap is not None:
            found.append(
                f"at least {page.received} alerts share {options_flow._spell(step.gap)}, a whole page;"
                " the API pages by time only, so some of them may be unreachable"
            )
        if step.blind:
            before = options_flow._bound(page.request, "older_than")
            where = "" if before is None else f" older than {options_flow._spell(options_flow._instant(before))}"
            why = "" if page.rejected is None else f" ({unreadable_why(page.rejected)})"
            found.append(f"a full page of {page.received} alerts{where} could not be read{why}; {HALT_MARK}")
    return list(dict.fromkeys(found))


def news_advance(cursor: news.Cursor, pages: Sequence[Page], settings: news.Settings) -> news.Cursor:
    if not pages:
        return cursor
    if cursor.newest is None:
        return _news_first_run(cursor, pages, settings)
    seen = [r.created_at for p in pages for r in p.records]
    newest_seen = max([*seen, *news._present(cursor.pending_newest)], default=None)
    if news._is_last(cursor, pages[-1], settings):
        return news.Cursor(newest=max([cursor.newest, *news._present(newest_seen)]))
    return attrs.evolve(cursor, resume_page=int(pages[-1].request.param("page") or 0) + 1,
                        pending_newest=newest_seen)


def _news_first_run(cursor: news.Cursor, pages: Sequence[Page], settings: news.Settings) -> news.Cursor:
    """Owed: what the cursor owed less the items of the pass below the oldest it had fetched; on the
    page that first reaches below it, only the headlines older than it count."""
    seen = [r.created_at for p in pages for r in p.records]
    top = max([*seen, *news._present(cursor.pending_newest)], default=None)
    if cursor.resume_page is None:
        owed = settings.first_run_pages * settings.page_size - sum(p.received for p in pages)
    else:
        below = [i for i, p in enumerate(pages) if any(r.created_at < cursor.oldest for r in p.records)]
        first = below[0] if below else len(pages)
        owed = cursor.owed - sum(1 for p in pages[first:first + 1] for r in p.records if r.created_at < cursor.oldest)
        owed -= sum(p.received for p in pages[first + 1:])
    if pages[-1].received < settings.page_size or owed <= 0 or top is None:
        return news.Cursor(newest=top)
    return news.Cursor(resume_page=int(pages[-1].request.param("page")) + 1, pending_newest=top, owed=owed,
                       oldest=min([*seen, *news._present(cursor.oldest)]))


def economic_calendar_advance(cursor: economic_calendar.Cursor, pages: Sequence[Page],
                              settings: economic_calendar.Settings) -> economic_calendar.Cursor:
    times = [r.time for p in pages for r in p.records]
    if cursor.latest is not None:
        times.append(cursor.latest)
    return economic_calendar.Cursor(latest=max(times, default=None))


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
    assert advance_over(module.advance, cursor, pages, settings) == saved
    if rescan_warnings is not None:
        assert warnings_over(module.warnings, cursor, pages, settings) == rescan_warnings(cursor, pages, settings)
