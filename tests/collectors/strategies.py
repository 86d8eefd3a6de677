"""Hypothesis strategies shared by the collector tests: JSON values, API timestamps, headline items, feeds."""

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
    "is_major": st.integers() | st.floats() | st.sampled_from(["yes", "True", "FALSE", "1", ""]) | json_objects,
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
