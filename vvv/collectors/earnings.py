"""Earnings: `GET /api/earnings/premarket` and `/api/earnings/afterhours`, the companies reporting on a date.

A declaration over the kernel's `PerDate` by trading day, one partition (and cursor) per report
time: every pass reads the window from the trading day before today (whose results come in) to
`days_ahead` trading days ahead, each date paged until a page comes back short. A report is
(symbol, report_date, report_time); its `actual_eps`, `reaction` and `post_earnings_*` fill in
after it and estimates move before it, so the data set is revisable (old versions go to
`vvv.revisions`). The afterhours endpoint writes its report time "postmarket".

    >>> from datetime import UTC
    >>> start = COLLECTOR.begin(None, "afterhours", datetime(2025, 10, 27, 14, 0, tzinfo=UTC), Settings())  # a Monday
    >>> COLLECTOR.next_request(start, None, None, Settings(), "afterhours").params
    (('date', '2025-10-24'), ('page', '0'), ('limit', '100'))
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
import attrs
from attrs import frozen

from vvv.core.base import Collector, Schedule, Spec, at_least, at_most
from vvv.core.convert import JsonObject
from vvv.core.paging import DateCursor, PerDate
from vvv.core.partitions import variants
from vvv.core.schema import Item

PATH = "/api/earnings/{partition}"
REPORT_TIMES = ("premarket", "afterhours")  # the endpoints' names, not the items' report_time
MAX_PAGE_SIZE = 100


@frozen
class Settings:
    """`[collectors.earnings]` options beyond the schedule.

    `days_back` / `days_ahead`: the window of report dates each pass reads, in trading days
    around today. `max_pages`: the most requests one pass makes per report time; a pass that
    reaches it continues there next pass.
    """

    report_times: tuple[str, ...] = attrs.field(default=REPORT_TIMES, converter=variants("report_times", REPORT_TIMES))
    days_back: int = attrs.field(default=1, validator=[at_least(0), at_most(30)])
    days_ahead: int = attrs.field(default=5, validator=[at_least(0), at_most(30)])
    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    max_pages: int = attrs.field(default=50, validator=at_least(1))


@frozen
class Report:
    """The current version of one earnings report, a row of `trading.earnings` (its columns, in
    order); before the report its results are null (the API also writes them `""`)."""

    symbol: str
    report_date: date
    report_time: str
    full_name: str | None
    actual_eps: Decimal | None
    street_mean_est: Decimal | None
    expected_move: Decimal | None
    expected_move_perc: Decimal | None
    reaction: Decimal | None
    pre_earnings_date: date | None
    pre_earnings_close: Decimal | None
    post_earnings_date: date | None
    post_earnings_close: Decimal | None
    ending_fiscal_quarter: date | None
    marketcap: Decimal | None
    sector: str | None
    source: str | None
    has_options: bool | None
    is_s_p_500: bool | None
    continent: str | None
    country_code: str | None
    country_name: str | None
    extra: JsonObject


def validate(record: Report, now: datetime) -> str | None:
    """The key's text fields must say something: an empty one would merge unrelated reports."""
    if not record.symbol.strip():
        return "symbol is empty"
    return "report_time is empty" if not record.report_time.strip() else None


SPEC = Spec(name="earnings", table="trading.earnings", key=("symbol", "report_date", "report_time"), record=Report,
            description="Earnings (GET /api/earnings/premarket and /afterhours) into trading.earnings",
            time_column="collected_at", settings=Settings, cursor=DateCursor, revisable=True,
            schedule=Schedule(interval=3600, extended_interval=3600, closed_interval=6 * 3600, stale_after=None))

COLLECTOR = Collector(spec=SPEC, strategy=PerDate(PATH, market_days=True), item=Item(Report), validate=validate,
                      partitions=lambda settings: settings.report_times)
