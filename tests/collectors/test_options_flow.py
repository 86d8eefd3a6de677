"""The options flow collector's contract: parse, identity, the option symbol, filters, and what its halts say.

Its paging is `TimeSweep`, played against its model in test_paging.py.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    api_integers,
    api_numbers,
    aware_datetimes,
    json_values,
    json_values_of,
    refused,
    space_spelling,
    spellings,
    z_spelling,
)

from vvv.collectors import options_flow
from vvv.core.base import HALT_MARK, Page, record_row
from vvv.core.convert import CONVERTER
from vvv.core.params import Param, query

NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)

roots = st.from_regex(r"[A-Z][A-Z0-9.]{0,5}", fullmatch=True)
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
strikes = st.integers(min_value=0, max_value=99_999_999).map(lambda n: Decimal(n) / 1000)
symbols = st.builds(options_flow.OptionSymbol, roots, expiries, st.sampled_from(["call", "put"]), strikes)


def _spelled_strike(strike: Decimal) -> str:
    return str(int(strike)) if strike == strike.to_integral_value() else str(strike)


@st.composite
def alert_items(draw: st.DrawFn) -> dict[str, Any]:
    """An alert as the API sends it: the symbol and the fields restating it agree, numbers often as strings."""
    symbol = draw(symbols)
    item: dict[str, Any] = {
        "created_at": draw(aware_datetimes.flatmap(spellings)),
        "option_chain": str(symbol),
        "alert_rule": draw(st.sampled_from(options_flow.RULE_NAMES) | st.text(min_size=1, max_size=8)),
    }
    restated = {
        "ticker": st.none() | st.just(symbol.root),
        "expiry": st.none() | st.just(symbol.expiry.isoformat()),
        "type": st.none() | st.sampled_from([symbol.option_type, symbol.option_type.capitalize()]),
        "strike": st.none() | st.sampled_from([_spelled_strike(symbol.strike), str(symbol.strike)]),
    }
    optional = {
        **dict.fromkeys(("price", "underlying_price", "total_premium", "total_ask_side_prem",
                         "total_bid_side_prem", "volume_oi_ratio"), st.none() | api_numbers),
        **dict.fromkeys(("total_size", "trade_count", "volume", "open_interest", "expiry_count"),
                        st.none() | api_integers),
        **dict.fromkeys(("has_sweep", "has_floor", "has_multileg", "has_singleleg", "all_opening_trades"),
                        st.none() | st.booleans()),
        "issue_type": st.none() | st.sampled_from(options_flow.ISSUE_TYPES),
    }
    item.update(draw(st.fixed_dictionaries({}, optional={**restated, **optional})))
    item.update(draw(st.dictionaries(st.sampled_from(["iv_start", "marketcap", "x"]), json_values, max_size=2)))
    return item


def _record(item: dict[str, Any]) -> options_flow.Alert:
    records, rejects = options_flow.COLLECTOR.parse({"data": [item]})
    assert rejects == [], rejects
    return records[0]


wrong_types = st.fixed_dictionaries({}, optional={
    name: json_values_of(st.text(max_size=6)) for name in (
        "created_at", "option_chain", "alert_rule", "ticker", "expiry", "type", "strike", "price", "total_size",
        "has_sweep", "volume",
    )
})
payloads = json_values | st.lists(json_values | alert_items() | wrong_types
                                  | st.builds(lambda a, b: {**a, **b}, alert_items(), wrong_types),
                                  max_size=6).map(lambda data: {"data": data})


@given(payloads)
@example(None)
@example({"data": None})
@example({"data": [None, "x", 1, [], {}]})
def test_parse_never_raises_and_accounts_for_every_item(payload):
    before = repr(payload)
    records, rejects = options_flow.COLLECTOR.parse(payload)
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, list):
        assert len(records) + len(rejects) == len(data)
    else:
        assert records == [] and len(rejects) == 1 and rejects[0].raw is payload
    assert all(isinstance(r.reason, str) and r.reason for r in rejects)
    assert repr(payload) == before


@given(alert_items())
def test_a_well_formed_alert_becomes_a_record_with_its_symbol_taken_apart(item):
    record = _record(item)
    symbol = options_flow.parse_option_symbol(item["option_chain"])
    assert (record.underlying, record.expiry, record.option_type, record.strike) == (
        symbol.root, symbol.expiry, symbol.option_type, symbol.strike)
    assert record.created_at.utcoffset() == timedelta(0)
    assert set(record.extra) == set(item) - set(options_flow.ITEM.names)
    assert len(record_row(record)) == len(options_flow.SPEC.columns)
    assert [a.name for a in attrs.fields(options_flow.Alert)] == list(options_flow.SPEC.column_names)


def test_the_example_of_the_api_description_parses_with_numeric_strike_and_date_expiry():
    item = {"alert_rule": "RepeatedHits", "all_opening_trades": False, "created_at": "2023-12-12 16:35:52.168490+00:00",
            "expiry": "2023-12-22", "expiry_count": 1, "has_floor": False, "has_multileg": False,
            "has_singleleg": True, "has_sweep": True, "issue_type": "Common Stock", "open_interest": 7913,
            "option_chain": "MSFT231222C00375000", "price": "4.05", "strike": "375", "ticker": "MSFT",
            "total_ask_side_prem": "151875", "total_bid_side_prem": "405", "total_premium": "186705",
            "total_size": 461, "trade_count": 32, "type": "call", "underlying_price": "372.99", "volume": 2442,
            "volume_oi_ratio": "0.30860609124226"}
    record = _record(item)
    assert record.strike == Decimal("375") and record.expiry == date(2023, 12, 22)
    assert record.total_premium == Decimal("186705") and record.volume_oi_ratio == Decimal("0.30860609124226")
    assert refused(options_flow, record, NOW) is None


@given(alert_items(), aware_datetimes)
def test_identity_is_stable_across_timestamp_spellings_and_measurements(item, moment):
    """Every spelling of one instant, and any change to what the alert measures, keeps the id."""
    first = _record({**item, "created_at": z_spelling(moment)})
    second = _record({**item, "created_at": space_spelling(moment.astimezone(UTC)), "total_premium": "1",
                      "volume": 7, "price": None, "new_field": 1})
    assert first.id == second.id


@given(alert_items(), st.sampled_from(["option_chain", "alert_rule", "created_at"]))
def test_identity_changes_with_each_identifying_field(item, field):
    record = _record(item)
    changed = {"option_chain": "ZZZZZZ991231P99999999", "alert_rule": record.alert_rule + "x",
               "created_at": z_spelling(record.created_at + timedelta(microseconds=1))}[field]
    other = {k: v for k, v in item.items() if k not in ("ticker", "expiry", "type", "strike")}
    assert _record({**other, field: changed}).id != record.id


@given(alert_items(), st.uuids(), st.uuids(), st.uuids())
def test_the_providers_id_is_the_identity_when_it_sent_one(item, one, other, rule):
    """Live alerts carry `id`: two alerts of one rule on one contract at one instant are two alerts."""
    first = _record({**item, "id": str(one), "rule_id": str(rule)})
    second = _record({**item, "id": str(other), "rule_id": str(rule)})
    assert (first.id, first.rule_id) == (str(one), str(rule))
    assert (second.id != first.id) == (one != other)
    assert "id" not in first.extra and "rule_id" not in first.extra


@given(alert_items(), st.sampled_from([None, ""]))
def test_without_the_providers_id_the_identity_is_the_hash(item, missing):
    hashed = options_flow.alert_id(option_chain=item["option_chain"], alert_rule=item["alert_rule"],
                                   created_at=_record(item).created_at)
    assert _record(item).id == hashed
    assert _record({**item, "id": missing, "rule_id": missing}).id == hashed


@given(symbols)
def test_an_option_symbol_round_trips(symbol):
    assert options_flow.parse_option_symbol(str(symbol)) == symbol


@pytest.mark.parametrize("text", ["", "AAPL", "AAPL230317X00150000", "AAPL231317C00150000", "aapl230317C00150000",
                                  "AAPL230317C0015000", "TOOLONGX230317C00150000", 12, None])
def test_a_text_that_is_no_option_symbol_is_a_reject_naming_option_chain(text):
    item = {"created_at": "2023-03-01T15:00:00Z", "option_chain": text, "alert_rule": "RepeatedHits"}
    records, rejects = options_flow.COLLECTOR.parse({"data": [item]})
    assert records == [] and "option_chain" in rejects[0].reason and rejects[0].raw is item


@given(alert_items(), st.sampled_from(["ticker", "expiry", "type", "strike"]))
def test_a_field_that_contradicts_the_symbol_is_a_reject_naming_it(item, field):
    symbol = options_flow.parse_option_symbol(item["option_chain"])
    wrong = {"ticker": symbol.root + "X", "expiry": (symbol.expiry + timedelta(days=1)).isoformat(),
             "type": "put" if symbol.option_type == "call" else "call", "strike": str(symbol.strike + 1)}[field]
    records, rejects = options_flow.COLLECTOR.parse({"data": [{**item, field: wrong}]})
    assert records == []
    assert rejects[0].reason.startswith(f"option_chain {symbol} disagrees with {field} ")


@pytest.mark.parametrize("chain, ticker", [("SPXW231222C04700000", "SPX"), ("AAPL1231222C00150000", "AAPL"),
                                           ("BRK.B231222C00400000", "BRK.B")])
def test_index_weeklies_and_adjusted_roots_agree_with_their_ticker(chain, ticker):
    record = _record({"created_at": "2023-12-12T16:35:52Z", "option_chain": chain, "alert_rule": "RepeatedHits",
                      "ticker": ticker})
    assert record.underlying == chain[:-15] and record.ticker == ticker


def test_validate_rejects_the_future_and_names_the_rule():
    item = {"created_at": z_spelling(NOW + timedelta(minutes=6)), "option_chain": "SPY260320C00580000",
            "alert_rule": "RepeatedHits"}
    assert "in the future" in refused(options_flow, _record(item), NOW)
    assert refused(options_flow, _record({**item, "created_at": z_spelling(NOW)}), NOW) is None
    assert "bigint" in refused(options_flow, _record({**item, "created_at": z_spelling(NOW), "volume": 2**63}), NOW)


# Filters.

_ALERT = {"created_at": z_spelling(NOW - timedelta(minutes=1)), "option_chain": "SPY260320C00580000",
          "alert_rule": "RepeatedHits"}

_GOOD = {"integer": st.integers(min_value=0, max_value=10**9), "boolean": st.booleans(),
         "tickers": st.sampled_from(["AAPL", "AAPL,INTC", "-SPY,QQQ", "brk.b"])}


def _good_value(spec: Param) -> st.SearchStrategy[Any]:
    if spec.kind == "choices":
        return st.lists(st.sampled_from(spec.choices), min_size=1, max_size=3)
    if spec.kind == "number":
        low, high = spec.low if spec.low is not None else -1e6, spec.high if spec.high is not None else 1e6
        return st.integers(min_value=math.ceil(low), max_value=math.floor(high)) | st.floats(low, high)
    return _GOOD[spec.kind]


good_filters = st.dictionaries(st.sampled_from(sorted(options_flow.FILTERS)), st.none(), max_size=6).flatmap(
    lambda names: st.fixed_dictionaries({n: _good_value(options_flow.FILTERS[n]) for n in names}))


@given(good_filters)
def test_documented_filters_are_accepted_and_go_into_every_request(filters):
    settings = options_flow.Settings(filters=filters)
    params = query(options_flow.FILTERS, settings.filters)
    assert [name.removesuffix("[]") for name, _ in params] == sorted(filters, key=list(options_flow.FILTERS).index)
    for name, value in params:
        given_value = filters[name.removesuffix("[]")]
        if name.endswith("[]"):
            assert value == tuple(dict.fromkeys(given_value))
        elif isinstance(given_value, bool):
            assert value == str(given_value).lower()
        elif isinstance(given_value, int | float):
            assert Decimal(value) == Decimal(repr(given_value)) and "e" not in value.lower()
    start = options_flow.COLLECTOR.begin(None, "", NOW, settings)
    first = options_flow.COLLECTOR.next_request(start, None, None, settings)
    assert first.params[len(first.params) - len(params):] == params
    full = Page(first, settings.page_size, tuple([_record(_ALERT)] * settings.page_size))
    second = options_flow.COLLECTOR.next_request(start, first, full, settings)  # one page on, below the first
    assert second.param("older_than") is not None and second.params[len(second.params) - len(params):] == params


@pytest.mark.parametrize("filters, error, key", [
    ({"min_premum": 1}, ValueError, "filters.min_premum"),
    ({"rule_name[]": ["RepeatedHits"]}, ValueError, "filters.rule_name[]"),
    ({"limit": 5}, ValueError, "filters.limit"),
    ({"is_sweep": "true"}, TypeError, "filters.is_sweep"),
    ({"is_sweep": 1}, TypeError, "filters.is_sweep"),
    ({"min_size": 1.5}, TypeError, "filters.min_size"),
    ({"min_dte": True}, TypeError, "filters.min_dte"),
    ({"min_dte": -1}, ValueError, "filters.min_dte"),
    ({"max_ask_perc": 1.5}, ValueError, "filters.max_ask_perc"),
    ({"min_premium": float("nan")}, ValueError, "filters.min_premium"),
    ({"rule_name": "RepeatedHits"}, TypeError, "filters.rule_name"),
    ({"rule_name": []}, TypeError, "filters.rule_name"),
    ({"issue_types": ["Stock"]}, ValueError, "filters.issue_types"),
    ({"ticker_symbol": ["AAPL"]}, TypeError, "filters.ticker_symbol"),
    ({"ticker_symbol": "AAPL, INTC"}, TypeError, "filters.ticker_symbol"),
])
def test_an_unknown_filter_or_a_wrong_type_is_an_error_naming_it(filters, error, key):
    with pytest.raises(error, match=key.replace("[", r"\[").replace("]", r"\]")):
        options_flow.Settings(filters=filters)


def test_settings_come_from_toml_values_through_the_converter():
    settings = CONVERTER.structure({"first_run_hours": 3, "filters": {"issue_types": ["ETF", "Index"],
                                                                      "min_premium": 12500.5}},
                                   options_flow.Settings)
    assert settings.filters == {"issue_types": ("ETF", "Index"), "min_premium": 12500.5}
    assert options_flow.Settings() == options_flow.Settings(page_size=200, lookback_seconds=300, max_pages=100,
                                                            first_run_hours=1, filters={})
    with pytest.raises(ValueError, match="page_size"):
        options_flow.Settings(page_size=201)


# What its sweep says and sends (the sweep itself, `TimeSweep`, is played against its model in test_paging.py).

def test_an_unreadable_page_halts_naming_created_at_and_the_value():
    settings = options_flow.Settings(page_size=3)
    start = options_flow.COLLECTOR.begin(None, "", NOW, settings)
    request = options_flow.COLLECTOR.next_request(start, None, None, settings)
    blind = Page(request, 3, (), rejected="Invalid isoformat string: '12/01/2026 14:00:00 ET' @ item.created_at")
    assert request.path == options_flow.PATH
    assert options_flow.COLLECTOR.warnings(start, blind, settings) == [
        "a full page of 3 alerts could not be read (created_at: Invalid isoformat string: '12/01/2026 14:00:00 ET');"
        f" {HALT_MARK}"
    ]
