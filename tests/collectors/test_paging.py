"""The kernel's `PerDate` strategy against a model of what the API served: one series of pages per
date of a window around today, each paged from 0 until a page comes back short.

(`TimeSweep` is played against its models in test_darkpool.py (by market day) and
test_options_flow.py (one sweep, first-run window, backfill window), `PageNumber` in test_news.py,
`Single` in test_economic_calendar.py, `DaySeries` in test_day_series.py: each strategy once.)
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st

from vvv.core.base import HALT_MARK, Collector, Halt, Page, Request, advance_over
from vvv.core.paging import DateCursor, PerDate, SweepCursor, TimeSweep

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


def test_a_time_sweep_takes_a_response_that_is_not_a_page_for_a_page_it_cannot_read() -> None:
    from vvv.collectors import options_flow

    settings, sweep = options_flow.Settings(), options_flow.COLLECTOR.strategy
    start = sweep.begin(None, "", NOW, settings)
    request = sweep.next_request(start, None, None, settings)
    broken = Page(request, 0, (), rejected="response has no `data` list")
    assert sweep.next_request(start, request, broken, settings) is None
    assert sweep.advance(start, start, broken, settings) == start
    (halt,) = sweep.warnings(start, broken, settings)
    assert isinstance(halt, Halt) and halt.endswith(HALT_MARK) and "not a page (response has no `data` list)" in halt


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


# `TimeSweep` on its own, against a feed newest first by time, bounds inclusive or exclusive.

T0 = 1_773_158_400_000  # 2026-03-10T16:00:00Z in unix ms: the clock of the first pass
SWEEP_START = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


@frozen
class _Timed:
    at: datetime
    id: int


@attrs.define
class Feed:
    inclusive: bool
    items: list[tuple[int, int]] = attrs.Factory(list)  # (unix ms, id)

    def publish(self, times: list[int]) -> None:
        self.items += [(ms, len(self.items) + i) for i, ms in enumerate(times)]

    def respond(self, request: Request) -> Page:
        low, high = (None if request.param(k) is None else int(request.param(k)) for k in ("newer_than", "older_than"))
        chosen = [(ms, i) for ms, i in self.items
                  if (low is None or (ms >= low if self.inclusive else ms > low))
                  and (high is None or (ms <= high if self.inclusive else ms < high))]
        ties = {i: hash((i, request.params)) for _, i in chosen}  # ties in an order that changes per request
        chosen.sort(key=lambda p: (-p[0], ties[p[1]]))
        served = chosen[:int(request.param("limit"))]
        return Page(request, len(served), tuple(_Timed(SWEEP_START + timedelta(milliseconds=ms - T0), i)
                                                for ms, i in served))


SWEEP = TimeSweep(path="/t", time_field="at", noun="items", late="items reported late")


def _sweep_pass(feed: Feed, saved: SweepCursor | None, settings: _Settings, now: datetime
                ) -> tuple[SweepCursor, set[int], list[str]]:
    start = SWEEP.begin(saved, "", now, settings)
    cursor, fetched, warned = start, set(), list(SWEEP.warnings(start, None, settings))
    request = SWEEP.next_request(start, None, None, settings)
    while request is not None:
        page = feed.respond(request)
        cursor = SWEEP.advance(start, cursor, page, settings)
        fetched |= {r.id for r in page.records}
        warned += SWEEP.warnings(start, page, settings)
        request = SWEEP.next_request(start, request, page, settings)
    return cursor, fetched, warned


# Each step publishes new items (bursts sharing one millisecond, smaller than a page so each is
# reachable) and items reported late within the lookback, then passes run until one is caught up.
steps = st.lists(st.tuples(st.lists(st.tuples(st.integers(1, 400), st.integers(1, 2)), max_size=8),
                           st.lists(st.integers(0, 999), max_size=3)), min_size=1, max_size=4)


@given(st.booleans(), steps, st.integers(1, 3))
def test_a_time_sweep_fetches_every_item_under_either_reading_of_the_bounds(inclusive: bool, history: Any,
                                                                             max_pages: int) -> None:
    settings, feed = _Settings(max_pages=max_pages), Feed(inclusive)
    feed.publish([T0 - 10, T0 - 10, T0 - 5])
    saved, fetched, now_ms = None, set(), T0
    for new, late in history:
        newest = max(ms for ms, _ in feed.items)
        times = []
        for gap, burst in new:
            newest += gap
            times += [newest] * burst
        feed.publish(times)
        if saved is not None and saved.newest is not None:  # late, but inside the lookback of what is stored
            floor = T0 + (saved.newest - SWEEP_START) // timedelta(milliseconds=1) - 1000 * settings.lookback_seconds
            held = Counter(ms for ms, _ in feed.items)
            for ms in (floor + offset for offset in late):
                if held[ms] < settings.page_size - 1:  # a late item never makes a burst a page: those are unreachable
                    held[ms] += 1
                    feed.publish([ms])
        now_ms = max(now_ms, newest + 1)
        for _ in range(50):  # passes until one ends with nothing owed
            saved, got, warned = _sweep_pass(feed, saved, settings, SWEEP_START + timedelta(milliseconds=now_ms - T0))
            fetched |= got
            assert not [w for w in warned if "share" in w]  # no burst fills a page here
            if saved.resume_before is None and saved.cut_at is None:
                break
        assert {i for _, i in feed.items} == fetched


def test_a_time_sweep_names_a_whole_page_sharing_one_instant_and_steps_over_it() -> None:
    settings, feed = _Settings(max_pages=10), Feed(inclusive=True)
    feed.publish([T0 - 1] * 3 + [T0 - 2])
    saved, fetched, warned = _sweep_pass(feed, None, settings, SWEEP_START)
    assert any("at least 3 items share" in w for w in warned)
    assert 3 in fetched and saved.resume_before is None  # stepped over, and the pass ended


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
