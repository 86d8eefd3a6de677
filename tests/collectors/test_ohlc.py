"""ohlc's own rules: its candle sizes, its partitions (ticker x size) and what a candle must be."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vvv.collectors import COLLECTORS, ohlc

OHLC = COLLECTORS["ohlc"]
ITEM = {"close": "56.79", "end_time": "2023-09-07 20:11:00+00:00", "high": "56.80", "low": "56.70",
        "market_time": "po", "open": "56.75", "start_time": "2023-09-07T20:10:00Z", "total_volume": 13774488,
        "volume": 29812}
NOW = datetime(2023, 9, 8, tzinfo=UTC)


def test_partitions_cross_the_watchlist_with_the_candle_sizes_and_name_the_path() -> None:
    settings = ohlc.Settings(tickers=["spy", "QQQ"], candle_sizes=["5m", "1m", "5m"])
    assert OHLC.partitions_of(settings) == ("SPY/5m", "SPY/1m", "QQQ/5m", "QQQ/1m")
    start = OHLC.begin(None, "QQQ/1m", NOW, settings)
    assert OHLC.next_request(start, None, None, settings, "QQQ/1m").path == "/api/stock/QQQ/ohlc/1m"


@pytest.mark.parametrize("sizes", [[], "1m", ["1m", "2m"], ["1M"]])
def test_a_candle_size_the_api_does_not_know_is_refused_naming_the_setting(sizes) -> None:
    with pytest.raises(ValueError, match="candle_sizes"):
        ohlc.Settings(candle_sizes=sizes)


def test_a_candle_takes_ticker_and_size_from_its_partition() -> None:
    (candle,), rejects = OHLC.parse({"data": [ITEM]}, "SPY/5m")
    assert rejects == [] and (candle.ticker, candle.candle_size) == ("SPY", "5m")
    assert candle.start_time == datetime(2023, 9, 7, 20, 10, tzinfo=UTC) and OHLC.validate(candle, NOW) is None


@pytest.mark.parametrize(("changes", "reason"), [
    ({"end_time": "2023-09-07T20:10:00Z"}, "end_time"),
    ({"low": "57"}, "low 57 is above high"),
])
def test_a_candle_that_cannot_be_one_is_refused_with_a_reason(changes, reason) -> None:
    (candle,), _ = OHLC.parse({"data": [{**ITEM, **changes}]}, "SPY/1m")
    assert reason in OHLC.validate(candle, NOW)
