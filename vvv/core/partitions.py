"""Partitions a collector declares: a watchlist of tickers (one cursor each, one request path each), or
variants of one endpoint (`variants`: report times, tick intervals).

A ticker reaches a request path, so nothing but a ticker is one: letters, digits, "." and "-",
starting with a letter or digit so that "." and ".." (which would climb the path) are not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs
from attrs import frozen

_TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,9}")


def ticker_problem(value: Any) -> str | None:
    """Why `value` is not a ticker as vvv stores and requests it (upper case), or None."""
    if isinstance(value, str) and _TICKER.fullmatch(value):
        return None
    return f"{value!r} is not a ticker (1 to 10 letters, digits, '.' or '-', starting with a letter or digit)"


def normalize_ticker(value: Any) -> str:
    """`value` upper-cased, or a ValueError naming it: nothing but a ticker reaches the request path."""
    # Only ASCII is upper-cased: "ı".upper() is "I", which would let a look-alike through.
    upper = value.upper() if isinstance(value, str) and value.isascii() else None
    if ticker_problem(upper) is not None:
        raise ValueError(ticker_problem(value))
    return upper


def watchlist(value: Any) -> tuple[str, ...]:
    """A settings converter: the watchlist's tickers, upper case, each once, in order; a ValueError names
    the first that is not a ticker."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"tickers must be a list of tickers, got {value!r}")
    if not value:
        raise ValueError("tickers must name at least one ticker")
    try:
        return tuple(dict.fromkeys(normalize_ticker(ticker) for ticker in value))
    except ValueError as error:
        raise ValueError(f"tickers: {error}") from None


def tickers(settings: Any) -> tuple[str, ...]:
    """The partitions of a collector per ticker: its settings' watchlist, one cursor each."""
    return settings.tickers


def variants(setting: str, allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    """A settings converter for partitions that are endpoint variants: one or more of `allowed`, each
    once, in order; a ValueError names `setting` and the first that is none.

        >>> variants("intervals", ("1m", "5m"))(["5m", "1m", "5m"])
        ('5m', '1m')
    """

    def convert(value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
            raise ValueError(f"{setting} must be a list of one or more of {', '.join(allowed)}, got {value!r}")
        wrong = [v for v in value if v not in allowed]
        if wrong:
            raise ValueError(f"{setting}: {wrong[0]!r} is not one of {', '.join(allowed)}")
        return tuple(dict.fromkeys(value))

    return convert


SEPARATOR = "/"  # never in a ticker, so a crossed partition splits back into its parts


def crossed(*axes: tuple[str, ...]) -> tuple[str, ...]:
    """The partitions of a collector over several axes (tickers x candle sizes): "SPY/1m", in order."""
    found: tuple[str, ...] = ("",)
    for axis in axes:
        found = tuple(f"{done}{SEPARATOR}{value}" if done else value for done in found for value in axis)
    return found


def parts(partition: str, count: int) -> tuple[str, ...]:
    """The `count` parts of a crossed partition ("" for each one missing: a parse without a partition)."""
    pieces = partition.split(SEPARATOR)[:count] if partition else []
    return (*pieces, *[""] * (count - len(pieces)))


def ticker_of(partition: str) -> str:
    """The ticker of a partition per ticker, crossed or not: its first part."""
    return partition.split(SEPARATOR, 1)[0]


def fill(path: str, partition: str) -> str:
    """A request path with the partition in it: whole as `{partition}`, by part as `{0}`, `{1}`, ..."""
    return path.format(*partition.split(SEPARATOR), partition=partition)


def leading(record: type, count: int = 1) -> Callable[[Any, tuple[Any, ...], dict[str, Any], str], Any]:
    """A collector's `build` for a record whose first `count` fields are the partition's parts (a
    ticker, a candle size the items do not repeat), then the item's values, then `extra`."""
    return lambda raw, values, extra, partition: record(*parts(partition, count), *values, extra)


def known_ticker(record: Any, now: Any) -> str | None:
    """A collector's `validate` where the one rule is a ticker vvv can store and request."""
    return ticker_problem(record.ticker)


@frozen
class Watchlist:
    """The settings of a collector per ticker whose only option is its watchlist (`tickers`)."""

    tickers: tuple[str, ...] = attrs.field(default=("SPY", "QQQ"), converter=watchlist)
