"""What is due now, decided from a fake clock, the calendar and the last passes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from vvv.config import CollectorConfig
from vvv.core import calendar
from vvv.core.scheduling import Slot, decide, interval, next_due

NY = ZoneInfo("America/New_York")
TUESDAY_NOON = datetime(2026, 3, 10, 12, 0, tzinfo=NY)
SATURDAY = datetime(2026, 3, 14, 12, 0, tzinfo=NY)


def _config(regular: int | None = 60, extended: int | None = 300, closed: int | None = 1800) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=regular, extended_interval=extended, closed_interval=closed,
                           stale_after=None, options=None)


intervals = st.none() | st.integers(1, 4 * 3600)
configs = st.builds(_config, intervals, intervals, intervals)
moments = st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(NY))


def test_a_collector_that_never_ran_starts_at_once() -> None:
    assert decide(TUESDAY_NOON, {"news": _config()}, {}).start == ("news",)


def test_the_interval_follows_the_session_phase() -> None:
    config = _config(regular=60, extended=300, closed=1800)
    assert interval(config, calendar.phase(TUESDAY_NOON)) == 60
    assert interval(config, calendar.phase(TUESDAY_NOON.replace(hour=7))) == 300
    assert interval(config, calendar.phase(TUESDAY_NOON.replace(hour=17))) == 300
    assert interval(config, calendar.phase(TUESDAY_NOON.replace(hour=22))) == 1800
    assert interval(config, calendar.phase(SATURDAY)) == 1800


def test_due_again_exactly_one_interval_after_the_last_start() -> None:
    slots = {"news": Slot(anchor=TUESDAY_NOON)}
    configs_ = {"news": _config(regular=60)}
    assert decide(TUESDAY_NOON + timedelta(seconds=59), configs_, slots).start == ()
    assert decide(TUESDAY_NOON + timedelta(seconds=60), configs_, slots).start == ("news",)


def test_a_running_collector_is_skipped_not_started_twice() -> None:
    slots = {"news": Slot(anchor=TUESDAY_NOON - timedelta(minutes=5), running=True)}
    decision = decide(TUESDAY_NOON, {"news": _config()}, slots)
    assert (decision.start, decision.skip) == ((), ("news",))


def test_off_when_closed_waits_for_the_next_pre_market() -> None:
    config = _config(closed=None)
    assert decide(SATURDAY, {"news": config}, {}).start == ()
    monday_pre_market = datetime(2026, 3, 16, 4, 0, tzinfo=NY)
    assert next_due(config, None, SATURDAY) == monday_pre_market


def test_a_faster_phase_starting_makes_a_slow_collector_due_at_once() -> None:
    config = _config(regular=60, extended=3600)
    last = datetime(2026, 3, 10, 9, 20, tzinfo=NY)
    assert next_due(config, last, datetime(2026, 3, 10, 9, 25, tzinfo=NY)) == datetime(2026, 3, 10, 9, 30, tzinfo=NY)


@given(config=configs, now=moments, ago=st.integers(0, 10 * 86400), running=st.booleans())
def test_decide_agrees_with_next_due(config: CollectorConfig, now: datetime, ago: int, running: bool) -> None:
    anchor = now - timedelta(seconds=ago)
    due = next_due(config, anchor, now)
    decision = decide(now, {"c": config}, {"c": Slot(anchor=anchor, running=running)})
    is_due = due is not None and due <= now
    assert decision.start == (("c",) if is_due and not running else ())
    assert decision.skip == (("c",) if is_due and running else ())


@given(config=configs, now=moments, ago=st.integers(0, 10 * 86400))
def test_next_due_is_never_in_the_past_and_respects_the_interval_in_force(
    config: CollectorConfig, now: datetime, ago: int
) -> None:
    anchor = now - timedelta(seconds=ago)
    due = next_due(config, anchor, now)
    if due is None:
        return
    assert due >= now
    seconds = interval(config, calendar.phase(due))
    assert seconds is not None
    assert due - anchor >= timedelta(seconds=seconds)
