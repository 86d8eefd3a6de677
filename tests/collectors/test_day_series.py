"""The kernel's `DaySeries` strategy against a model of what the API served: each market day's
series grows tick by tick from its start to its end, and a request with `date` serves what has
been published of it so far. Whatever the clocks of the passes (minutes apart or days, faults in
between), every market day from the first pass's to the last one's is read whole by the end, or
named in a warning (further behind than `catch_up`); a pass costs a request per day it reads."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st

from vvv.core import calendar
from vvv.core.base import Page
from vvv.core.paging import DayCursor, DaySeries

STRATEGY = DaySeries("/api/stock/{0}/x/{1}", "time", hours=("open", "close"), catch_up=3)
PARTITION = "SPY/1m"
LATE = timedelta(minutes=2)  # a tick is published this long after its minute: less than SETTLE
START = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # a Thursday, 07:00 in New York


@frozen
class _Tick:
    time: datetime


def _series(day: date) -> list[datetime]:
    """The day's ticks, every 30 minutes of its hours (enough to tell a partial read from a whole one)."""
    session = calendar.session(day)
    ticks, at = [], session.open
    while at < session.close:
        ticks.append(at)
        at += timedelta(minutes=30)
    return ticks


def _served(day: date, now: datetime) -> list[datetime]:
    return [t for t in _series(day) if t + LATE <= now]


def _pass(saved: DayCursor | None, now: datetime, fault_at: int | None, read: dict[date, set[datetime]]):
    """One pass as the runner makes it; a fault (a response that is not a page) at request `fault_at`."""
    cursor = STRATEGY.begin(saved, PARTITION, now, None)
    warnings = STRATEGY.warnings(cursor, None, None, PARTITION)
    request, made = STRATEGY.next_request(cursor, None, None, None, PARTITION), []
    while request is not None:
        assert request.path == "/api/stock/SPY/x/1m"
        day = date.fromisoformat(request.param("date"))
        made.append(day)
        if len(made) - 1 == fault_at:
            page = Page(request, 0, (), rejected="response has no `data` list")
        else:
            ticks = _served(day, now)
            read[day].update(ticks)
            page = Page(request, len(ticks), tuple(map(_Tick, ticks)))
        saved = STRATEGY.advance(cursor, saved or cursor, page, None, PARTITION)
        request = STRATEGY.next_request(cursor, request, page, None, PARTITION)
    return saved, made, warnings


_GAPS = st.sampled_from([0, 1, 7, 45, 60 * 5, 60 * 13, 60 * 24, 60 * 24 * 3, 60 * 24 * 6])


@given(gaps=st.lists(st.tuples(_GAPS, st.none() | st.integers(0, 3)), max_size=12))
def test_every_market_day_is_read_whole_or_named_in_a_warning(gaps: list[tuple[int, int | None]]) -> None:
    read: dict[date, set[datetime]] = defaultdict(set)
    now, saved, warned = START, None, []
    first_target = STRATEGY.begin(None, PARTITION, START + timedelta(minutes=(gaps or [(0, 0)])[0][0]), None).target
    clean = False  # the pass before met no fault
    for minutes, fault_at in [*gaps, (0, None)]:  # the last pass meets no fault
        now += timedelta(minutes=minutes)
        saved, made, warnings = _pass(saved, now, fault_at, read)
        warned += warnings
        assert len(made) <= STRATEGY.catch_up
        assert made == sorted(set(made))  # each day once, oldest first
        if minutes == 0 and clean:
            assert len(made) <= 1  # nothing new since the pass before: one request, or none for a closed day
        clean = fault_at is None or fault_at >= len(made)
    last = STRATEGY.begin(saved, PARTITION, now, None)
    day = first_target
    while day <= last.target:
        whole = _series(day) if day < last.target else _served(day, now)
        assert read[day] >= set(whole) or _named(day, warned), day
        day = _after(day)


def _after(day: date) -> date:
    following = day + timedelta(days=1)
    while not calendar.is_trading_day(following):
        following += timedelta(days=1)
    return following


def _named(day: date, warned: list[str]) -> bool:
    """Is `day` inside a range a warning names ("the market days A to B were not collected")?"""
    for warning in warned:
        words = warning.split()
        first, last = (date.fromisoformat(words[words.index(word) + 1]) for word in ("days", "to"))
        if first <= day <= last:
            return True
    return False


def test_before_todays_series_begins_the_previous_market_days_is_read() -> None:
    monday_early = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)  # 02:00 in New York, Monday
    cursor = STRATEGY.begin(None, PARTITION, monday_early, None)
    assert (cursor.day, cursor.target, cursor.over) == (date(2026, 3, 6), date(2026, 3, 6), True)
    at_open = datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    assert STRATEGY.begin(None, PARTITION, at_open, None).target == date(2026, 3, 9)


def test_a_day_read_after_its_end_costs_no_request_again_and_is_a_finished_backfill_unit() -> None:
    evening = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # 19:00 in New York: past the close and SETTLE
    saved, made, _ = _pass(None, evening, None, defaultdict(set))
    assert made == [date(2026, 3, 10)] and STRATEGY.finished(saved)
    assert _pass(saved, evening + timedelta(hours=3), None, defaultdict(set))[1] == []


def test_a_pass_far_behind_reads_the_last_days_and_names_the_rest() -> None:
    saved = DayCursor(day=date(2026, 3, 2), closed=True)
    _, made, warnings = _pass(saved, datetime(2026, 3, 13, 15, 0, tzinfo=UTC), None, defaultdict(set))
    assert made == [date(2026, 3, 11), date(2026, 3, 12), date(2026, 3, 13)]
    assert warnings == ["SPY/1m: the market days 2026-03-03 to 2026-03-10 were not collected (more than 3 behind);"
                        " `vvv backfill` of this collector --from 2026-03-03 --to 2026-03-10 collects them"]
