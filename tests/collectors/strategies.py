"""Hypothesis strategies shared by the collector tests: JSON values, API timestamps, headline and
dark pool items, feeds and tapes (the by-market-day sweep's histories)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from vvv.collectors import news

# The `Headline News` schema in uw-api/openapi.json.
REQUIRED = ("created_at", "headline", "source")
OPTIONAL = ("is_major", "meta", "sentiment", "tags", "tickers")
DOCUMENTED = frozenset(REQUIRED + OPTIONAL)


@functools.cache
def json_values_of(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Anything `json.loads` can return, with strings drawn from `text`."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
        max_leaves=6,
    )


@functools.cache
def json_objects_of(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(text, json_values_of(text), max_size=3)


json_values = json_values_of(st.text(max_size=8))
json_objects = json_objects_of(st.text(max_size=8))

lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
decodable_text = st.lists(lone_surrogates | st.characters(), min_size=1, max_size=8).map("".join)
"""Any str `json.loads` can return: `"\\ud800"` in a response body decodes to a lone surrogate."""

utc_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=utc_offsets
)


def _timespecs(moment: datetime) -> list[str]:
    """The ISO precisions that spell `moment` without losing any of it."""
    if moment.microsecond == 0:
        return ["seconds", "milliseconds", "microseconds"]
    if moment.microsecond % 1000 == 0:
        return ["milliseconds", "microseconds"]
    return ["microseconds"]


def space_spelling(moment: datetime, timespec: str = "auto") -> str:
    """`2023-02-16 00:59:44+00:00`, in the moment's own offset."""
    return moment.isoformat(sep=" ", timespec=timespec)


def z_spelling(moment: datetime, timespec: str = "auto") -> str:
    """`2023-02-16T00:59:44Z`."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def spellings(moment: datetime) -> st.SearchStrategy[str]:
    """Every way the API may write `moment`: either spelling, any exact precision, UTC or its own offset."""
    return st.tuples(
        st.sampled_from([space_spelling, z_spelling]),
        st.sampled_from(_timespecs(moment)),
        st.sampled_from([moment, moment.astimezone(UTC)]),
    ).map(lambda t: t[0](t[2], t[1]))


api_timestamps = aware_datetimes.flatmap(spellings)

tickers = st.from_regex(r"[A-Z]{1,5}", fullmatch=True)
storable_characters = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])
clean_text = st.text(storable_characters, max_size=12)
"""Text PostgreSQL can store: no NUL, no lone surrogates."""


def _with_extras(item: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {**extra, **item}


@functools.cache
def headline_items(text: st.SearchStrategy[str] = st.text(max_size=12)) -> st.SearchStrategy[dict[str, Any]]:
    """One item as the API describes it: required fields, any optional ones (maybe null), unknown extras."""
    optional = {
        "is_major": st.none() | st.booleans() | st.sampled_from(["true", "false"]),
        "meta": st.none() | json_objects_of(text),
        "sentiment": st.none() | st.sampled_from(["positive", "negative", "neutral"]) | text,
        "tags": st.none() | st.lists(text, max_size=4),
        "tickers": st.none() | st.lists(tickers, max_size=4),
    }
    items = st.fixed_dictionaries({"created_at": api_timestamps, "headline": text, "source": text}, optional=optional)
    extras = st.dictionaries(text.filter(lambda key: key not in DOCUMENTED), json_values_of(text), max_size=2)
    return st.builds(_with_extras, items, extras)


_non_strings = st.integers() | st.floats() | st.booleans() | st.lists(st.integers(), max_size=2) | json_objects
_wrong_values = {
    "created_at": st.none()
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
    | json_objects
    | st.sampled_from(["", "yesterday", "2023-13-01 00:00:00", "16/02/2023 00:59", "2023-02-16T25:00:00Z"]),
    "headline": st.none() | _non_strings,
    "source": st.none() | _non_strings,
    "is_major": st.integers() | st.floats() | st.sampled_from(["yes", "True", "FALSE", "1"]) | json_objects,
    "meta": st.lists(st.integers(), max_size=2) | st.text() | st.integers() | st.booleans(),
    "sentiment": _non_strings,
    "tags": st.text(min_size=1)
    | json_objects
    | st.integers()
    | st.lists(st.none() | st.integers() | json_objects, min_size=1, max_size=3),
    "tickers": st.just("SPY") | st.integers() | st.lists(st.none() | st.integers(), min_size=1, max_size=3),
}


@st.composite
def broken_items(draw: st.DrawFn) -> tuple[dict[str, Any], frozenset[str]]:
    """A headline item with wrong types put into, or required fields taken from, some fields; and those fields."""
    item = draw(headline_items())
    broken = draw(st.sets(st.sampled_from(sorted(DOCUMENTED)), max_size=4))
    for field in broken:
        if field in REQUIRED and draw(st.booleans()):
            item.pop(field, None)
        else:
            item[field] = draw(_wrong_values[field])
    return item, frozenset(broken)


news_settings = st.builds(
    news.Settings,
    page_size=st.integers(min_value=1, max_value=5),
    max_pages=st.integers(min_value=1, max_value=4),
    first_run_pages=st.integers(min_value=1, max_value=3),
)

_gap = st.sampled_from([0, 0, 0, 1, 1, 2, 7])
second_gaps = st.lists(_gap, max_size=25)
"""Seconds between consecutive headlines, oldest to newest: zeros make headlines share a second."""


@st.composite
def histories(draw: st.DrawFn, *, interruptions: bool = True) -> list[tuple[list[int], int | None]]:
    """Per pass: the headlines published before it (as gaps) and how many pages it gets before it dies (None: all)."""
    stops = st.none() | st.integers(min_value=1, max_value=4) if interruptions else st.none()
    first = draw(st.tuples(st.lists(_gap, min_size=1, max_size=25), stops))
    return [first, *draw(st.lists(st.tuples(second_gaps, stops), min_size=1, max_size=5))]


# The `Darkpool Trade` schema in uw-api/openapi.json. It lists no required fields; these five
# are the ones a print cannot be stored without (identity, time, and what validate checks).
DARKPOOL_REQUIRED = ("tracking_id", "executed_at", "ticker", "price", "size")
DARKPOOL_OPTIONAL = (
    "premium", "volume", "nbbo_bid", "nbbo_ask", "nbbo_bid_quantity", "nbbo_ask_quantity", "market_center",
    "canceled", "ext_hour_sold_codes", "sale_cond_codes", "trade_code", "trade_settlement",
)
DARKPOOL_DOCUMENTED = frozenset(DARKPOOL_REQUIRED + DARKPOOL_OPTIONAL)
DARKPOOL_LIVE = ("trf_executed_at", "created_at", "issue_type", "sector", "avg30_volume")
"""Fields live responses carry that the description lacks."""

BIGINT_MAX = 2**63 - 1
bigints = st.integers(min_value=-BIGINT_MAX - 1, max_value=BIGINT_MAX)
decimal_texts = st.decimals(allow_nan=False, allow_infinity=False).map(str) | st.from_regex(
    r"-?[0-9]{1,12}\.[0-9]{1,12}", fullmatch=True
)
"""Numbers as the API writes them: `"121538.56"`, `"19"`, `"1E+3"`, with every digit meant."""
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
api_numbers = decimal_texts | st.integers() | finite_floats
api_integers = bigints | bigints.map(str)
darkpool_tickers = tickers | st.sampled_from(["SPY", "QQQ", "BRK.B", "BF-B", "TSLA", "A"])


def _codes(text: st.SearchStrategy[str], *documented: str) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(documented) | text


@functools.cache
def darkpool_items(text: st.SearchStrategy[str] = st.text(max_size=12)) -> st.SearchStrategy[dict[str, Any]]:
    """One print as the live API sends it: the documented fields (numbers often as strings, any
    optional one null or absent), the live-only fields, and unknown extras."""
    required = {
        "tracking_id": api_integers,
        "executed_at": api_timestamps,
        "ticker": darkpool_tickers,
        "price": api_numbers,
        "size": api_integers,
    }
    optional = {
        "premium": st.none() | api_numbers,
        "volume": st.none() | api_integers,
        "nbbo_bid": st.none() | api_numbers,
        "nbbo_ask": st.none() | api_numbers,
        "nbbo_bid_quantity": st.none() | api_integers,
        "nbbo_ask_quantity": st.none() | api_integers,
        "market_center": st.none() | st.sampled_from(["L", "D", "N"]) | text,
        "canceled": st.none() | st.booleans() | st.sampled_from(["true", "false"]),
        "ext_hour_sold_codes": _codes(text, "sold_out_of_sequence", "extended_hours_trade_late_or_out_of_sequence",
                                      "extended_hours_trade"),
        "sale_cond_codes": _codes(text, "contingent_trade", "odd_lot_execution", "prior_reference_price",
                                  "average_price_trade"),
        "trade_code": _codes(text, "derivative_priced", "qualified_contingent_trade", "intermarket_sweep"),
        "trade_settlement": _codes(text, "regular", "regular_settlement", "cash", "next_day", "seller"),
        "trf_executed_at": st.none() | api_timestamps | text | st.integers(),
        "created_at": st.none() | api_timestamps | text,
        "issue_type": st.none() | st.sampled_from(["ETF", "Common Stock"]) | text,
        "sector": st.none() | st.sampled_from(["Technology", "Financial Services"]) | text,
        "avg30_volume": st.none() | api_numbers,
    }
    items = st.fixed_dictionaries(required, optional=optional)
    known = DARKPOOL_DOCUMENTED | set(DARKPOOL_LIVE)
    extras = st.dictionaries(text.filter(lambda key: key not in known), json_values_of(text), max_size=2)
    return st.builds(_with_extras, items, extras)


_not_numbers = (
    st.booleans()
    | st.lists(st.integers(), max_size=2)
    | json_objects
    | st.sampled_from(["", "abc", "1,5", "NaN", "Infinity", "-inf", "12.5.1", float("nan"), float("inf")])
)
_not_integers = (
    st.booleans()
    | finite_floats
    | st.lists(st.integers(), max_size=2)
    | json_objects
    | st.sampled_from(["", "1.5", "abc", "1e3", "0x10", "--1"])
)
_not_texts = st.integers() | finite_floats | st.booleans() | st.lists(st.integers(), max_size=2) | json_objects


def _not_blank(wrong: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Wrong values for an optional field: "" is not among them, it reads as null."""
    return wrong.filter(lambda value: value != "")


_darkpool_wrong = {
    "tracking_id": st.none() | _not_integers,
    "executed_at": _wrong_values["created_at"],
    "ticker": st.none() | _not_texts,
    "price": st.none() | _not_numbers,
    "size": st.none() | _not_integers,
    "premium": _not_blank(_not_numbers),
    "volume": _not_blank(_not_integers),
    "nbbo_bid": _not_blank(_not_numbers),
    "nbbo_ask": _not_blank(_not_numbers),
    "nbbo_bid_quantity": _not_blank(_not_integers),
    "nbbo_ask_quantity": _not_blank(_not_integers),
    "market_center": _not_texts,
    "canceled": st.integers() | finite_floats | st.sampled_from(["yes", "True", "FALSE", "1"]) | json_objects,
    "ext_hour_sold_codes": _not_texts,
    "sale_cond_codes": _not_texts,
    "trade_code": _not_texts,
    "trade_settlement": _not_texts,
}


@st.composite
def broken_darkpool_items(draw: st.DrawFn) -> tuple[dict[str, Any], frozenset[str]]:
    """A print with wrong types put into, or required fields taken from, some documented fields; and those fields."""
    item = draw(darkpool_items())
    broken = draw(st.sets(st.sampled_from(sorted(DARKPOOL_DOCUMENTED)), max_size=4))
    for field in broken:
        if field in DARKPOOL_REQUIRED and draw(st.booleans()):
            item.pop(field, None)
        else:
            item[field] = draw(_darkpool_wrong[field])
    return item, frozenset(broken)


_print_gaps_ms = st.sampled_from([0, 0, 0, 0, 1, 250, 1000, 1000, 2000, 7000])
"""Milliseconds between consecutive new prints: zeros make prints share an instant, 1 puts them in adjacent ms."""
_late_prints = st.tuples(st.sampled_from([0, 1, 999, 1000, 4000, 5000, 29_000, 31_000, 299_000, 301_000, 600_000]),
                         st.integers(min_value=1, max_value=3))
"""(how far behind the newest print, in ms; how many): prints reported late."""


@st.composite
def tape_histories(draw: st.DrawFn, *, interruptions: bool = True) -> list[dict[str, Any]]:
    """Per pass: calendar days the clock jumps first (to 09:30 New York), the late prints and the
    new prints published before it, and how many pages it gets before it dies (None: all)."""
    stops = st.none() | st.integers(min_value=1, max_value=4) if interruptions else st.none()

    def step(*, days: st.SearchStrategy[int], new: st.SearchStrategy[list[int]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"days": days, "late": st.lists(_late_prints, max_size=3), "new": new,
                                      "stop": stops})

    first = draw(step(days=st.just(0), new=st.lists(_print_gaps_ms, min_size=1, max_size=25)))
    later = step(days=st.sampled_from([0, 0, 0, 1, 1, 3]), new=st.lists(_print_gaps_ms, max_size=20))
    return [first, *draw(st.lists(later, min_size=1, max_size=5))]


def refused(module: Any, record: Any, now: datetime) -> str | None:
    """Why the runner refuses a parsed record: the collector's rules, then what PostgreSQL can store."""
    return module.validate(record, now) or module.SPEC.storable(record, now)
