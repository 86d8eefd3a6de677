"""The FDA calendar's own rules: the window asked for, a missing catalyst, windows that end before they start."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from vvv.collectors import fda_calendar

EVENT = {"ticker": "IOVA", "drug": "Lifileucel", "catalyst": "PDUFA Date", "start_date": "2024-02-24",
         "end_date": "2024-02-24", "status": "NDA", "marketcap": "1000000000", "outcome": None}


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2034, 12, 1), timezones=st.just(UTC)),
       st.integers(0, 400), st.integers(0, 400), st.integers(1, fda_calendar.MAX_LIMIT))
def test_the_window_is_the_days_around_new_yorks_today(now: datetime, back: int, ahead: int, limit: int) -> None:
    settings = fda_calendar.Settings(days_back=back, days_ahead=ahead, limit=limit)
    start = fda_calendar.COLLECTOR.begin(None, "", now, settings)
    params = dict(fda_calendar.COLLECTOR.next_request(start, None, None, settings).params)
    low, high = date.fromisoformat(params["target_date_min"]), date.fromisoformat(params["target_date_max"])
    assert (high - low).days == back + ahead and params["limit"] == str(limit)
    assert abs((low + timedelta(days=back) - now.date()).days) <= 1  # New York's today, a day behind at night


def test_an_event_without_a_catalyst_gets_an_empty_one_for_the_key() -> None:
    records, rejects = fda_calendar.COLLECTOR.parse({"data": [{**EVENT, "catalyst": None}, {**EVENT, "catalyst": ""},
                                                              {k: v for k, v in EVENT.items() if k != "catalyst"}]})
    assert rejects == [] and [(e.catalyst, e.drug) for e in records] == [("", "Lifileucel")] * 3


def test_an_event_ending_before_it_starts_or_without_a_name_is_rejected() -> None:
    records, _ = fda_calendar.COLLECTOR.parse({"data": [{**EVENT, "end_date": "2024-02-01"}, {**EVENT, "ticker": ""},
                                                        {**EVENT, "drug": " "}]})
    reasons = [fda_calendar.validate(r, None) for r in records]
    assert reasons == ["end_date 2024-02-01 is before start_date 2024-02-24", "ticker is empty", "drug is empty"]
