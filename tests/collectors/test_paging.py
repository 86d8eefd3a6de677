"""The kernel's paging strategies against models of what the API served, each once, over bare
declarations: `PerDate` (one series of pages per date of a window around today, each paged from 0
until a page comes back short) and `TimeSweep` (one sweep newest first; and by market day).

The sweeps are driven as the runner drives them (begin, then next_request / advance / warnings after
every page, the fold checked against rescan.py's model after every page) against endpoints that serve
ties in an order that changes from request to request, under either reading of their bounds.
(`PageNumber` is played in test_news.py, `Single` in test_economic_calendar.py, `DaySeries` in
test_day_series.py.)
"""

from __future__ import annotations

import collections
import copy
import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import attrs
import pytest
from attrs import frozen
from hypothesis import assume, event, example, given
from hypothesis import strategies as st
from rescan import check_fold
from strategies import aware_datetimes, tape_histories

from vvv.core.base import HALT_MARK, Collector, Halt, Page, Request, advance_over, warnings_over
from vvv.core.calendar import NY, is_trading_day, last_trading_day
from vvv.core.convert import CONVERTER, parse_timestamp
from vvv.core.paging import DateCursor, LatestCursor, PerDate, Single, SweepCursor, TimeSweep

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 10:00 in New York
TODAY = date(2026, 3, 10)
STRATEGY = PerDate("/api/earnings/{partition}")


@frozen
class _Settings:
    """What a strategy reads from a collector's settings, by name."""

    page_size: int = 3
    max_pages: int = 50
    days_back: int = 2
    days_ahead: int = 2
    lookback_seconds: int = 1
    first_run_hours: int = 1


@frozen
class _Record:
    id: int


@attrs.define
class Served:
    """The endpoint as a model: items per date, served in pages of `limit` by `page`; some pages come
    back unreadable (every item broken), and the API may count a page either way."""

    items: dict[date, list[int]]
    unreadable: set[tuple[date, int]] = attrs.Factory(set)
    requests: list[Request] = attrs.Factory(list)

    def respond(self, request: Request) -> Page:
        assert request.path == "/api/earnings/premarket"
        self.requests.append(request)
        day, number, limit = date.fromisoformat(request.param("date")), int(request.param("page")), int(
            request.param("limit"))
        chunk = self.items.get(day, [])[number * limit:(number + 1) * limit]
        if (day, number) in self.unreadable:
            return Page(request, len(chunk), (), rejected="id: expected an integer")
        return Page(request, len(chunk), tuple(_Record(i) for i in chunk))


def _pass(served: Served, saved: DateCursor | None, settings: _Settings, *, stop_after: int | None = None
          ) -> tuple[DateCursor, DateCursor, list[Page]]:
    """One pass composed as the runner does it; `stop_after` pages, the pass dies (a crash)."""
    start = STRATEGY.begin(saved, "premarket", NOW, settings)
    cursor, pages = start, []
    request = STRATEGY.next_request(start, None, None, settings, "premarket")
    while request is not None and len(pages) != stop_after:
        assert len(pages) < settings.max_pages
        page = served.respond(request)
        cursor = STRATEGY.advance(start, cursor, page, settings, "premarket")
        pages.append(page)
        request = STRATEGY.next_request(start, request, page, settings, "premarket")
    assert advance_over(lambda *call: STRATEGY.advance(*call, "premarket"), start, pages, settings) == cursor
    return start, cursor, pages


WINDOW = [TODAY + timedelta(days=d) for d in range(-2, 3)]
feeds = st.fixed_dictionaries({day: st.integers(0, 10) for day in WINDOW}).map(
    lambda counts: {day: list(range(i * 100, i * 100 + n)) for i, (day, n) in enumerate(counts.items())})


def _ids(pages: list[Page]) -> set[int]:
    return {r.id for page in pages for r in page.records}


@given(feeds, st.integers(1, 4))
def test_a_pass_reads_every_date_of_the_window_oldest_first_until_a_short_page(items: dict[date, list[int]],
                                                                               page_size: int) -> None:
    settings, served = _Settings(page_size=page_size), Served(items)
    _, saved, pages = _pass(served, None, settings)
    assert _ids(pages) == {i for day in WINDOW for i in items[day]}
    days = [r.param("date") for r in served.requests]
    assert days == sorted(days) and set(days) == {d.isoformat() for d in WINDOW}  # every date, even an empty one
    for day in WINDOW:  # each date paged 0, 1, ... up to the first short page: one more when it divides evenly
        numbers = [int(r.param("page")) for r in served.requests if r.param("date") == day.isoformat()]
        assert numbers == list(range(len(items[day]) // page_size + 1))
    assert saved.day is None  # done: the next pass starts over at the window's first date


@given(feeds, st.integers(1, 4), st.lists(st.integers(0, 6), min_size=1, max_size=6))
def test_passes_cut_short_anywhere_resume_where_they_stopped_and_miss_nothing(
        items: dict[date, list[int]], page_size: int, cuts: list[int]) -> None:
    settings = _Settings(page_size=page_size)
    whole = Served(items)
    _, _, everything = _pass(whole, None, settings)
    served, saved, fetched = Served(items), None, set()
    for cut in cuts:  # crashes after `cut` pages, each pass going on from the cursor saved before
        _, saved, pages = _pass(served, saved, settings, stop_after=cut)
        fetched |= _ids(pages)
        if saved.day is None:
            break
    else:
        _, saved, pages = _pass(served, saved, settings)
        fetched |= _ids(pages)
    assert fetched == _ids(everything)
    assert [r.params for r in served.requests] == [r.params for r in whole.requests]  # no page read twice


@given(feeds, st.integers(1, 3), st.integers(1, 5))
def test_the_page_cap_stops_a_pass_and_the_next_goes_on_from_the_request_owed(
        items: dict[date, list[int]], page_size: int, cap: int) -> None:
    settings = _Settings(page_size=page_size, max_pages=cap)
    served, saved, fetched = Served(items), None, set()
    for _ in range(100):
        _, saved, pages = _pass(served, saved, settings)
        assert len(pages) <= cap
        fetched |= _ids(pages)
        if saved.day is None:
            break
    assert fetched == {i for day in WINDOW for i in items[day]}


@given(feeds, st.data())
def test_an_unreadable_full_page_is_stepped_over_since_page_numbers_say_where_the_next_is(
        items: dict[date, list[int]], data: st.DataObject) -> None:
    settings = _Settings(page_size=2)
    full = [(day, n) for day in WINDOW for n in range(len(items[day]) // 2)]
    broken = set(data.draw(st.lists(st.sampled_from(full), unique=True), label="broken") if full else [])
    served = Served(items, unreadable=broken)
    _, saved, pages = _pass(served, None, settings)
    lost = {i for day, n in broken for i in items[day][n * 2:(n + 1) * 2]}
    assert _ids(pages) == {i for day in WINDOW for i in items[day]} - lost
    assert saved.day is None


@given(st.sampled_from([None, DateCursor(day=TODAY - timedelta(days=30), page=4),
                        DateCursor(day=TODAY + timedelta(days=1), page=2)]))
def test_begin_takes_the_window_from_the_clock_and_resumes_only_inside_it(saved: Any) -> None:
    start = STRATEGY.begin(saved, "premarket", NOW, _Settings())
    assert (start.first, start.last) == (WINDOW[0], WINDOW[-1])
    inside = saved is not None and WINDOW[0] <= saved.day <= WINDOW[-1]
    assert (start.day, start.page) == ((saved.day, saved.page) if inside else (WINDOW[0], 0))
    request = STRATEGY.next_request(start, None, None, _Settings(), "afterhours")
    assert request.path == "/api/earnings/afterhours"
    assert dict(request.params) == {"date": start.day.isoformat(), "page": str(start.page), "limit": "3"}


@given(feeds, st.integers(0, 12))
def test_a_response_that_is_not_a_page_stops_the_pass_and_is_asked_again_never_taken_as_empty(
        items: dict[date, list[int]], at: int) -> None:
    settings, served = _Settings(page_size=2), Served(items)
    _, _, everything = _pass(Served(items), None, settings)
    start = STRATEGY.begin(None, "premarket", NOW, settings)
    saved, request, pages = start, STRATEGY.next_request(start, None, None, settings, "premarket"), []
    while request is not None and len(pages) < at:
        page = served.respond(request)
        saved, pages = STRATEGY.advance(start, saved, page, settings, "premarket"), [*pages, page]
        request = STRATEGY.next_request(start, request, page, settings, "premarket")
    if request is None:
        return
    broken = Page(request, 0, (), rejected="response has no `data` list")
    assert STRATEGY.next_request(start, request, broken, settings, "premarket") is None
    kept = STRATEGY.advance(start, saved, broken, settings, "premarket")
    assert kept == saved
    again = STRATEGY.begin(kept, "premarket", NOW, settings)
    assert STRATEGY.next_request(again, None, None, settings, "premarket").params == request.params
    _, _, rest = _pass(served, kept, settings)
    assert _ids(pages) | _ids(rest) == _ids(everything)


def test_each_collector_module_declares_one_collector_and_the_registry_lists_those() -> None:
    import pkgutil

    import vvv.collectors
    from vvv.collectors import COLLECTORS

    modules = [m.name for m in pkgutil.iter_modules(vvv.collectors.__path__)]
    declared = {}
    for name in modules:
        module = __import__(f"vvv.collectors.{name}", fromlist=["COLLECTOR"])
        assert [k for k, v in vars(module).items() if isinstance(v, Collector)] == ["COLLECTOR"], name
        declared[module.COLLECTOR.spec.name] = module.COLLECTOR
    assert COLLECTORS == declared
    assert {name for name, c in COLLECTORS.items() if c.strategy.backfills} == {
        "darkpool", "options_flow", "ohlc", "spot_exposures", "net_prem_ticks"}


def test_a_declaration_that_cannot_work_is_refused_when_the_module_loads() -> None:
    """The mistakes a new collector makes once: each is a TypeError naming it, not a failed pass."""
    from vvv.collectors import economic_calendar, news

    spec = news.SPEC
    for wrong, words in ((dict(time_column="tags"), "time_column 'tags' must be a datetime field"),
                         (dict(time_column="nope"), "time_column 'nope'")):
        with pytest.raises(TypeError, match=words):
            attrs.evolve(spec, **wrong)
    assert attrs.evolve(spec, time_column="collected_at").storable  # the database's clock: nothing to check
    with pytest.raises(TypeError, match="Spec.cursor must be the strategy's cursor type"):
        attrs.evolve(news.COLLECTOR, strategy=economic_calendar.COLLECTOR.strategy)
    with pytest.raises(TypeError, match="the Item decodes Event, the Spec stores Headline"):
        attrs.evolve(news.COLLECTOR, item=economic_calendar.COLLECTOR.item)
    with pytest.raises(TypeError, match="need the fields its strategy reads: page_size, max_pages, first_run_pages"):
        attrs.evolve(news.COLLECTOR, spec=attrs.evolve(spec, settings=economic_calendar.Settings))
    with pytest.raises(TypeError, match="without `build`"):
        attrs.evolve(news.COLLECTOR, build=None)  # its id is computed: the default build cannot make it


def test_a_cursor_not_from_begin_is_refused() -> None:
    try:
        STRATEGY.next_request(DateCursor(), None, None, _Settings())
    except ValueError as error:
        assert "begin" in str(error)
    else:
        raise AssertionError("next_request planned from a cursor begin did not make")
    assert not STRATEGY.backfills and STRATEGY.window(NOW, NOW) is None


# `TimeSweep`, one sweep newest first, against a feed of items timed to the microsecond, paged by
# milliseconds, ties in an order that changes per request, the bounds read either way.

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
SWEEP_NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
SWEEP = TimeSweep(path="/t", time_field="at", noun="items", late="items reported late")


@frozen
class On:
    """A strategy's planning calls for one partition, in the four-argument forms `vvv.core.base`'s folds take."""

    strategy: Any
    partition: str

    def begin(self, saved: Any, now: Any, settings: Any) -> Any:
        return self.strategy.begin(saved, self.partition, now, settings)

    def next_request(self, cursor: Any, previous: Any, page: Any, settings: Any) -> Any:
        return self.strategy.next_request(cursor, previous, page, settings, self.partition)

    def advance(self, cursor: Any, saved: Any, page: Page, settings: Any) -> Any:
        return self.strategy.advance(cursor, saved, page, settings, self.partition)

    def warnings(self, cursor: Any, page: Any, settings: Any) -> list[str]:
        return self.strategy.warnings(cursor, page, settings, self.partition)


PLAIN = On(SWEEP, "")


def _read_pages(on: On, start: SweepCursor, respond: Any, settings: _Settings, count: int
                ) -> tuple[SweepCursor, Request | None]:
    """The first `count` pages of a pass from `start`, as the runner reads them: the cursor saved, the next request."""
    saved, request = start, on.next_request(start, None, None, settings)
    for _ in range(count):
        if request is None:
            break
        page = respond(request)
        saved = on.advance(start, saved, page, settings)
        request = on.next_request(start, request, page, settings)
    return saved, request


@frozen
class _Timed:
    at: datetime
    id: int


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // MS


def _inside(ms: int, newer: int | None, older: int | None, inclusive: bool) -> bool:
    if inclusive:
        return (newer is None or ms >= newer) and (older is None or ms <= older)
    return (newer is None or ms > newer) and (older is None or ms < older)


def _served(request: Request, chosen: list[tuple[int, int]]) -> Page:
    """(microsecond, id) items newest first, ties in an order that changes with the request, `limit` of them."""
    ties = random.Random(repr(sorted(request.params)))
    chosen = sorted(chosen, key=lambda item: (-item[0], ties.random()))[:int(request.param("limit"))]
    return Page(request, len(chosen), tuple(_Timed(EPOCH + timedelta(microseconds=us), n) for us, n in chosen))


class Feed:
    """The endpoint as a model: items (microsecond, id), newest first, bounds in milliseconds."""

    def __init__(self, *, inclusive: bool) -> None:
        self.inclusive = inclusive
        self.items: list[tuple[int, int]] = []
        self.requests: list[Request] = []

    def publish(self, times_us: Sequence[int]) -> None:
        start = len(self.items)
        self.items += [(us, start + i) for i, us in enumerate(times_us)]

    def respond(self, request: Request) -> Page:
        assert request.path == "/t"
        self.requests.append(request)
        params = dict(request.params)
        assert set(params) <= {"limit", "newer_than", "older_than"}
        newer, older = (int(params[k]) if k in params else None for k in ("newer_than", "older_than"))
        return _served(request, [a for a in self.items if _inside(a[0] // 1000, newer, older, self.inclusive)])


def sweep(feed: Feed, cursor: SweepCursor | None, settings: _Settings, now: datetime
          ) -> tuple[SweepCursor | None, set[int], int, list[str]]:
    """One pass composed as the runner does; returns the saved cursor, the ids fetched, requests and warnings."""
    start = SWEEP.begin(cursor, "", now, settings)
    pages: list[Page] = []
    saved = cursor
    request = SWEEP.next_request(start, None, None, settings)
    while request is not None:
        assert len(pages) < settings.max_pages, "a pass did not stop at its page cap"
        page = feed.respond(request)
        saved = SWEEP.advance(start, start if not pages else saved, page, settings)
        pages.append(page)
        check_fold(SWEEP, start, saved, pages, settings)
        request = SWEEP.next_request(start, request, page, settings)
    saved = CONVERTER.structure(CONVERTER.unstructure(saved), SweepCursor) if saved else saved
    ids = {r.id for p in pages for r in p.records}
    return saved, ids, len(pages), warnings_over(SWEEP.warnings, start, pages, settings)


sweep_settings = st.builds(_Settings, page_size=st.integers(min_value=1, max_value=6),
                           lookback_seconds=st.sampled_from([0, 1, 5, 60]),
                           max_pages=st.sampled_from([1, 2, 3, 1000]), first_run_hours=st.just(1))
# Gaps between items in microseconds: ties, the same millisecond, the next, seconds apart.
gaps = st.lists(st.sampled_from([0, 0, 1, 400, 1000, 1500, 1_000_000, 7_000_000]), min_size=0, max_size=20)


@given(sweep_settings, st.booleans(), gaps, st.lists(st.tuples(gaps, st.lists(st.integers(0, 60_000_000),
                                                                             max_size=3)), max_size=5))
def test_after_any_history_every_item_served_in_the_window_is_fetched_once_the_passes_catch_up(
        settings, inclusive, first, later):
    """New items arrive between passes, some late (older than the newest, within the lookback);
    whatever the bounds mean, the passes end with every item fetched but those a warning names, and
    a warning names some only when a whole page of them shares a millisecond."""
    feed = Feed(inclusive=inclusive)
    now = SWEEP_NOW
    since_us = _ms(now - timedelta(hours=settings.first_run_hours)) * 1000
    t = since_us - 3_000_000  # some items before the first pass's window
    for gap in first:
        t += gap
        feed.publish([t])
    cursor, fetched, warned = None, set(), []
    for new, late in [((), ()), *later]:
        for gap in new:
            t += gap
            feed.publish([t])
        if cursor is not None and cursor.newest is not None and cursor.cut_at is None:
            newest_us = _ms(cursor.newest) * 1000
            feed.publish([max(since_us, newest_us - min(offset, settings.lookback_seconds * 1_000_000))
                          for offset in late])
        cursor, ids, _, warnings = sweep(feed, cursor, settings, now)
        fetched |= ids
        warned += warnings
    for _ in range(200):  # catch up: passes with nothing new until nothing is owed
        if cursor is None or (cursor.resume_before is None and cursor.cut_at is None):
            break
        cursor, ids, _, warnings = sweep(feed, cursor, settings, now)
        fetched |= ids
        warned += warnings
    assert cursor is None or (cursor.resume_before is None and cursor.cut_at is None), "never caught up"
    expected = {n for us, n in feed.items if us // 1000 >= since_us // 1000}
    missing = expected - fetched
    if max(Counter(us // 1000 for us, _ in feed.items).values(), default=0) < settings.page_size:
        assert not [w for w in warned if "share" in w]  # no burst fills a page
    if missing:
        assert any("share" in w for w in warned), (missing, warned)
    else:
        assert fetched <= {n for _, n in feed.items}


@given(st.integers(min_value=3, max_value=8), st.booleans(), st.integers(min_value=0, max_value=40),
       st.integers(min_value=0, max_value=40))
def test_an_incremental_pass_makes_at_most_the_requests_its_new_items_need(page_size, inclusive, old, new):
    """Distinct instants, no lookback: k new items cost at most ceil(k / (page_size - 2)) + 2 requests."""
    settings = _Settings(page_size=page_size, lookback_seconds=0, max_pages=10_000)
    feed = Feed(inclusive=inclusive)
    base = _ms(SWEEP_NOW - timedelta(minutes=30)) * 1000
    feed.publish([base + i * 1000 for i in range(old)])
    cursor, _, _, _ = sweep(feed, None, settings, SWEEP_NOW)
    feed.publish([base + (old + 1 + i) * 1000 for i in range(new)])
    cursor, ids, requests, warnings = sweep(feed, cursor, settings, SWEEP_NOW)
    assert requests <= math.ceil((new + 1) / (page_size - 2)) + 2
    assert {n for _, n in feed.items[old:]} <= ids and warnings == []


@given(st.integers(min_value=1, max_value=5), st.booleans(), st.integers(min_value=1, max_value=3))
def test_a_page_of_items_sharing_one_instant_is_stepped_over_and_named(page_size, inclusive, extra):
    settings = _Settings(page_size=page_size, max_pages=50)
    feed = Feed(inclusive=inclusive)
    at = _ms(SWEEP_NOW - timedelta(minutes=5)) * 1000
    feed.publish([at - 5_000_000, *[at] * (page_size + extra), at + 5_000_000])
    cursor, ids, requests, warnings = sweep(feed, None, settings, SWEEP_NOW)
    assert {0, len(feed.items) - 1} <= ids
    assert any(f"at least {page_size} items share" in w and "a whole page" in w for w in warnings)
    assert cursor.resume_before is None and requests < 10


@given(sweep_settings, st.booleans(), gaps, st.integers(0, 40), st.integers(0, 40))
def test_a_backfill_window_is_read_whole_from_its_top_down_and_nothing_above_it(settings, inclusive, history,
                                                                                 low, high):
    """Passes over a window (cut by the page cap as they may be) read every item timed inside it, but
    those a warning names; never ask above it, nor read further than a millisecond outside it; and end
    finished, the next pass asking nothing."""
    feed, base = Feed(inclusive=inclusive), _ms(SWEEP_NOW - timedelta(hours=30)) * 1000
    feed.publish([base + sum(history[:i + 1]) for i in range(len(history))])
    times = sorted(us for us, _ in feed.items) or [base]
    first, last = times[min(low, len(times) - 1)], times[max(len(times) - 1 - high, 0)]
    start, end = EPOCH + timedelta(microseconds=min(first, last)), EPOCH + timedelta(microseconds=max(first, last))
    cursor, fetched, warned, passes = SWEEP.window(start, end), set(), [], 0
    while not SWEEP.finished(cursor):
        passes += 1
        assert passes <= len(feed.items) + 2, "the window never finished"
        assert SWEEP.begin(cursor, "", SWEEP_NOW, settings) == cursor  # a window ignores the clock
        cursor, ids, _, warnings = sweep(feed, cursor, settings, SWEEP_NOW)
        fetched |= ids
        warned += warnings
    assert SWEEP.next_request(cursor, None, None, settings) is None
    inside = {n for us, n in feed.items if _ms(start) <= us // 1000 <= _ms(end)}
    assert inside <= fetched or any("share" in w for w in warned)
    near = {n for us, n in feed.items if _ms(start) - 1 <= us // 1000 <= _ms(end) + 1}
    assert fetched <= near
    assert all(int(r.param("older_than")) <= _ms(end) + 1 and int(r.param("newer_than")) == _ms(start) - 1
               for r in feed.requests)


def test_the_first_pass_reads_back_first_run_hours_only():
    settings = _Settings(first_run_hours=2, page_size=10, lookback_seconds=300, max_pages=100)
    feed = Feed(inclusive=False)
    hours = [_ms(SWEEP_NOW - timedelta(hours=h)) * 1000 for h in (3, 2.5, 2, 1.5, 0.1)]
    feed.publish(hours)
    cursor, ids, _, _ = sweep(feed, None, settings, SWEEP_NOW)
    assert ids == {2, 3, 4}
    assert cursor.newest == EPOCH + timedelta(microseconds=hours[-1])


def test_a_time_sweep_needs_a_cursor_from_begin():
    for strategy in (SWEEP, DAY_SWEEP):
        with pytest.raises(ValueError, match="begin"):
            strategy.next_request(SweepCursor(), None, None, _Settings())


_BOUNDS = st.none() | st.integers(min_value=-(2**62), max_value=2**62)


@given(st.builds(SweepCursor, day=st.none() | st.dates(), newest=st.none() | aware_datetimes.map(
    lambda d: d.astimezone(UTC)), resume_before=_BOUNDS, resume_after=_BOUNDS, cut_at=_BOUNDS,
    target=st.none() | st.dates(), since=_BOUNDS, window_end=_BOUNDS))
def test_the_sweep_cursor_survives_a_round_trip_through_json(cursor):
    text = json.dumps(CONVERTER.unstructure(cursor))
    assert CONVERTER.structure(json.loads(text), SweepCursor) == cursor


def test_a_full_page_below_the_window_ends_the_sweep():
    settings = _Settings(page_size=2, max_pages=500)
    start = SWEEP.begin(None, "", SWEEP_NOW, settings)
    junk = tuple(_Timed(datetime(2020, 1, 1, tzinfo=UTC), 1) for _ in range(2))
    request, bounds = SWEEP.next_request(start, None, None, settings), []
    while request is not None:
        request = SWEEP.next_request(start, request, Page(request, 2, junk), settings)
        if request is not None:
            bounds.append(int(request.param("older_than")))
    assert bounds == []


# A page none of whose items can be read.

UNREADABLE = "Invalid isoformat string: '12/01/2026 14:00:00 ET' @ item.at"


@given(sweep_settings, st.booleans(), gaps, st.integers(0, 5), st.booleans())
def test_a_page_none_of_whose_items_can_be_read_stops_the_sweep_there_with_the_cursor_kept(
    settings, inclusive, history, blind_at, cut_first
):
    """Wherever the unreadable page comes (a first pass, a hole, a top sweep), the pass stops there,
    the cursor saved is the one saved before it, the next pass asks for that page again, and the pass
    says why, naming the field and the value."""
    feed, now = Feed(inclusive=inclusive), SWEEP_NOW
    base = _ms(now - timedelta(minutes=30)) * 1000
    feed.publish([base + sum(history[:i + 1]) for i in range(len(history))])
    cursor = None
    if cut_first:
        cursor, *_ = sweep(feed, None, attrs.evolve(settings, max_pages=1), now)
        feed.publish([base + 10**8 + i * 1000 for i in range(7)])
    start = SWEEP.begin(cursor, "", now, settings)
    saved, request = _read_pages(PLAIN, start, feed.respond, settings, blind_at)
    if request is None:
        return
    blind = Page(request, settings.page_size, (), rejected=UNREADABLE)
    assert SWEEP.next_request(start, request, blind, settings) is None
    kept = SWEEP.advance(start, saved, blind, settings)
    assert kept == saved
    again = SWEEP.next_request(SWEEP.begin(kept, "", now, settings), None, None, settings)
    assert again.param("newer_than") is None or int(again.param("newer_than")) <= int(request.param("newer_than"))
    assert int(again.param("older_than") or 2**62) >= int(request.param("older_than") or 2**62)
    (halt,) = [w for w in SWEEP.warnings(start, blind, settings) if isinstance(w, Halt)]
    assert halt.startswith(f"a full page of {settings.page_size} items")
    assert halt.endswith(f"could not be read (at: Invalid isoformat string: '12/01/2026 14:00:00 ET'); {HALT_MARK}")


def test_a_time_sweep_takes_a_response_that_is_not_a_page_for_a_page_it_cannot_read() -> None:
    settings = _Settings()
    start = SWEEP.begin(None, "", NOW, settings)
    request = SWEEP.next_request(start, None, None, settings)
    broken = Page(request, 0, (), rejected="response has no `data` list")
    assert SWEEP.next_request(start, request, broken, settings) is None
    assert SWEEP.advance(start, start, broken, settings) == start
    (halt,) = SWEEP.warnings(start, broken, settings)
    assert isinstance(halt, Halt) and halt.endswith(HALT_MARK) and "not a page (response has no `data` list)" in halt


# `TimeSweep` by market day: one request series per day, every day owed swept in order, against a
# tape of prints per day timed to the millisecond.

DAY_SWEEP = TimeSweep(path="/t/{partition}", time_field="at", noun="prints", late="prints of {day} reported late",
                      by_market_day=True)
DAY_DEFAULTS = _Settings(page_size=500, lookback_seconds=300, max_pages=200)


SPY = On(DAY_SWEEP, "SPY")
day_settings = st.builds(_Settings, page_size=st.integers(min_value=1, max_value=6),
                         lookback_seconds=st.sampled_from([0, 1, 5, 30, 300]),
                         max_pages=st.sampled_from([1, 2, 3, 5, 8, 10_000]))
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def _instant(ms: int) -> datetime:
    return EPOCH + ms * MS


SESSION_OPEN = time(9, 30)
FIRST_DAY = date(2025, 10, 22)  # a Wednesday


class Tape:
    """The endpoint as a model: prints per market day, newest first, ties in an order that changes
    with the request, and `newer_than`/`older_than` inclusive or exclusive."""

    def __init__(self, ticker: str, *, inclusive: bool) -> None:
        self.ticker = ticker
        self.inclusive = inclusive
        self.days: dict[date, list[tuple[int, int]]] = {}
        self._next_id = 71_984_388_012_245

    def publish(self, day: date, times_ms: Iterable[int]) -> list[tuple[int, int]]:
        added = []
        for ms in times_ms:
            added.append((ms, self._next_id))
            self._next_id += 1
        self.days.setdefault(day, []).extend(added)
        return added

    def newest(self, day: date) -> int | None:
        return max((ms for ms, _ in self.days.get(day, [])), default=None)

    def window(self, day: date, newer_than: int | None, older_than: int | None) -> list[tuple[int, int]]:
        return [p for p in self.days.get(day, []) if _inside(p[0], newer_than, older_than, self.inclusive)]

    def respond(self, request: Request) -> Page:
        assert request.path == f"/t/{self.ticker}"
        params = dict(request.params)
        assert set(params) <= {"date", "limit", "newer_than", "older_than"}
        assert 1 <= int(params["limit"]) <= 500
        bounds = [int(params[k]) if k in params else None for k in ("newer_than", "older_than")]
        return _served(request, [(ms * 1000, n) for ms, n in self.window(date.fromisoformat(params["date"]), *bounds)])


@attrs.frozen
class Pass:
    start: SweepCursor
    saved: SweepCursor | None
    pages: tuple[Page, ...]
    warnings: tuple[str, ...]
    now: datetime

    @property
    def ids(self) -> set[int]:
        return {record.id for page in self.pages for record in page.records}

    @property
    def incremental(self) -> bool:
        """A pass over the same day as the last one, with nothing owed from before."""
        start = self.start
        return start.newest is not None and start.cut_at is None and start.day == start.target


_RUNAWAY = 400


def collect(tape: Tape, cursor: SweepCursor | None, settings: _Settings, now: datetime, *,
            stop_after: int | None = None) -> Pass:
    """One pass composed as the runner does: begin, then plan, fetch, advance after every page."""
    start = SPY.begin(cursor, now, settings)
    pages: list[Page] = []
    saved = cursor
    request = SPY.next_request(start, None, None, settings)
    while request is not None and len(pages) != stop_after:
        assert len(pages) < min(settings.max_pages, _RUNAWAY), f"a pass from {start} did not stop"
        page = tape.respond(request)
        saved = SPY.advance(start, start if not pages else saved, page, settings)
        pages.append(page)
        check_fold(DAY_SWEEP, start, saved, pages, settings, "SPY")
        request = SPY.next_request(start, request, page, settings)
    return Pass(start, saved, tuple(pages), tuple(warnings_over(SPY.warnings, start, pages, settings)), now)


def _warned_instants(warnings: Iterable[str], ticker: str) -> set[datetime]:
    return {parse_timestamp(m) for w in warnings if w.startswith(f"{ticker}:") for m in _TIMESTAMP.findall(w)}


def _ny(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=NY).astimezone(UTC)


@attrs.define
class Market:
    """The model over time: a tape, a clock, the collector's saved cursor, what it owes and what it fetched.

    A print is owed unless it arrived late beyond the lookback: for a day the collector had already
    finished, or older than the newest print it had stored for that day minus the lookback. Nor is
    one reported late into the band a sweep cut short left above its hole (see `unread_band`), for
    which the collector warns.
    """

    tape: Tape
    settings: _Settings
    clock: datetime
    cursor: SweepCursor | None = None
    owed: dict[int, tuple[date, int]] = attrs.Factory(dict)
    fetched: set[int] = attrs.Factory(set)
    warnings: list[str] = attrs.Factory(list)
    passes: list[Pass] = attrs.Factory(list)
    unread_band: list[tuple[date, int]] = attrs.Factory(list)

    @property
    def market_day(self) -> date:
        return last_trading_day(self.clock.astimezone(NY).date())

    def publish(self, day: date, times_ms: Iterable[int]) -> None:
        for ms, n in self.tape.publish(day, list(times_ms)):
            if self._late_beyond_lookback(day, ms):
                continue
            if self._in_unread_band(day, ms):
                self.unread_band.append((day, ms))
            else:
                self.owed[n] = (day, ms)

    def _late_beyond_lookback(self, day: date, ms: int) -> bool:
        cursor = self.cursor
        if cursor is None or cursor.day is None or day > cursor.day:
            return False
        return day < cursor.day or (cursor.newest is not None and ms < _ms(cursor.newest) - self.lookback_ms)

    def _in_unread_band(self, day: date, ms: int) -> bool:
        """Below the cut of a sweep cut short and above what its hole still owes: read, and not read again."""
        cursor = self.cursor
        if cursor is None or cursor.day != day or cursor.cut_at is None or cursor.newest is None:
            return False
        low = _ms(cursor.newest) - self.lookback_ms
        if cursor.resume_before is not None:
            low = max(low, cursor.resume_before)
        return low <= ms < cursor.cut_at

    @property
    def lookback_ms(self) -> int:
        return self.settings.lookback_seconds * 1000

    def step(self, *, days: int, late: Sequence[tuple[int, int]], new: Sequence[int]) -> None:
        """Jump the clock, publish late prints for the latest day that has any, then new ones if the market is open."""
        if days:
            self.clock = _ny(self.clock.astimezone(NY).date() + timedelta(days=days), SESSION_OPEN)
        latest = max(self.tape.days, default=None)
        for behind, count in late:
            if latest is not None:
                self.publish(latest, [self.tape.newest(latest) - behind] * count)
        today = self.clock.astimezone(NY).date()
        if new and is_trading_day(today):
            top = self.tape.newest(today)
            t = _ms(self.clock) if top is None else top
            times = []
            for gap in new:
                t += gap
                times.append(t)
            self.publish(today, times)
            self.clock = max(self.clock, _instant(max(times)))

    def run(self, *, stop_after: int | None = None) -> Pass:
        done = collect(self.tape, self.cursor, self.settings, self.clock, stop_after=stop_after)
        self.fetched |= done.ids
        self.warnings += done.warnings
        self.cursor = done.saved
        self.passes.append(done)
        return done

    def missing(self) -> list[tuple[date, datetime]]:
        """Owed prints not fetched, except those at an instant a warning named."""
        warned = _warned_instants(self.warnings, self.tape.ticker)
        return sorted(
            (day, _instant(ms)) for n, (day, ms) in self.owed.items()
            if n not in self.fetched and _instant(ms) not in warned
        )

    def left_behind(self) -> list[tuple[date, datetime]]:
        """Owed prints the saved cursor claims to be past, yet not fetched (nor warned)."""
        cursor = self.cursor
        if cursor is None:
            return []
        return [(day, moment) for day, moment in self.missing() if _behind(cursor, day, _ms(moment), self.lookback_ms)]

    def catch_up(self) -> None:
        """Passes with no new prints until nothing owed is missing, within a generous bound."""
        for _ in range(3 * len(self.owed) + 6):
            if not self.missing():
                return
            self.run()

    def copy(self) -> Market:
        return attrs.evolve(self, tape=copy.deepcopy(self.tape), owed=dict(self.owed), fetched=set(self.fetched),
                            warnings=list(self.warnings), passes=list(self.passes))


def _behind(cursor: SweepCursor, day: date, ms: int, lookback_ms: int) -> bool:
    """Whether the cursor says every print at (day, ms) has been fetched.

    After a cut, the hole below it is owed, and the top sweep still reads from the newest print
    down to the cut (or the lookback, if lower), so prints reported late there are not claimed.
    """
    if cursor.day is None or day > cursor.day:
        return False
    if day < cursor.day:
        return True
    if cursor.newest is None or ms > _ms(cursor.newest):
        return False
    if cursor.cut_at is None:
        return True
    if cursor.resume_after is not None and ms <= cursor.resume_after:
        return True
    # At the hole's top itself only later prints are claimed: a bound that steps over a page of
    # prints sharing one millisecond reads that millisecond again (inclusive) or warns (exclusive).
    low = -math.inf if cursor.resume_before is None else cursor.resume_before
    return low < ms < max(cursor.cut_at, _ms(cursor.newest) - lookback_ms)


def _market(settings: _Settings, inclusive: bool) -> Market:
    return Market(Tape("SPY", inclusive=inclusive), settings, _ny(FIRST_DAY, SESSION_OPEN))


def _play(market: Market, history: Sequence[dict[str, Any]]) -> None:
    for step in history:
        market.step(days=step["days"], late=step["late"], new=step["new"])
        market.run(stop_after=step["stop"])
        assert market.left_behind() == []


@given(day_settings, st.booleans(), tape_histories())
@example(attrs.evolve(DAY_DEFAULTS, page_size=2, max_pages=10_000, lookback_seconds=0), True,
         [{"days": 0, "late": [], "new": [0, 0, 0, 1000, 0], "stop": None},
          {"days": 0, "late": [(0, 2)], "new": [0, 1000], "stop": None}])
@example(attrs.evolve(DAY_DEFAULTS, page_size=3, max_pages=1, lookback_seconds=300), False,
         [{"days": 0, "late": [], "new": [1000] * 12, "stop": None},
          {"days": 1, "late": [(1000, 2)], "new": [1000] * 7, "stop": None}])
def test_after_any_history_every_print_served_is_fetched_once_the_passes_catch_up(settings, inclusive, history):
    """Under either bound reading, with late prints, ties, day changes and passes cut short:
    no pass leaves anything behind its saved cursor, and once passes catch up nothing owed is
    missing except prints at an instant a warning named (a whole page of prints sharing it)."""
    market = _market(settings, inclusive)
    _play(market, history)
    market.catch_up()
    assert market.missing() == []
    assert market.fetched <= {n for prints in market.tape.days.values() for _, n in prints}
    if market.unread_band:
        assert any("may be missed" in w and "max_pages" in w for w in market.warnings)


def _same_millisecond_counts(prints: Iterable[tuple[int, int]], inclusive: bool) -> int:
    """The most prints a later page can read again: one millisecond's, plus the next one's if bounds are inclusive."""
    counts = collections.Counter(ms for ms, _ in prints)
    return max((n + (counts[ms + 1] if inclusive else 0) for ms, n in counts.items()), default=0)


def request_bound(k: int, page_size: int, tie: int) -> int:
    """The most requests an incremental pass makes for k prints when no more than `tie` prints share a
    millisecond (two adjacent ones under the inclusive reading) and tie < page_size: every full page
    after the first brings at least page_size - tie new prints, and the last page is short."""
    if k < page_size:
        return 1
    return 2 + (k - page_size) // (page_size - tie)


def _window(market: Market, done: Pass) -> list[tuple[int, int]]:
    floor = _ms(done.start.newest) - market.lookback_ms - 1
    return market.tape.window(done.start.day, floor, None)


@given(day_settings, st.booleans(), tape_histories(interruptions=False))
def test_an_incremental_pass_makes_at_most_the_requests_its_new_prints_need(settings, inclusive, history):
    """k prints newer than the lookback floor (new ones and those read again) cost at most
    `request_bound(k, page_size, tie)` requests; with page_size 500 that is ceil(k / 500) + 1
    whenever ceil(k / 500) * tie < 500 (see the next test)."""
    market = _market(settings, inclusive)
    for step in history:
        market.step(days=step["days"], late=step["late"], new=step["new"])
        done = market.run()
        if not (done.incremental and done.saved.resume_before is None):
            continue
        window = _window(market, done)
        assert {r.id for p in done.pages for r in p.records} <= {n for _, n in window}
        tie = _same_millisecond_counts(window, inclusive)
        event(f"ties fit a page: {tie < settings.page_size}, requests: {min(len(done.pages), 3)}")
        if tie < settings.page_size:
            assert done.warnings == ()
            assert done.ids == {n for _, n in window}
            assert len(done.pages) <= request_bound(len(done.ids), settings.page_size, tie)


@st.composite
def busy_days(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """A day already collected, then new prints and late prints within the lookback, in bursts of up to 40 a second."""
    rng = draw(st.randoms(use_true_random=False))
    largest = draw(st.integers(min_value=1, max_value=40))

    def burst_times(start_ms: int, count: int) -> list[int]:
        times, t = [], start_ms
        while len(times) < count:
            t += 1000 * rng.randint(1, 3)
            times += [t + (rng.choice([0, 0, 0, 1, 437]) if largest > 1 else 0)] * rng.randint(1, largest)
        return times[:count]

    open_ms = _ms(_ny(FIRST_DAY, SESSION_OPEN))
    before = burst_times(open_ms, draw(st.integers(min_value=0, max_value=700)))
    top = max(before, default=open_ms)
    new = burst_times(top, draw(st.integers(min_value=0, max_value=1500)))
    late = [top - rng.randint(0, 299) * 1000 for _ in range(draw(st.integers(min_value=0, max_value=30)))]
    return before, new, late


@given(busy_days(), st.booleans())
def test_with_pages_of_500_an_incremental_pass_makes_at_most_ceil_k_over_500_plus_one_requests(day, inclusive):
    before, new, late = day
    settings = DAY_DEFAULTS
    market = _market(settings, inclusive)
    market.publish(FIRST_DAY, before)
    market.clock = _instant(max(before, default=_ms(market.clock)))
    market.run()
    assume(market.cursor.newest is not None)
    market.publish(FIRST_DAY, new + late)
    market.clock = _instant(max(new + before))
    done = market.run()
    window = _window(market, done)
    k, tie = len(done.ids), _same_millisecond_counts(window, inclusive)
    assert k == len(window)
    assert len(done.pages) <= request_bound(k, 500, tie)
    if math.ceil(k / 500) * tie < 500:
        assert len(done.pages) <= math.ceil(k / 500) + 1
    assert market.missing() == []


@given(day_settings, st.booleans(), tape_histories(interruptions=False), st.lists(st.sampled_from([0, 0, 1, 1000]),
       max_size=25), st.lists(st.sampled_from([0, 1000, 2000]), max_size=10))
def test_a_pass_cut_short_after_any_page_skips_nothing(settings, inclusive, history, burst, later):
    """The cursor saved after any prefix of a pass's pages is a safe start for the next pass."""
    market = _market(settings, inclusive)
    _play(market, history)
    market.step(days=0, late=[(0, 1), (2000, 1)], new=burst)
    whole = collect(market.tape, market.cursor, settings, market.clock)
    for cut in range(1, len(whole.pages) + 1):
        trial = market.copy()
        cut_short = trial.run(stop_after=cut)
        assert cut_short.saved == advance_over(SPY.advance, whole.start, whole.pages[:cut], settings)
        assert trial.left_behind() == []
        trial.step(days=0, late=[], new=later)
        trial.catch_up()
        assert trial.missing() == []


@given(st.integers(min_value=1, max_value=6), st.booleans(), st.integers(min_value=1, max_value=3))
def test_a_page_of_prints_sharing_one_instant_is_stepped_over_and_named_in_a_warning(page_size, inclusive, extra):
    """More prints share one second than a page holds: the sweep goes past them, ends, and says so."""
    settings = attrs.evolve(DAY_DEFAULTS, page_size=page_size)
    market = _market(settings, inclusive)
    burst_ms = _ms(market.clock) + 1000
    market.publish(FIRST_DAY, [burst_ms - 5000, burst_ms - 1000, *[burst_ms] * (page_size + extra), burst_ms + 1000])
    market.clock = _instant(burst_ms + 1000)
    done = market.run()
    assert len(done.pages) <= 3 * 4 + 1, "at most three requests per instant, and a short page"
    assert any(w.startswith("SPY: ") and "2025-10-22T13:30:01Z" in w for w in done.warnings)
    assert market.missing() == []
    older = {n for ms, n in market.tape.days[FIRST_DAY] if ms < burst_ms}
    assert older <= market.fetched, "the prints before the burst are still reached"


arbitrary_pages = st.lists(
    st.tuples(st.lists(st.integers(min_value=-5000, max_value=5000), max_size=3),
              st.integers(min_value=0, max_value=3)),
    max_size=40,
)
"""What an API that ignores its own bounds might send: prints at any time near noon, and unreadable items."""


@given(st.sampled_from([1, 2, 5, 10_000]), arbitrary_pages, st.booleans())
def test_a_sweep_lowers_older_than_on_every_request_whatever_the_api_sends(max_pages, pages, incremental):
    """Even an API that ignores its own bounds cannot make a pass loop: it ends within its page cap,
    and without the cap as soon as the pages run out."""
    settings = attrs.evolve(DAY_DEFAULTS, page_size=3, max_pages=max_pages)
    anchor = _ny(FIRST_DAY, time(12))
    loaded = SweepCursor(day=FIRST_DAY, newest=anchor) if incremental else None
    start = SPY.begin(loaded, anchor + timedelta(hours=1), settings)
    request, made = SPY.next_request(start, None, None, settings), []
    served = iter(pages)
    while request is not None:
        made.append(request)
        assert len(made) <= min(max_pages, len(pages) + 1)
        offsets, junk = next(served, ([], 0))
        records = tuple(_Timed(anchor + o * MS, i) for i, o in enumerate(offsets))
        request = SPY.next_request(start, request, Page(request, min(3, len(offsets) + junk), records), settings)
    bounds = [int(r.param("older_than")) for r in made[1:]]
    assert all(a > b for a, b in zip(bounds, bounds[1:])), "older_than strictly decreases within the day"


# Days: midnight, weekends, holidays.


def test_after_midnight_a_pass_first_finishes_the_previous_day_then_collects_the_new_one():
    settings = DAY_DEFAULTS
    for inclusive in (False, True):
        market = _market(settings, inclusive)
        wednesday, thursday = date(2025, 10, 22), date(2025, 10, 23)
        closing = _ms(_ny(wednesday, time(19, 59, 58)))
        market.publish(wednesday, [closing - 60_000, closing - 1000, closing, closing])
        market.clock = _ny(wednesday, time(20))
        market.run()
        market.publish(wednesday, [closing, closing - 30_000])  # after-hours prints reported after the pass
        thursday_open = _ms(_ny(thursday, time(4, 0, 1)))
        market.publish(thursday, [thursday_open, thursday_open + 1000])
        market.clock = _ny(thursday, time(4, 5))
        done = market.run()
        days = [page.request.param("date") for page in done.pages]
        assert days == sorted(days) and set(days) == {"2025-10-22", "2025-10-23"}
        assert done.pages[0].request.param("newer_than") is not None, "the previous day is read from its cursor on"
        assert market.missing() == []
        assert (market.cursor.day, market.cursor.target) == (thursday, thursday)


@pytest.mark.parametrize(
    ("now", "collected"),
    [
        (datetime(2025, 10, 25, 15, 0, tzinfo=UTC), date(2025, 10, 24)),  # Saturday: Friday
        (datetime(2025, 10, 27, 3, 0, tzinfo=UTC), date(2025, 10, 24)),  # Sunday 23:00 New York: still Friday
        (datetime(2025, 7, 4, 16, 0, tzinfo=UTC), date(2025, 7, 3)),  # Independence Day: the day before
        (datetime(2025, 10, 23, 3, 59, tzinfo=UTC), date(2025, 10, 22)),  # 23:59 New York on Wednesday
        (datetime(2025, 10, 23, 4, 0, tzinfo=UTC), date(2025, 10, 23)),  # midnight New York: Thursday
    ],
)
def test_a_first_pass_collects_the_last_market_day_in_new_york(now, collected):
    start = SPY.begin(None, now, DAY_DEFAULTS)
    request = SPY.next_request(start, None, None, DAY_DEFAULTS)
    assert request.params == (("date", collected.isoformat()), ("limit", "500"))
    assert SPY.next_request(start, request, Page(request, 0, ()), DAY_DEFAULTS) is None


def test_a_pass_walks_every_market_day_it_missed_in_order():
    settings = DAY_DEFAULTS
    friday = SweepCursor(day=date(2025, 10, 17), newest=_ny(date(2025, 10, 17), time(19, 59)))
    start = SPY.begin(friday, _ny(date(2025, 10, 22), time(10)), settings)
    request, days = SPY.next_request(start, None, None, settings), []
    while request is not None:
        days.append(request.param("date"))
        request = SPY.next_request(start, request, Page(request, 0, ()), settings)
    assert days == ["2025-10-17", "2025-10-20", "2025-10-21", "2025-10-22"]


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)),
       st.none() | st.dates(min_value=date(2023, 12, 1), max_value=date(2026, 12, 31)))
def test_begin_targets_the_last_market_day_and_never_moves_the_cursor_back(now, saved_day):
    assume(saved_day is None or is_trading_day(saved_day))
    loaded = None if saved_day is None else SweepCursor(day=saved_day)
    start = SPY.begin(loaded, now, DAY_DEFAULTS)
    assert start.target == last_trading_day(now.astimezone(NY).date())
    assert start.day == (saved_day or start.target)


# A page none of whose prints can be read, by market day.



def _blind(request: Request, settings: _Settings) -> Page:
    return Page(request, settings.page_size, (), rejected=UNREADABLE)


@given(st.lists(st.tuples(st.lists(st.integers(0, 36_000_000), max_size=14), st.none() | st.integers(1, 3)),
                max_size=3),
       st.booleans(), st.integers(0, 6), st.sampled_from([1, 2, 10_000]))
def test_a_page_none_of_whose_prints_can_be_read_stops_the_sweep_there_with_the_cursor_kept(
    history, inclusive, blind_at, max_pages
):
    """Wherever the unreadable page comes (a first pass, a hole, a top sweep), the pass stops there,
    the cursor saved is the one saved before it, and the pass says why, naming the partition, the day,
    the field and the value: so the next pass reads that page again."""
    settings = attrs.evolve(DAY_DEFAULTS, page_size=5, max_pages=max_pages)
    tape, cursor = Tape("SPY", inclusive=inclusive), None
    now, opening = _ny(FIRST_DAY, time(21)), _ms(_ny(FIRST_DAY, time(4)))
    for offsets, stop_after in history:  # earlier passes, some cut short: the unreadable page may be in a hole
        tape.publish(FIRST_DAY, [opening + o for o in offsets])
        cursor = collect(tape, cursor, settings, now, stop_after=stop_after).saved or cursor
    tape.publish(FIRST_DAY, [opening + 36_000_000 + o for o in range(12)])
    start = SPY.begin(cursor, now, settings)
    saved, request = _read_pages(SPY, start, tape.respond, settings, blind_at)
    if request is None:
        return
    blind = _blind(request, settings)
    assert SPY.next_request(start, request, blind, settings) is None
    kept = SPY.advance(start, saved, blind, settings)
    assert not DAY_SWEEP.finished(kept)
    if request.param("older_than") is not None:
        assert kept == saved
    again = SPY.next_request(SPY.begin(kept, now, settings), None, None, settings)
    assert (again.param("date"), again.param("newer_than")) == (request.param("date"), request.param("newer_than"))
    day_end = str(_ms(_ny(FIRST_DAY + timedelta(days=1), time(0))))  # no print of the day is above it
    assert int(again.param("older_than") or day_end) >= int(request.param("older_than") or day_end)
    (halt,) = [w for w in SPY.warnings(start, blind, settings) if isinstance(w, Halt)]
    day = date.fromisoformat(request.param("date")).isoformat()
    assert halt.startswith(f"SPY: a full page of 5 prints for {day}")
    assert "(at: Invalid isoformat string: '12/01/2026 14:00:00 ET')" in halt
    assert halt.endswith(HALT_MARK)


def test_the_unreadable_page_of_a_first_pass_leaves_the_day_to_be_read_from_the_top():
    settings = DAY_DEFAULTS
    start = SPY.begin(None, _ny(FIRST_DAY, time(21)), settings)
    request = SPY.next_request(start, None, None, settings)
    saved = SPY.advance(start, start, _blind(request, settings), settings)
    assert not DAY_SWEEP.finished(saved)
    again = SPY.next_request(SPY.begin(saved, _ny(FIRST_DAY, time(22)), settings), None, None,
                                  settings)
    assert again.params == (*request.params, ("older_than", str(_ms(_ny(FIRST_DAY + timedelta(days=1),
                                                                                  time(0))))))
    assert SPY.warnings(start, _blind(request, settings), settings) == [
        f"SPY: a full page of 500 prints for {FIRST_DAY} could not be read (at: Invalid isoformat string:"
        f" '12/01/2026 14:00:00 ET'); {HALT_MARK}"
    ]


@pytest.mark.parametrize("inclusive", [True, False])
def test_prints_published_while_the_owed_top_of_a_day_is_read_in_parts_are_read(inclusive):
    """An unreadable first page leaves the day owed from its top; a pass reading it is cut short after a
    page, more than a page of prints is published, and the next pass reads every one of them."""
    settings = attrs.evolve(DAY_DEFAULTS, page_size=5)
    tape, now = Tape("SPY", inclusive=inclusive), _ny(FIRST_DAY, time(21))
    opening = _ms(_ny(FIRST_DAY, time(10)))
    tape.publish(FIRST_DAY, [opening + 1000 * i for i in range(8)])
    start = SPY.begin(None, now, settings)
    owed = SPY.advance(start, start, _blind(SPY.next_request(start, None, None, settings), settings),
                            settings)
    part = collect(tape, owed, settings, now, stop_after=1)
    later = tape.publish(FIRST_DAY, [opening + 60_000 + 1000 * i for i in range(12)])
    rest = collect(tape, part.saved, settings, now)
    read = {r.id for p in (*part.pages, *rest.pages) for r in p.records}
    assert {n for _, n in later} <= read
    assert DAY_SWEEP.finished(rest.saved)


@frozen
class _Filing:
    id: int
    filed: date


@frozen
class _PageSettings:
    page_size: int = 3
    max_pages: int = 50
    first_run_pages: int = 50


def _number_pass(strategy: Any, feed: list[_Filing], saved: Any, settings: _PageSettings) -> tuple[Any, list[Page]]:
    start = strategy.begin(saved, "", NOW, settings)
    cursor, pages, request = start, [], strategy.next_request(start, None, None, settings)
    while request is not None:
        assert request.params[2:] == (("is_officer", "true"),)  # the filters follow the paging parameters
        number, limit = int(request.param("page")), int(request.param("limit"))
        page = Page(request, len(feed[number * limit:(number + 1) * limit]),
                    tuple(feed[number * limit:(number + 1) * limit]))
        cursor = strategy.advance(start, cursor, page, settings)
        pages.append(page)
        request = strategy.next_request(start, request, page, settings)
    return cursor, pages


@given(st.lists(st.integers(0, 20), max_size=30), st.lists(st.integers(0, 3), max_size=8))
def test_page_numbers_over_a_date_read_everything_new_and_then_one_page(days_back: list[int], new: list[int]) -> None:
    """A date time field (a filing date) counts as its midnight: every filing newer than the newest date
    stored, or on it, is read again; a pass with nothing new is one request."""
    from vvv.core.paging import PageNumber

    strategy = PageNumber("/api/insider/transactions", time_field="filed", params=lambda s: (("is_officer", "true"),))
    feed = sorted((_Filing(i, TODAY - timedelta(days=20 + d)) for i, d in enumerate(days_back)),
                  key=lambda f: f.filed, reverse=True)
    cursor, pages = _number_pass(strategy, feed, None, _PageSettings())
    assert _ids(pages) == {f.id for f in feed}
    added = sorted((_Filing(100 + i, TODAY - timedelta(days=d)) for i, d in enumerate(new)), key=lambda f: f.filed,
                   reverse=True)
    cursor, pages = _number_pass(strategy, added + feed, cursor, _PageSettings())
    assert {f.id for f in added} <= _ids(pages)
    _, quiet = _number_pass(strategy, added + feed, cursor, _PageSettings())
    newest = max((f.filed for f in added + feed), default=None)  # only a newest day longer than a page costs more
    assert all(r.filed == newest for page in quiet[:-1] for r in page.records)
    assert len(quiet) == 1 or sum(f.filed == newest for f in added + feed) >= 3


@frozen
class _Print:
    id: int
    at: datetime


@frozen
class _UnboundedSettings:
    page_size: int = 4
    max_pages: int = 10


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 2)), min_size=1, max_size=8))
def test_a_sweep_without_time_bounds_reads_the_newest_page_of_each_day_owed_and_names_what_it_cannot_reach(
        passes: list[tuple[int, int]]) -> None:
    """An endpoint that takes no time bounds (the newest `limit` records of a `date`): a pass is one
    request a market day owed, never with a bound; every record published since the pass before is
    read when one page holds them, and a warning names each pass after which some may be out of reach."""
    from vvv.core.calendar import NY, last_trading_day
    from vvv.core.timepaging import market_day_after

    strategy = TimeSweep("/api/darkpool/recent", time_field="at", noun="prints", late="prints late",
                         by_market_day=True, bounded=False)
    settings, feed, saved, now, serial = _UnboundedSettings(), {}, None, NOW, 0
    for added, days_later in passes:
        now += timedelta(days=days_later)
        target = last_trading_day(now.astimezone(NY).date())
        fresh = list(range(serial + 1, serial + added + 1))
        for _ in range(added):
            serial += 1
            feed.setdefault(target, []).insert(0, _Print(serial, datetime.combine(target, datetime.min.time(), NY)
                                                         + timedelta(hours=10, seconds=serial)))
        start = strategy.begin(saved, "", now, settings)
        cursor, request, pages, warned = start, strategy.next_request(start, None, None, settings), [], []
        while request is not None:
            assert request.param("older_than") is None and request.param("newer_than") is None
            items = feed.get(date.fromisoformat(request.param("date")), [])[:settings.page_size]
            page = Page(request, len(items), tuple(items))
            warned += strategy.warnings(start, page, settings)
            cursor = strategy.advance(start, cursor, page, settings)
            pages.append(page)
            request = strategy.next_request(start, request, page, settings)
        days = [start.day]
        while days[-1] != target:
            days.append(market_day_after(days[-1], target))
        assert [date.fromisoformat(page.request.param("date")) for page in pages] == days
        got = {r.id for page in pages for r in page.records}
        new_then = fresh[::-1] if start.day == target else []  # newest first, published since the pass before
        assert set(new_then[:settings.page_size]) <= got
        assert bool(warned) == (start.newest is not None and len(new_then) >= settings.page_size)
        saved = cursor


@given(st.dates(min_value=date(2001, 1, 1), max_value=date(2034, 12, 1)), st.integers(0, 6), st.integers(0, 6))
def test_by_market_days_the_window_walks_trading_days_only_and_counts_them(today: date, back: int,
                                                                          ahead: int) -> None:
    settings, strategy = _Settings(page_size=1, days_back=back, days_ahead=ahead), PerDate("/p", market_days=True)
    start = strategy.begin(None, "", datetime.combine(today, time(12), tzinfo=NY), settings)
    walked, request, page = [], strategy.next_request(start, None, None, settings), None
    while request is not None:
        walked.append(date.fromisoformat(request.param("date")))
        page = Page(request, 0, ())
        request = strategy.next_request(start, request, page, settings)
    trading = [d for d in (start.first + timedelta(days=n) for n in range((start.last - start.first).days + 1))
               if is_trading_day(d)]
    assert walked == trading and walked[0] == start.first and walked[-1] == start.last
    # On a day without trading, "today" is the next trading day: the window always reaches it.
    expected_ahead = ahead if is_trading_day(today) else max(ahead, 1)
    assert sum(d < today for d in walked) == back and sum(d > today for d in walked) == expected_ahead
    assert (today in walked) == is_trading_day(today)


def _dated(settings: Any, partition: str, asof: datetime) -> tuple[tuple[str, str], ...]:
    return ("date", asof.astimezone(NY).date().isoformat()), ("variant", partition), ("limit", str(settings.page_size))


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2034, 12, 1), timezones=st.just(UTC)),
       st.none() | st.builds(LatestCursor, st.none() | st.just(NOW)), st.integers(0, 4))
def test_a_single_request_asks_for_what_the_passs_clock_says_once_and_warns_of_a_full_answer(
        now: datetime, saved: Any, received: int) -> None:
    strategy, settings = Single("/api/{partition}", "time", params=_dated, full="page_size"), _Settings()
    start = strategy.begin(saved, "x", now, settings)
    assert start.asof == now and start.latest == (None if saved is None else saved.latest)
    request = strategy.next_request(start, None, None, settings, "x")
    assert request == Request("/api/x", (("date", now.astimezone(NY).date().isoformat()), ("variant", "x"),
                                         ("limit", "3")))
    page = Page(request, received, ())
    assert strategy.next_request(start, request, page, settings, "x") is None  # one request a pass
    assert bool(strategy.warnings(start, page, settings, "x")) == (received >= settings.page_size)
    with pytest.raises(ValueError, match="begin"):
        strategy.next_request(LatestCursor(), None, None, settings, "x")
