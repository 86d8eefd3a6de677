"""The contract of `parse` the runner relies on to keep a rejected record as its raw item:
each `data` item becomes one record or one Reject holding that item, in order. One property for
every collector, over items generated from openapi.json's schema of its endpoint plus the live
quirks (openapi_items.py); a new collector adds its row to SCHEMAS."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_items import examples, items_for
from strategies import json_values

from vvv.collectors import COLLECTORS
from vvv.core.base import record_items

SCHEMAS = {  # collector -> the component schema of its endpoint's items
    "news": "Headline News",
    "darkpool": "Darkpool Trade",
    "darkpool_recent": "Darkpool Trade",
    "options_flow": "Flow Alert",
    "economic_calendar": "Economic calendar",
    "ohlc": "Candle data",
    "spot_exposures": "Spot GEX exposures per 1min",
    "net_prem_ticks": "Net Prem Tick response.",
    "insider_trades": "Insider Trade Agg",
    "congress_trades": "Senate Stock",
    "earnings": "Earnings",
    "market_tide": "Daily Market Tide",
    "fda_calendar": "FDA Calendar",
}


def test_every_collector_has_a_row() -> None:
    assert set(SCHEMAS) == set(COLLECTORS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@given(data=st.data())
def test_each_record_comes_from_the_item_record_items_names(name: str, data: st.DataObject) -> None:
    items: list[Any] = data.draw(st.lists(items_for(SCHEMAS[name]) | json_values, max_size=6), label="items")
    parse = COLLECTORS[name].parse
    payload = {"data": items}
    records, rejects = parse(payload)
    raws = record_items(payload, rejects)
    assert len(raws) == len(records)
    for raw, record in zip(raws, records, strict=True):
        assert repr(parse({"data": [raw]})[0]) == repr([record])  # repr: a NaN in extra equals itself
    assert all(any(reject.raw is item for item in items) for reject in rejects)
    assert all(reject.reason for reject in rejects)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_descriptions_own_examples_are_records(name: str) -> None:
    """The generated items start from these, so most of the property's items parse too."""
    items = examples(SCHEMAS[name])
    records, rejects = COLLECTORS[name].parse({"data": items})
    assert items and (len(records), rejects) == (len(items), [])


def test_a_response_without_a_data_list_has_no_record_items() -> None:
    for payload in (None, [1], {"data": None}):
        records, rejects = COLLECTORS["news"].parse(payload)
        assert record_items(payload, rejects) == [] == records
