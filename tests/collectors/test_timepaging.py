"""Where a sweep paged by time goes after a page some or none of whose items could be read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st

from vvv.core.base import Page, Request
from vvv.core.paging import SweepCursor, TimeSweep
from vvv.core.timepaging import (
    continuation,
    day_end,
    market_day_after,
    ms,
    unreadable_why,
)

NOON = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
PAGE = 500


def _request(older_than: int | None = None, newer_than: int | None = None) -> Request:
    params = [("limit", str(PAGE))]
    params += [(name, str(value)) for name, value in (("newer_than", newer_than), ("older_than", older_than))
               if value is not None]
    return Request("/x", tuple(params))


def _step(request: Request, received: int, times: list[datetime], *, cut_at: int | None = None, top: bool = True):
    page = Page(request, received, records=tuple(times))
    return continuation(request, page, times=times, page_size=PAGE, cut_at=cut_at, top_sweep=top)


@given(older=st.none() | st.integers(ms(NOON), ms(NOON) + 10**7), top=st.booleans())
def test_a_full_page_none_of_whose_items_can_be_read_stops_the_sweep_blind(older: int | None, top: bool) -> None:
    step = _step(_request(older), PAGE, [], cut_at=None if top else older, top=top)
    assert step.bound is None and step.blind


@given(older=st.none() | st.integers(ms(NOON) + 10**6, ms(NOON) + 10**7),
       offsets=st.lists(st.integers(0, 10**6), min_size=1, max_size=PAGE))
def test_a_full_page_with_some_readable_items_pages_on_below_the_oldest_of_them(
    older: int | None, offsets: list[int]
) -> None:
    """The next page starts at or above the oldest readable item's millisecond, so every item below it,
    the unreadable ones after it in this page included, is served again; and it is below this page's bound."""
    times = sorted((NOON + o * MS for o in offsets), reverse=True)
    step = _step(_request(older), PAGE, times)
    assert not step.blind and step.bound is not None
    assert step.bound >= ms(times[-1]) and (older is None or step.bound < older)


@given(received=st.integers(0, PAGE - 1), readable=st.booleans())
def test_a_short_page_ends_the_window_whatever_it_held(received: int, readable: bool) -> None:
    step = _step(_request(), received, [NOON] if readable and received else [])
    assert step.bound is None and not step.blind


def test_a_reject_reason_is_told_field_first() -> None:
    reason = "Invalid isoformat string: '12/01/2026 14:00:00 ET' @ item.executed_at"
    assert unreadable_why(reason) == "executed_at: Invalid isoformat string: '12/01/2026 14:00:00 ET'"
    assert unreadable_why("required field missing @ item.price; expected a number, got 'x' @ item.size") == (
        "price: required field missing; size: expected a number, got 'x'")
    assert unreadable_why("price -1 is not positive") == "price -1 is not positive"
    assert len(unreadable_why("x" * 1000 + " @ item.ticker")) < 200


@frozen
class _Settings:
    page_size: int = PAGE
    lookback_seconds: int = 300
    max_pages: int = 3
    first_run_hours: int = 1


SETTINGS = _Settings()
SWEEP = TimeSweep(path="/x/{partition}", time_field="at", noun="items", late="items reported late",
                  params=lambda settings: (("f", "1"),))
DAYS = attrs.evolve(SWEEP, by_market_day=True)


@frozen
class _Record:
    at: datetime


def _page(request: Request, times: list[datetime]) -> Page:
    return Page(request, len(times), records=tuple(_Record(t) for t in times))


def test_a_sweep_request_puts_the_date_the_limit_the_bounds_then_the_collectors_params() -> None:
    request = SWEEP.request(SETTINGS, "P", date(2026, 3, 10), number=2, newer_than=5, older_than=9)
    assert request.path == "/x/P"
    assert request.params == (("date", "2026-03-10"), ("limit", "500"), ("newer_than", "5"), ("older_than", "9"),
                              ("f", "1"))
    assert request.number == 2


@given(offsets=st.lists(st.integers(1, 10**6), min_size=PAGE, max_size=PAGE))
def test_a_top_sweep_cut_short_owes_the_hole_below_its_cut(offsets: list[int]) -> None:
    start = SWEEP.begin(None, "", NOON, SETTINGS)
    top = SWEEP.next_request(start, None, None, SETTINGS)
    assert top.param("newer_than") == str(ms(NOON) - 3_600_000 - 1)  # a first run reads back first_run_hours
    page = _page(top, [NOON + offset * MS for offset in offsets])
    step = SWEEP.step(start, top, page, SETTINGS, top_sweep=True)
    assert step.bound is not None
    assert SWEEP.advance(start, start, page, SETTINGS) == SweepCursor(
        newest=max(r.at for r in page.records), resume_before=step.bound, resume_after=ms(NOON) - 3_600_000 - 1,
        cut_at=step.bound)


def test_a_sweep_stops_at_its_page_cap() -> None:
    times = [NOON + i * MS for i in range(PAGE)]
    start = SWEEP.begin(None, "", NOON, SETTINGS)
    third = SWEEP.request(SETTINGS, "", None, number=3)
    assert SWEEP.next_request(start, third, _page(third, times), SETTINGS) is None
    second = SWEEP.request(SETTINGS, "", None, number=2)
    following = SWEEP.next_request(start, second, _page(second, times), SETTINGS)
    assert following.number == 3 and following.param("older_than") is not None


def test_only_a_sweep_over_time_windows_backfills_by_window() -> None:
    cursor = SWEEP.window(NOON, NOON + timedelta(hours=1))
    assert cursor.window_end == ms(NOON + timedelta(hours=1)) and not SWEEP.finished(cursor)
    assert SWEEP.begin(cursor, "", NOON + timedelta(days=3), SETTINGS) == cursor  # a window ignores the clock
    assert DAYS.window(NOON, NOON) is None and SWEEP.backfills and DAYS.backfills
    assert DAYS.finished(SweepCursor(day=NOON.date())) and not DAYS.finished(SweepCursor(day=NOON.date(), cut_at=1))


def test_a_sweep_partitioned_by_market_day_goes_on_to_the_next_session_up_to_the_last() -> None:
    friday, monday = date(2026, 3, 6), date(2026, 3, 9)
    assert market_day_after(friday, monday) == monday
    assert market_day_after(friday, friday) is None
    assert day_end(friday) == ms(datetime(2026, 3, 7, 5, 0, tzinfo=UTC))  # midnight in New York, EST
