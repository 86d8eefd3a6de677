"""Where a sweep paged by time goes after a page some or none of whose items could be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vvv.core.base import Page, Request
from vvv.core.timepaging import continuation, ms, unreadable_why

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
