"""The NYSE calendar's contract: every day from 2000 to 2035 agrees with exchange_calendars'
XNYS, and phases, their changes and the trading-day arithmetic hold together."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import exchange_calendars
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vvv.core.calendar import (
    NY,
    Session,
    holidays,
    is_trading_day,
    last_trading_day,
    next_phase_change,
    next_trading_day,
    opened_day,
    phase,
    previous_trading_day,
    session,
    sessions,
)

FIRST, LAST = date(2000, 1, 1), date(2035, 12, 31)
SAT = 5
TICK = timedelta(microseconds=1)

days = st.dates(min_value=FIRST, max_value=LAST)
trading_sessions = days.map(last_trading_day).filter(lambda d: d >= FIRST).map(session)
zones = st.sampled_from([UTC, NY, ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo")])
anywhere = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(2035, 12, 30), timezones=zones, allow_imaginary=False
)
near_edges = st.builds(
    lambda s, edge, delta, zone: (_edges(s)[edge] + delta).astimezone(zone),
    trading_sessions,
    st.integers(0, 3),
    st.timedeltas(min_value=timedelta(seconds=-2), max_value=timedelta(seconds=2)),
    zones,
)
moments = anywhere | near_edges


def _edges(s: Session) -> tuple[datetime, ...]:
    return s.pre_open, s.open, s.close, s.after_close


def _ny(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=NY)


@pytest.fixture(scope="module")
def xnys() -> dict[date, tuple[datetime, datetime]]:
    """XNYS's (open, close) per session day, in New York time, read from its schedule in one pass."""
    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads `Series.values` of tz-aware columns, which pandas 3.1 deprecates.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray that drops timezone")
        calendar = exchange_calendars.get_calendar("XNYS", start=FIRST.isoformat(), end=LAST.isoformat())
    schedule = calendar.schedule
    return {
        day.date(): (opens.to_pydatetime().astimezone(NY), closes.to_pydatetime().astimezone(NY))
        for day, opens, closes in zip(schedule.index, schedule["open"], schedule["close"], strict=True)
    }


def test_every_day_from_2000_to_2035_agrees_with_exchange_calendars(xnys: dict) -> None:
    ours = {s.day: s for s in sessions(FIRST, LAST)}
    all_days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    wrong_days = [d for d in all_days if is_trading_day(d) != (d in xnys) or (d in ours) != (d in xnys)]
    assert wrong_days == []
    wrong_hours = {
        d: ((s.open, s.close), xnys[d]) for d, s in ours.items() if (s.open, s.close) != xnys[d]
    }
    assert wrong_hours == {}
    assert all(s.early_close == (s.close.time() != time(16)) for s in ours.values())
    # XNYS's own counts, so a comparison that silently covered nothing would fail here.
    assert (len(ours), sum(s.early_close for s in ours.values())) == (9049, 79)


@given(trading_sessions)
def test_a_session_runs_pre_then_regular_then_after_on_its_own_day(s: Session) -> None:
    assert s.pre_open < s.open < s.close <= s.after_close
    assert {edge.date() for edge in _edges(s)} == {s.day}
    assert all(edge.tzinfo is NY for edge in _edges(s))
    assert (s.close.time(), s.after_close.time()) == ((time(13), time(17)) if s.early_close else (time(16), time(20)))


@given(days.filter(lambda d: not is_trading_day(d)), st.times(), zones)
def test_the_market_is_closed_all_day_when_it_does_not_trade(day: date, clock: time, zone: ZoneInfo) -> None:
    assert session(day) is None
    assert phase(_ny(day, clock).astimezone(zone)) == "closed"


@given(moments)
@example(_ny(date(2024, 3, 8), time(20)))  # Friday night into the first EDT Monday
@example(_ny(date(2024, 11, 3), time(1, 30)).replace(fold=1))  # the repeated hour of fall-back
def test_the_phase_holds_until_the_next_change_and_differs_from_then(moment: datetime) -> None:
    change = next_phase_change(moment)
    start, end = moment.astimezone(UTC), change.astimezone(UTC)
    assert end > start
    assert phase(change) != phase(moment)
    assert phase(change + TICK) == phase(change)
    between = [start + (end - start) * k / 8 for k in range(1, 8)] + [end - TICK]
    assert {phase(point) for point in between} == {phase(moment)}


@given(days)
def test_previous_trading_day_is_the_nearest_trading_day_before(day: date) -> None:
    before = previous_trading_day(day)
    assert before < day
    assert is_trading_day(before)
    assert not any(is_trading_day(before + timedelta(days=n)) for n in range(1, (day - before).days))


@given(days)
def test_next_trading_day_is_the_nearest_trading_day_after_and_undoes_previous(day: date) -> None:
    after = next_trading_day(day)
    assert after > day and is_trading_day(after)
    assert not any(is_trading_day(day + timedelta(days=n)) for n in range(1, (after - day).days))
    assert next_trading_day(previous_trading_day(after)) == after


@given(anywhere)
def test_the_opened_day_is_today_from_the_open_else_the_trading_day_before(moment: datetime) -> None:
    local = moment.astimezone(NY)
    today = session(local.date())
    opened = opened_day(moment)
    assert is_trading_day(opened) and opened <= local.date()
    assert (opened == local.date()) == (today is not None and local >= today.open)
    assert opened >= previous_trading_day(local.date())


def test_opened_day_examples() -> None:
    assert opened_day(datetime(2026, 3, 10, 13, 29, tzinfo=UTC)) == date(2026, 3, 9)  # 09:29 in New York
    assert opened_day(datetime(2026, 3, 10, 13, 30, tzinfo=UTC)) == date(2026, 3, 10)
    assert opened_day(datetime(2026, 3, 14, 12, 0, tzinfo=UTC)) == date(2026, 3, 13)  # a Saturday


@given(days)
def test_last_trading_day_is_the_day_itself_when_it_trades(day: date) -> None:
    assert last_trading_day(day) == (day if is_trading_day(day) else previous_trading_day(day))


@given(st.builds(lambda d, extra: d + timedelta(days=(SAT - d.weekday()) % 7 + extra), days, st.integers(0, 1)))
@example(date(2024, 3, 30))  # after Good Friday: Thursday
@example(date(2021, 7, 4))  # a Sunday July 4 is observed on Monday, so Friday July 2 trades
def test_last_trading_day_of_a_weekend_is_its_friday_unless_a_holiday(weekend: date) -> None:
    friday = weekend - timedelta(days=weekend.weekday() - 4)
    expected = friday if is_trading_day(friday) else previous_trading_day(friday)
    assert last_trading_day(weekend) == expected


def test_last_trading_day_examples() -> None:
    assert last_trading_day(date(2024, 6, 15)) == date(2024, 6, 14)
    assert last_trading_day(date(2024, 3, 30)) == date(2024, 3, 28)
    assert last_trading_day(date(2001, 9, 16)) == date(2001, 9, 10)


def _us_daylight_saving(day: date) -> bool:
    """US DST by the Energy Policy Act of 2005 (from 2007) and the rule before it."""
    def sunday(month: int, n: int) -> date:
        first = date(day.year, month, 1)
        return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))

    if day.year >= 2007:
        return sunday(3, 2) <= day < sunday(11, 1)
    last_october = sunday(10, 5) if sunday(10, 5).month == 10 else sunday(10, 4)
    return sunday(4, 1) <= day < last_october


transition_weeks = st.builds(
    lambda year, month, shift: date(year, month, 1) + timedelta(days=shift),
    st.integers(2000, 2035),
    st.sampled_from([3, 4, 10, 11]),
    st.integers(0, 37),
).filter(is_trading_day)


@given(transition_weeks | days.filter(is_trading_day))
@example(date(2024, 3, 8))
@example(date(2024, 3, 11))
@example(date(2024, 11, 1))
@example(date(2024, 11, 4))
def test_sessions_carry_new_yorks_utc_offset_across_dst_changes(day: date) -> None:
    offset = timedelta(hours=-4 if _us_daylight_saving(day) else -5)
    s = session(day)
    assert s is not None
    assert {edge.utcoffset() for edge in _edges(s)} == {offset}
    assert s.open.astimezone(UTC).time() == (datetime.combine(day, time(9, 30)) - offset).time()


def test_dst_examples_in_utc() -> None:
    def open_utc(day: date) -> datetime:
        return session(day).open.astimezone(UTC)

    assert open_utc(date(2024, 3, 8)) == datetime(2024, 3, 8, 14, 30, tzinfo=UTC)
    assert open_utc(date(2024, 3, 11)) == datetime(2024, 3, 11, 13, 30, tzinfo=UTC)
    assert open_utc(date(2024, 11, 1)) == datetime(2024, 11, 1, 13, 30, tzinfo=UTC)
    assert open_utc(date(2024, 11, 4)) == datetime(2024, 11, 4, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2022, 6, 20), "Juneteenth"),
        (date(2021, 7, 5), "Independence Day"),
        (date(2024, 3, 29), "Good Friday"),
        (date(2021, 12, 24), "Christmas Day"),
        (date(2023, 1, 2), "New Year's Day"),
        (date(2025, 1, 9), "National Day of Mourning for Jimmy Carter"),
        (date(2012, 10, 30), "Hurricane Sandy"),
    ],
)
def test_observed_holidays(day: date, name: str) -> None:
    assert holidays(day.year)[day] == name
    assert not is_trading_day(day)


def test_a_saturday_new_year_is_not_observed_on_the_friday_before() -> None:
    assert date(2022, 1, 1).weekday() == SAT
    assert date(2022, 1, 1) not in holidays(2022)
    assert date(2021, 12, 31) not in holidays(2021)
    assert is_trading_day(date(2021, 12, 31))


def test_juneteenth_starts_in_2022() -> None:
    assert "Juneteenth" not in holidays(2021).values()
    assert is_trading_day(date(2021, 6, 18))
    assert date(2022, 6, 19) not in holidays(2022)


@pytest.mark.parametrize("good_friday", [date(1818, 3, 20), date(1943, 4, 23), date(2285, 3, 20), date(2038, 4, 23)])
def test_good_friday_follows_the_computus_to_its_earliest_and_latest(good_friday: date) -> None:
    assert holidays(good_friday.year)[good_friday] == "Good Friday"


def test_holidays_returns_a_copy() -> None:
    holidays(2024).clear()
    assert date(2024, 3, 29) in holidays(2024)


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (time(3, 59, 59), "closed"),
        (time(4), "pre"),
        (time(9, 29, 59), "pre"),
        (time(9, 30), "regular"),
        (time(15, 59, 59), "regular"),
        (time(16), "after"),
        (time(19, 59, 59), "after"),
        (time(20), "closed"),
    ],
)
def test_phase_boundaries_on_a_regular_day(clock: time, expected: str) -> None:
    moment = _ny(date(2024, 6, 12), clock)
    assert phase(moment) == expected
    assert phase(moment.astimezone(UTC)) == expected


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (time(9, 30), "regular"),
        (time(12, 59, 59), "regular"),
        (time(13), "after"),
        (time(16), "after"),
        (time(16, 59, 59), "after"),
        (time(17), "closed"),
        (time(19), "closed"),
    ],
)
def test_phase_boundaries_on_an_early_close_day(clock: time, expected: str) -> None:
    assert phase(_ny(date(2024, 11, 29), clock)) == expected


@pytest.mark.parametrize(
    ("moment", "change"),
    [
        (_ny(date(2024, 6, 12), time(3)), _ny(date(2024, 6, 12), time(4))),
        (_ny(date(2024, 6, 12), time(9, 30)), _ny(date(2024, 6, 12), time(16))),
        (_ny(date(2024, 11, 29), time(13)), _ny(date(2024, 11, 29), time(17))),
        (_ny(date(2024, 8, 30), time(20)), _ny(date(2024, 9, 3), time(4))),  # Labor Day weekend
        (datetime(2024, 3, 9, 3, 0, tzinfo=UTC), datetime(2024, 3, 11, 8, 0, tzinfo=UTC)),  # into EDT
    ],
)
def test_next_phase_change_examples(moment: datetime, change: datetime) -> None:
    assert next_phase_change(moment) == change


def test_the_week_of_christmas_2024() -> None:
    week = sessions(date(2024, 12, 23), date(2024, 12, 29))
    assert [s.day.day for s in week] == [23, 24, 26, 27]
    eve = week[1]
    assert eve.early_close
    assert (eve.close, eve.after_close) == (_ny(eve.day, time(13)), _ny(eve.day, time(17)))
    assert sessions(date(2024, 12, 29), date(2024, 12, 23)) == []


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        phase(datetime(2024, 6, 12, 10, 0))
