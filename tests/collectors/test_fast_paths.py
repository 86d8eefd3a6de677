"""The fast paths of parsing and validation equal the plain definitions they replace: rows by a
compiled getter equal `attrs.astuple`, an item's compiled decoder reads what the converter's hooks
read field by field, optional fields bound once to their hook structure exactly as cattrs' own,
and one look at each text finds what looking into every value did."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from strategies import darkpool_items, decodable_text, headline_items, json_values_of
from test_economic_calendar import events
from test_options_flow import alert_items

from vvv.collectors import darkpool, economic_calendar, news, options_flow
from vvv.core.base import record_row
from vvv.core.convert import CONVERTER, JsonObject
from vvv.core.schema import _slow, fits_numeric, hints, unstorable_text

_hostile_text = decodable_text | st.text(st.sampled_from("a\x00é\ud800\udfff\U0001f600 "), max_size=6)
_values = json_values_of(_hostile_text)


def _unstorable_rescanned(value: Any) -> str | None:
    """The definition before the fast path: look into every value, one by one."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a text field contains a NUL character, which PostgreSQL cannot store"
        if not value.isascii() and any("\ud800" <= ch <= "\udfff" for ch in value):
            return "a text field contains a lone UTF-16 surrogate, which is not valid UTF-8"
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        return next(filter(None, map(_unstorable_rescanned, value)), None)
    return None


@given(st.lists(_values, max_size=6).map(tuple) | _values)
def test_one_look_at_each_text_finds_the_first_unstorable_text(value: Any) -> None:
    found = unstorable_text(value)
    assert (found is None) == (_unstorable_rescanned(value) is None)
    if found is not None:  # which reason is reported may differ only when several texts are bad
        assert found in {
            "a text field contains a NUL character, which PostgreSQL cannot store",
            "a text field contains a lone UTF-16 surrogate, which is not valid UTF-8",
        }


@given(st.lists(darkpool_items(), min_size=1, max_size=5))
def test_record_rows_are_the_attrs_tuples(items: list[dict]) -> None:
    trades, _ = darkpool.COLLECTOR.parse({"data": items})
    for trade in trades:
        assert record_row(trade) == attrs.astuple(trade, recurse=False)


@given(st.lists(headline_items(), min_size=1, max_size=5))
def test_headline_rows_are_the_attrs_tuples(items: list[dict]) -> None:
    headlines, _ = news.COLLECTOR.parse({"data": items})
    for headline in headlines:
        assert record_row(headline) == attrs.astuple(headline, recurse=False)


_ITEMS = [(darkpool.COLLECTOR.item, darkpool_items()), (news.COLLECTOR.item, headline_items()), (options_flow.ITEM, alert_items()),
          (economic_calendar.COLLECTOR.item, events())]


@given(st.sampled_from(range(len(_ITEMS))).flatmap(
    lambda i: st.tuples(st.just(_ITEMS[i][0]), _ITEMS[i][1] | _values | st.dictionaries(st.text(max_size=3), _values))))
def test_the_compiled_decoder_reads_what_the_hooks_read_field_by_field(case: tuple[Any, Any]) -> None:
    """Values, `extra` in the API's order, or the same reason naming every bad field."""
    item, raw = case
    fields = {name: item.also.get(name) or hints(item.record)[name] for name in item.names}
    compiled, plain = item.decode(raw), _slow(fields, item.documented, item.lenient, raw)
    assert repr(compiled) == repr(plain)  # repr: a NaN in extra equals itself
    if not isinstance(compiled, str):
        assert list(compiled[1]) == [k for k in raw if k in compiled[1]]


_numbers = st.builds(lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
                     st.integers(min_value=-(10**30), max_value=10**30) | st.sampled_from([0, 10**200, 7]),
                     st.integers(min_value=-17000, max_value=132000) | st.sampled_from([-16383, -16384, 131071]))


@given(_numbers | st.decimals(allow_nan=False, allow_infinity=False))
def test_fits_numeric_is_its_plain_definition(value: Decimal) -> None:
    plain = value.adjusted() <= 131071 and value.as_tuple().exponent >= -16383
    assert fits_numeric(value) == plain
    assert ("NUMERIC" in (darkpool.SPEC.storable(_a_trade(price=value), _NOW) or "")) == (not plain)


_NOW = datetime(2025, 10, 22, 16, 0, tzinfo=UTC)


def _a_trade(**changes: Any) -> darkpool.Trade:
    (trade,), _ = darkpool.COLLECTOR.parse({"data": [{"tracking_id": 1, "executed_at": "2025-10-22T15:00:00Z", "ticker": "SPY",
                                            "price": "1", "size": 1}]})
    return attrs.evolve(trade, **changes)


def _outcome(structure: Any) -> tuple[str, Any]:
    try:
        return "ok", structure()
    except Exception as error:  # cattrs wraps hook errors; the message is what vvv keeps
        return "error", str(error)


@given(st.sampled_from([Decimal, int, str, bool, datetime, date, JsonObject, list[str]]),
       st.none() | _values | st.sampled_from(["1.5", "7", "2025-10-22T21:24:30Z", "2025-10-22", "true"]))
def test_an_optional_field_structures_as_none_or_as_its_type(type_: Any, value: Any) -> None:
    optional = _outcome(lambda: CONVERTER.structure(value, type_ | None))
    if value is None:
        assert optional == ("ok", None)
    else:
        assert optional == _outcome(lambda: CONVERTER.structure(value, type_))
