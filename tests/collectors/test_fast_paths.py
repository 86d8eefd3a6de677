"""The fast paths of parsing and validation equal the plain definitions they replace: rows by a
compiled getter equal `attrs.astuple`, optional fields bound once to their hook structure
exactly as cattrs' own, and one look at each text finds what looking into every value did."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from strategies import darkpool_items, decodable_text, headline_items, json_values_of

from vvv.collectors import darkpool, news
from vvv.core.base import record_row, split_extra, unstorable_text
from vvv.core.convert import CONVERTER, JsonObject

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


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "x", "y"]), _values, max_size=5))
def test_split_extra_keeps_every_field_once_in_the_api_order(item: dict) -> None:
    known = frozenset({"a", "b", "c"})
    documented, extra = split_extra(item, known)
    assert documented == {k: v for k, v in item.items() if k in known}
    assert list(extra.items()) == [(k, v) for k, v in item.items() if k not in known]


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
