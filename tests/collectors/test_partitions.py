"""Partitions (`vvv.core.partitions`): a partition over several axes ("SPY/1m") splits back into its
parts, names its ticker, and fills a path by part, one cursor each, in the axes' order; a config names
some of an endpoint's variants, each once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import darkpool_tickers

from vvv.core.partitions import crossed, fill, leading, parts, ticker_of, variants, watchlist

sizes = st.lists(st.sampled_from(["1m", "5m", "1h", "1d"]), min_size=1, max_size=3, unique=True)


@given(st.lists(darkpool_tickers, min_size=1, max_size=4).map(watchlist), sizes)
def test_a_crossed_partition_is_its_parts_in_order(tickers: tuple[str, ...], candle_sizes: list[str]) -> None:
    partitions = crossed(tickers, tuple(candle_sizes))
    assert [parts(p, 2) for p in partitions] == [(t, s) for t in tickers for s in candle_sizes]
    assert len(set(partitions)) == len(partitions)  # one cursor each
    assert [ticker_of(p) for p in partitions] == [t for t in tickers for _ in candle_sizes]
    assert [fill("/api/stock/{0}/ohlc/{1}", p) for p in partitions] == [
        f"/api/stock/{t}/ohlc/{s}" for t in tickers for s in candle_sizes]


@given(st.lists(darkpool_tickers, min_size=1, max_size=4).map(watchlist))
def test_a_partition_of_one_axis_is_the_ticker_itself(tickers: tuple[str, ...]) -> None:
    assert crossed(tickers) == tickers
    assert [(ticker_of(t), fill("/api/darkpool/{partition}", t), fill("/x/{0}", t)) for t in tickers] == [
        (t, f"/api/darkpool/{t}", f"/x/{t}") for t in tickers]


def test_a_record_led_by_the_partition_takes_empty_parts_without_one() -> None:
    build = leading(lambda *fields: fields, 2)
    assert build({}, (1, 2), {"x": 3}, "SPY/1m") == ("SPY", "1m", 1, 2, {"x": 3})
    assert build({}, (1,), {}, "") == ("", "", 1, {})  # the parser property parses without a partition


ALLOWED = ("premarket", "afterhours", "1m")
convert = variants("things", ALLOWED)


@given(st.lists(st.sampled_from(ALLOWED), min_size=1) | st.tuples(st.sampled_from(ALLOWED)))
def test_the_variants_are_the_ones_named_each_once_in_order(named) -> None:
    result = convert(named)
    assert result == tuple(dict.fromkeys(named)) and set(result) <= set(ALLOWED)


@given(st.one_of(st.text(), st.none(), st.integers(), st.just([]),
                 st.lists(st.text().filter(lambda t: t not in ALLOWED), min_size=1)))
def test_anything_else_is_refused_naming_the_setting(value) -> None:
    with pytest.raises(ValueError, match="^things"):
        convert(value)
