"""The economic calendar collector: one request a pass, every version of an event kept once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from strategies import clean_text, json_values, spellings
from vvv.collectors import economic_calendar as calendar_
from rescan import check_fold
from vvv.collectors.base import Page, Reject

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
    records, rejects = calendar_.parse({"data": items})
    assert len(records) + len(rejects) == len(items)
    assert all(isinstance(r, Reject) and r.reason for r in rejects)


@given(json_values)
def test_a_response_without_a_data_list_is_one_reject(payload: Any) -> None:
    records, rejects = calendar_.parse(payload if not isinstance(payload, dict) else {"nope": payload})
    assert records == [] and len(rejects) == 1


@given(events())
def test_a_well_formed_event_is_parsed_with_its_extras(item: dict[str, Any]) -> None:
    (record,), rejects = calendar_.parse({"data": [item]})
    assert rejects == []
    assert record.event == item["event"] and record.time.tzinfo is not None
    assert record.extra == {k: v for k, v in item.items() if k not in calendar_._DOCUMENTED}


@given(events(), st.sampled_from(["forecast", "prev", "reported_period", "type", "event"]), clean_text)
def test_any_revision_is_a_new_version_and_the_same_answer_the_same_id(item: dict, field: str, value: str) -> None:
    (first,), _ = calendar_.parse({"data": [item]})
    (again,), _ = calendar_.parse({"data": [dict(item)]})
    assert first.id == again.id
    revised = {**item, field: value if field != "type" else "fomc" if item["type"] != "fomc" else "report"}
    if revised[field] != item[field] and (field != "event" or value.strip()):
        (changed,), _ = calendar_.parse({"data": [revised]})
        assert changed.id != first.id


@given(_moments)
def test_both_timestamp_spellings_are_one_event(moment: datetime) -> None:
    base = {"event": "CPI", "type": "report"}
    ids = {calendar_.parse({"data": [{**base, "time": t}]})[0][0].id
           for t in (moment.isoformat(sep=" "), moment.isoformat().replace("+00:00", "Z"))}
    assert len(ids) == 1


def test_validation_reasons() -> None:
    (good,), _ = calendar_.parse({"data": [{"event": "FOMC", "time": "2026-03-11T18:00:00Z", "type": "fomc"}]})
    assert calendar_.validate(good, NOW) is None
    assert "type" in calendar_.validate(attrs.evolve(good, type="rumour"), NOW)
    assert "empty" in calendar_.validate(attrs.evolve(good, event="  "), NOW)
    assert "days from now" in calendar_.validate(attrs.evolve(good, time=NOW + timedelta(days=400)), NOW)
    assert "NUL" in calendar_.validate(attrs.evolve(good, forecast="1\x00"), NOW)


@given(st.lists(st.lists(events(), max_size=4), max_size=4))
def test_one_request_a_pass_and_the_cursor_never_goes_back(answers: list[list[dict]]) -> None:
    settings, cursor = calendar_.Settings(), calendar_.Cursor()
    for answer in answers:
        first = calendar_.next_request(cursor, None, None, settings)
        records, _ = calendar_.parse({"data": answer})
        page = Page(request=first, received=len(answer), records=tuple(records))
        assert first.path == calendar_.PATH and first.params == ()
        assert calendar_.next_request(cursor, first, page, settings) is None
        saved = calendar_.advance(cursor, cursor, page, settings)
        check_fold(calendar_, cursor, saved, [page], settings)
        assert cursor.latest is None or (saved.latest is not None and saved.latest >= cursor.latest)
        cursor = saved
