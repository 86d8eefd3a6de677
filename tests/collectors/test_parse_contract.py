"""The contract of `parse` the runner relies on to keep a rejected record as its raw item:
each `data` item becomes one record or one Reject holding that item, in order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from strategies import darkpool_items, headline_items, json_values
from test_economic_calendar import events
from test_options_flow import alert_items
from vvv.collectors import COLLECTORS
from vvv.core.base import record_items

ITEMS = {"news": headline_items(), "darkpool": darkpool_items(), "options_flow": alert_items(),
         "economic_calendar": events()}


@given(st.sampled_from(sorted(ITEMS)).flatmap(
    lambda name: st.tuples(st.just(name), st.lists(ITEMS[name] | json_values, max_size=6))))
def test_each_record_comes_from_the_item_record_items_names(case: tuple[str, list[Any]]) -> None:
    name, items = case
    parse = COLLECTORS[name].parse
    payload = {"data": items}
    records, rejects = parse(payload)
    raws = record_items(payload, rejects)
    assert len(raws) == len(records)
    for raw, record in zip(raws, records, strict=True):
        assert repr(parse({"data": [raw]})[0]) == repr([record])  # repr: a NaN in extra equals itself
    assert all(any(reject.raw is item for item in items) for reject in rejects)


def test_a_response_without_a_data_list_has_no_record_items() -> None:
    for payload in (None, [1], {"data": None}):
        records, rejects = COLLECTORS["news"].parse(payload)
        assert record_items(payload, rejects) == [] == records
