"""darkpool_recent's declaration: dark pool's record and rules, the API's filters, no time bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vvv.collectors import darkpool, darkpool_recent

NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
RECENT = darkpool_recent.COLLECTOR


def test_it_stores_what_the_per_ticker_collector_stores_the_same_way() -> None:
    mine, theirs = RECENT.spec, darkpool.SPEC
    assert (mine.table, mine.key, mine.record, mine.revisable, mine.time_column) == (
        theirs.table, theirs.key, theirs.record, theirs.revisable, theirs.time_column)
    assert RECENT.item is darkpool.COLLECTOR.item and RECENT.validate is darkpool.validate
    assert not RECENT.strategy.backfills


def test_the_apis_filters_go_into_every_request_and_no_time_bound_does() -> None:
    settings = darkpool_recent.Settings(filters={"min_size": 10_000, "max_premium": 10**9})
    start = RECENT.begin(None, "", NOW, settings)
    assert RECENT.next_request(start, None, None, settings).params == (
        ("date", "2026-03-10"), ("limit", "200"), ("max_premium", "1000000000"), ("min_size", "10000"))


@pytest.mark.parametrize(("filters", "key"), [({"min_size": "big"}, "min_size"), ({"min_size": 1.5}, "min_size"),
                                              ({"older_than": 1}, "older_than"), ({"date": "x"}, "date"),
                                              ({"limit": 5}, "limit")])
def test_a_filter_the_api_does_not_take_is_an_error_naming_it(filters, key) -> None:
    with pytest.raises((TypeError, ValueError), match=key):
        darkpool_recent.Settings(filters=filters)
