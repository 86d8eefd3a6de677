"""The whole market's dark pool prints: `GET /api/darkpool/recent`, the newest of a market day.

A declaration over the kernel's `TimeSweep` by market day without time bounds (the endpoint
takes only `date`, `limit` <= 200 and size/premium/volume filters): each pass reads the newest
page of every market day owed, and a full page that does not reach back to the newest print
stored is named on the run. The prints are dark pool's own: the same record, item, rules,
table, `tracking_id` identity and revisability as the per-ticker `darkpool` collector, so both
together never double a row, and a print canceled since replaces its row.

    >>> from datetime import UTC
    >>> start = COLLECTOR.begin(None, "", datetime(2025, 10, 25, 14, 0, tzinfo=UTC), Settings())  # a Saturday
    >>> COLLECTOR.next_request(start, None, None, Settings(filters={"min_premium": 1000000})).params
    (('date', '2025-10-24'), ('limit', '200'), ('min_premium', '1000000'))
"""

from __future__ import annotations

import functools
from datetime import datetime

import attrs
from attrs import frozen

from vvv.collectors import darkpool
from vvv.core import params
from vvv.core.base import Collector, Schedule, Spec, at_least, at_most
from vvv.core.convert import JsonObject
from vvv.core.paging import SweepCursor, TimeSweep
from vvv.core.params import Param, min_max

PATH = "/api/darkpool/recent"
MAX_PAGE_SIZE = 200
FILTERS: dict[str, Param] = min_max("integer", 0, names=("premium", "size", "volume"))
_filters = functools.partial(params.checked, FILTERS, reserved=("date", "limit"))


@frozen
class Settings:
    """`[collectors.darkpool_recent]` options beyond the schedule. `page_size`: the newest prints a
    request reads (the API's `limit`). `max_pages`: the most requests one pass makes (one a market
    day owed). `filters`: the API's own, sent with every request."""

    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    max_pages: int = attrs.field(default=10, validator=at_least(1))
    filters: JsonObject = attrs.field(factory=dict, converter=_filters, hash=False)


SPEC = attrs.evolve(darkpool.SPEC, name="darkpool_recent", settings=Settings,
                    description="The market's newest dark pool prints (GET /api/darkpool/recent)"
                                " into trading.darkpool_trades",
                    schedule=Schedule(interval=60, extended_interval=300, closed_interval=None, stale_after=900))

COLLECTOR = Collector(
    spec=SPEC,
    strategy=TimeSweep(path=PATH, time_field="executed_at", noun="prints", late="prints of {day} reported late",
                       by_market_day=True, bounded=False,
                       params=lambda settings: params.query(FILTERS, settings.filters)),
    item=darkpool.COLLECTOR.item,
    validate=darkpool.validate,
)
