"""A collector of a market day's series per watchlist ticker, declared in one call.

Several endpoints answer `GET /api/stock/{ticker}/...?date=` with one day's ticks of one ticker,
oldest first, each tick its time (spot exposures, net premium ticks): the same declaration
but for the record, the path and the names. The ticker is the partition's (the items do not
repeat it), so the record's first field is `ticker`, then the item's fields, then `extra`.
"""

from __future__ import annotations

from vvv.core.base import Collector, Schedule, Spec
from vvv.core.paging import DayCursor, DaySeries
from vvv.core.partitions import Watchlist, known_ticker, leading, tickers
from vvv.core.schema import Item

# Ticks every minute of the session; after it, a pass closes the day (then costs no request).
EVERY_MINUTE = Schedule(interval=60, extended_interval=300, closed_interval=3600, stale_after=900)


def ticker_day_series(record: type, name: str, path: str, *, time_field: str, title: str, table: str = "",
                      hours: tuple[str, str] = ("open", "close"), schedule: Schedule = EVERY_MINUTE) -> Collector:
    """The declaration of an insert-only series per ticker keyed by (ticker, `time_field`), over the
    session phases `hours` (see `DaySeries`), e.g. `GET /api/stock/{partition}/net-prem-ticks`, into
    `table` (default `trading.<name>`)."""
    table = table or f"trading.{name}"
    spec = Spec(name=name, table=table, key=("ticker", time_field), record=record,
                description=f"{title} (GET {path.replace('{partition}', '{ticker}')}) into {table}",
                time_column=time_field, settings=Watchlist, cursor=DayCursor, schedule=schedule)
    return Collector(spec=spec, strategy=DaySeries(path, time_field=time_field, hours=hours),
                     item=Item(record, computed=("ticker", "extra")), build=leading(record), validate=known_ticker,
                     partitions=tickers)
