"""Market tide's own rules: a tick's day is its timestamp's New York day, its interval the series asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vvv.collectors import market_tide
from vvv.core.calendar import NY

moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2034, 12, 1), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(microsecond=0))  # ticks are to the second


@given(moments, st.sampled_from(market_tide.INTERVALS), st.booleans())
def test_a_ticks_day_is_its_new_york_day_whatever_the_spelling(moment: datetime, interval: str, utc: bool) -> None:
    spelled = moment.strftime("%Y-%m-%dT%H:%M:%SZ") if utc else moment.astimezone(NY).isoformat(sep=" ")
    day = moment.astimezone(NY).date()
    item = {"timestamp": spelled, "date": day.isoformat(), "net_call_premium": "1.5", "net_volume": "12"}
    (tick,), rejects = market_tide.COLLECTOR.parse({"data": [item]}, interval)
    assert rejects == [] and (tick.date, tick.interval, tick.net_volume) == (day, interval, 12)
    assert tick.timestamp == moment and tick.extra == {}
    wrong = (day + timedelta(days=1)).isoformat()
    records, (reject,) = market_tide.COLLECTOR.parse({"data": [{**item, "date": wrong}]}, interval)
    assert records == [] and "is not the New York day" in reject.reason
    (undated,), _ = market_tide.COLLECTOR.parse({"data": [{k: v for k, v in item.items() if k != "date"}]}, interval)
    assert undated.date == day


def test_the_interval_5m_parameter_follows_the_partition() -> None:
    start = market_tide.COLLECTOR.begin(None, "5m", datetime(2026, 3, 10, 15, 0, tzinfo=UTC), market_tide.Settings())
    request = market_tide.COLLECTOR.next_request(start, None, None, market_tide.Settings(), "5m")
    assert dict(request.params) == {"date": date(2026, 3, 10).isoformat(), "interval_5m": "true"}


@pytest.mark.parametrize("wrong", [[], "5m", ["1h"], ["5m", "15m"]])
def test_intervals_refuse_a_series_the_api_does_not_serve(wrong) -> None:
    with pytest.raises(ValueError, match="intervals"):
        market_tide.Settings(intervals=wrong)
