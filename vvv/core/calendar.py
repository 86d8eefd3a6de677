"""The NYSE calendar by rule: which days trade and when each phase of a session begins.

The scheduler asks `phase(now)` to pick a collector's interval and `next_phase_change(now)`
to know when to ask again; `vvv calendar` prints `sessions(start, end)`. Everything follows
from the exchange's holiday and early-close rules plus a short table of one-off closures,
so nothing needs a yearly update. The tests hold it to exchange_calendars' XNYS day by day
from 2000 to 2035; earlier years get today's rules, which the exchange did not always apply.

    >>> phase(datetime(2024, 11, 29, 14, 0, tzinfo=NY))  # the day after Thanksgiving closes at 13:00
    'after'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from attrs import frozen

NY = ZoneInfo("America/New_York")

Phase = Literal["pre", "regular", "after", "closed"]

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)

_PRE_OPEN = time(4)
_OPEN = time(9, 30)
_CLOSE = time(16)
_AFTER_CLOSE = time(20)
_EARLY_CLOSE = time(13)
# On early-close days extended hours end at 17:00, not 20:00: NYSE Arca and Nasdaq close
# their post-market four hours after the 13:00 bell, so there is nothing to collect later.
_EARLY_AFTER_CLOSE = time(17)

# Full-day closures since 2000 that no rule predicts.
_ONE_OFF_CLOSURES: Mapping[date, str] = MappingProxyType({
    date(2001, 9, 11): "September 11 attacks",
    date(2001, 9, 12): "September 11 attacks",
    date(2001, 9, 13): "September 11 attacks",
    date(2001, 9, 14): "September 11 attacks",
    date(2004, 6, 11): "National Day of Mourning for Ronald Reagan",
    date(2007, 1, 2): "National Day of Mourning for Gerald Ford",
    date(2012, 10, 29): "Hurricane Sandy",
    date(2012, 10, 30): "Hurricane Sandy",
    date(2018, 12, 5): "National Day of Mourning for George H. W. Bush",
    date(2025, 1, 9): "National Day of Mourning for Jimmy Carter",
})

# Early closes since 2000 that no rule predicts. The exchange did not repeat this one after
# the Thursday Christmases of 2008, 2014 and 2025, so it is history, not a rule.
_ONE_OFF_EARLY_CLOSES: Mapping[date, str] = MappingProxyType({
    date(2003, 12, 26): "Day after Christmas",
})


@frozen
class Session:
    """One trading day's phase boundaries, aware in New York time."""

    day: date
    pre_open: datetime
    open: datetime
    close: datetime
    after_close: datetime
    early_close: bool


def holidays(year: int) -> dict[date, str]:
    """NYSE full-day closures in `year` (by rule and from the one-off table), each with its name.

    >>> holidays(2022)[date(2022, 6, 20)]
    'Juneteenth'
    """
    return dict(_closures(year))


def is_trading_day(day: date) -> bool:
    return day.weekday() < SAT and day not in _closures(day.year)


def session(day: date) -> Session | None:
    """The session on `day`, or None when the exchange does not trade (weekends, holidays)."""
    if not is_trading_day(day):
        return None
    early = day in _early_closes(day.year)
    return Session(
        day=day,
        pre_open=_at(day, _PRE_OPEN),
        open=_at(day, _OPEN),
        close=_at(day, _EARLY_CLOSE if early else _CLOSE),
        after_close=_at(day, _EARLY_AFTER_CLOSE if early else _AFTER_CLOSE),
        early_close=early,
    )


def sessions(start: date, end: date) -> list[Session]:
    """The sessions from `start` to `end`, both included, in order."""
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [s for s in map(session, days) if s is not None]


def previous_trading_day(day: date) -> date:
    """The last trading day strictly before `day`."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def next_trading_day(day: date) -> date:
    """The first trading day strictly after `day`."""
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def opened_day(moment: datetime) -> date:
    """The newest trading day whose regular session has opened by `moment`: today from 09:30 New York
    time, else the trading day before, whose series is the newest there is (a night, a weekend)."""
    local = _in_new_york(moment)
    today = session(local.date())
    return today.day if today is not None and local >= today.open else previous_trading_day(local.date())


def last_trading_day(day: date) -> date:
    """`day` when it trades, else the trading day before it: the day whose data is newest."""
    return day if is_trading_day(day) else previous_trading_day(day)


def phase(moment: datetime) -> Phase:
    """Where an aware `moment` (any time zone) falls in New York's trading day.

    Each phase includes its start and excludes its end: 09:30:00 is "regular", 16:00:00 "after".
    """
    local = _in_new_york(moment)
    today = session(local.date())
    if today is None or not today.pre_open <= local < today.after_close:
        return "closed"
    if local < today.open:
        return "pre"
    return "regular" if local < today.close else "after"


def next_phase_change(moment: datetime) -> datetime:
    """The first instant after `moment` at which `phase` answers differently, in New York time.

    The scheduler sleeps until then instead of polling the calendar.
    """
    local = _in_new_york(moment)
    day = local.date()
    # Every session boundary changes the phase (20:00 and 04:00 are never adjacent), so the
    # answer is the first boundary after `moment`; a trading day comes within a week or so.
    while True:
        today = session(day)
        if today is not None:
            for edge in (today.pre_open, today.open, today.close, today.after_close):
                if edge > local:
                    return edge
        day += timedelta(days=1)


def _in_new_york(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the market calendar needs an aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(NY)


def _at(day: date, clock: time) -> datetime:
    # No trading hour falls in a DST gap or fold (those are at 02:00 on Sundays), so this is exact.
    return datetime.combine(day, clock, tzinfo=NY)


@lru_cache(maxsize=128)
def _closures(year: int) -> Mapping[date, str]:
    found = {day: name for day, name in _ONE_OFF_CLOSURES.items() if day.year == year}
    found.update(_rule_holidays(year))
    return MappingProxyType(found)


def _rule_holidays(year: int) -> dict[date, str]:
    """The holidays NYSE observes every year; each observed date stays inside `year`."""
    rules = {
        "New Year's Day": _new_years_day(year),
        "Martin Luther King Jr. Day": _nth_weekday(year, 1, MON, 3) if year >= 1998 else None,
        "Washington's Birthday": _nth_weekday(year, 2, MON, 3),
        "Good Friday": _easter(year) - timedelta(days=2),
        "Memorial Day": _last_weekday(year, 5, MON),
        "Juneteenth": _observed(date(year, 6, 19)) if year >= 2022 else None,
        "Independence Day": _observed(date(year, 7, 4)),
        "Labor Day": _nth_weekday(year, 9, MON, 1),
        "Thanksgiving Day": _thanksgiving(year),
        "Christmas Day": _observed(date(year, 12, 25)),
    }
    return {day: name for name, day in rules.items() if day is not None}


@lru_cache(maxsize=128)
def _early_closes(year: int) -> Mapping[date, str]:
    """13:00 closes: each rule names a date, and it applies when that date trades at all.

    A Friday July 3 or December 24 is the observed holiday itself, so it is dropped here.
    """
    candidates = {
        _independence_half_day(year): "Independence Day eve",
        _thanksgiving(year) + timedelta(days=1): "Day after Thanksgiving",
        date(year, 12, 24): "Christmas Eve",
    }
    candidates.update({day: name for day, name in _ONE_OFF_EARLY_CLOSES.items() if day.year == year})
    return MappingProxyType({day: name for day, name in candidates.items() if is_trading_day(day)})


def _independence_half_day(year: int) -> date:
    # Until 2012 a Thursday July 4 shortened the Friday after (2002: July 5), not the Wednesday before.
    july_4 = date(year, 7, 4)
    if year < 2013 and july_4.weekday() == THU:
        return date(year, 7, 5)
    return date(year, 7, 3)


def _new_years_day(year: int) -> date | None:
    # A Sunday January 1 moves to Monday; a Saturday one is not observed at all: NYSE Rule 7.2
    # keeps a Friday open before a Saturday holiday when it ends an accounting period (December 31).
    day = date(year, 1, 1)
    if day.weekday() == SAT:
        return None
    return _observed(day)


def _observed(day: date) -> date:
    if day.weekday() == SAT:
        return day - timedelta(days=1)
    if day.weekday() == SUN:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, THU, 4)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday by the anonymous (Meeus/Jones/Butcher) computus."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (the algorithm's own name)
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)
