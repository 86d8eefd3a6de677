"""The economic calendar collector: one request a pass, an event identified by its name and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from rescan import check_fold
from strategies import clean_text, json_values, refused, spellings

from vvv.collectors import economic_calendar as calendar_
from vvv.core.base import Page, Reject, Request
from vvv.core.paging import LatestCursor

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
_moments = st.datetimes(datetime(2026, 2, 1), datetime(2026, 4, 1), timezones=st.just(UTC))


@st.composite
def events(draw: st.DrawFn, text: st.SearchStrategy[str] = clean_text) -> dict[str, Any]:
    """An item shaped like the `Economic calendar` schema, with nulls where the API sends them."""
    item = {
        "event": draw(text.filter(str.strip)),
        "time": draw(_moments.flatmap(spellings)),
        "type": draw(st.none() | st.sampled_from(calendar_.EVENT_TYPES)),
        "reported_period": draw(st.none() | text),
        "forecast": draw(st.none() | text),
        "prev": draw(st.none() | text),
    }
    return {**item, **draw(st.dictionaries(st.sampled_from(["actual", "country", "url"]), json_values, max_size=2))}


@given(st.lists(events() | json_values, max_size=6))
def test_parse_never_raises_and_accounts_for_every_item(items: list[Any]) -> None:
    records, rejects = calendar_.COLLECTOR.parse({"data": items})
    assert len(records) + len(rejects) == len(items)
    assert all(isinstance(r, Reject) and r.reason for r in rejects)


@given(json_values)
def test_a_response_without_a_data_list_is_one_reject(payload: Any) -> None:
    records, rejects = calendar_.COLLECTOR.parse(payload if not isinstance(payload, dict) else {"nope": payload})
    assert records == [] and len(rejects) == 1


@given(events())
def test_a_well_formed_event_is_parsed_with_its_extras(item: dict[str, Any]) -> None:
    (record,), rejects = calendar_.COLLECTOR.parse({"data": [item]})
    assert rejects == []
    assert record.event == item["event"] and record.time.tzinfo is not None
    assert record.extra == {k: v for k, v in item.items() if k not in calendar_.COLLECTOR.item.documented}


@given(events(), st.sampled_from(["forecast", "prev", "reported_period", "type", "actual"]), clean_text)
def test_a_revised_event_keeps_its_id_so_it_replaces_its_row(item: dict, field: str, value: str) -> None:
    """The numbers of an event are revised as its date nears; it is still the same event."""
    (first,), _ = calendar_.COLLECTOR.parse({"data": [item]})
    (revised,), _ = calendar_.COLLECTOR.parse({"data": [{**item, field: value}]})
    assert revised.id == first.id
    assert calendar_.SPEC.revisable


@given(events(), clean_text.filter(str.strip), st.timedeltas(timedelta(seconds=1), timedelta(days=3)))
def test_another_name_or_time_is_another_event(item: dict, name: str, later: timedelta) -> None:
    (first,), _ = calendar_.COLLECTOR.parse({"data": [item]})
    (moved,), _ = calendar_.COLLECTOR.parse({"data": [{**item, "time": (first.time + later).isoformat()}]})
    assert moved.id != first.id
    if name != item["event"]:
        (renamed,), _ = calendar_.COLLECTOR.parse({"data": [{**item, "event": name}]})
        assert renamed.id != first.id


@given(_moments)
def test_both_timestamp_spellings_are_one_event(moment: datetime) -> None:
    base = {"event": "CPI", "type": "report"}
    ids = {calendar_.COLLECTOR.parse({"data": [{**base, "time": t}]})[0][0].id
           for t in (moment.isoformat(sep=" "), moment.isoformat().replace("+00:00", "Z"))}
    assert len(ids) == 1


def test_validation_reasons() -> None:
    (good,), _ = calendar_.COLLECTOR.parse({"data": [{"event": "FOMC", "time": "2026-03-11T18:00:00Z", "type": "fomc"}]})
    assert refused(calendar_, good, NOW) is None
    assert "empty" in refused(calendar_, attrs.evolve(good, event="  "), NOW)
    assert "days from now" in refused(calendar_, attrs.evolve(good, time=NOW + timedelta(days=400)), NOW)
    assert "NUL" in refused(calendar_, attrs.evolve(good, forecast="1\x00"), NOW)


def test_an_event_type_the_description_does_not_list_is_stored_with_a_note() -> None:
    """The live calendar sends "13F" (twice captured); the event is data, not a reject."""
    items = [{"event": "13F filings due", "time": "2026-03-11T20:00:00Z", "type": "13F"},
             {"event": "FOMC", "time": "2026-03-11T18:00:00Z", "type": "fomc"},
             {"event": "Holdings", "time": "2026-03-12T20:00:00Z", "type": "13F"}]
    records, rejects = calendar_.COLLECTOR.parse({"data": items})
    assert rejects == [] and all(refused(calendar_, r, NOW) is None for r in records)
    page = Page(request=calendar_.COLLECTOR.next_request(LatestCursor(), None, None, calendar_.Settings()),
                received=3, records=tuple(records))
    (note,) = calendar_.COLLECTOR.warnings(LatestCursor(), page, calendar_.Settings())
    assert "'13F'" in note and "stored" in note


@given(events())
def test_a_blank_forecast_or_period_is_null(item: dict) -> None:
    (record,), _ = calendar_.COLLECTOR.parse({"data": [{**item, "forecast": "", "prev": "", "reported_period": ""}]})
    assert (record.forecast, record.prev, record.reported_period) == (None, None, None)


def test_a_blank_event_name_or_time_is_still_a_reject_naming_it() -> None:
    _, (no_time,) = calendar_.COLLECTOR.parse({"data": [{"event": "CPI", "time": ""}]})
    assert "item.time" in no_time.reason
    (no_name,), _ = calendar_.COLLECTOR.parse({"data": [{"event": "", "time": "2026-03-11T18:00:00Z"}]})
    assert "event is empty" in refused(calendar_, no_name, NOW)


@given(st.lists(st.lists(events(), max_size=4), max_size=4))
def test_one_request_a_pass_and_the_cursor_never_goes_back(answers: list[list[dict]]) -> None:
    settings, cursor = calendar_.Settings(), LatestCursor()
    for answer in answers:
        first = calendar_.COLLECTOR.next_request(cursor, None, None, settings)
        records, _ = calendar_.COLLECTOR.parse({"data": answer})
        page = Page(request=first, received=len(answer), records=tuple(records))
        assert first.path == calendar_.PATH and first.params == ()
        assert calendar_.COLLECTOR.next_request(cursor, first, page, settings) is None
        saved = calendar_.COLLECTOR.advance(cursor, cursor, page, settings)
        check_fold(calendar_, cursor, saved, [page], settings)
        assert cursor.latest is None or (saved.latest is not None and saved.latest >= cursor.latest)
        cursor = saved


def test_the_calendar_is_one_request_a_pass_whatever_the_page_said() -> None:
    first = calendar_.COLLECTOR.next_request(LatestCursor(), None, None, calendar_.Settings())
    assert first == Request(calendar_.PATH)
    page = Page(first, 0, records=())
    assert calendar_.COLLECTOR.next_request(LatestCursor(), first, page, calendar_.Settings()) is None
