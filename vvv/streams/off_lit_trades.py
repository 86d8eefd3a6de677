"""`off_lit_trades` -> trading.darkpool_trades, the REST collector's table and identity (`tracking_id`).

The provider publishes no payload for this channel (the only shape known is a third party's,
never seen on the wire): a print is read as the REST print is, `symbol` standing in for a missing
`ticker`; what has no column keeps to `extra`, and a print without a `tracking_id` is a reject
(nothing else identifies it). The stream logs the first payload's keys, so the shape gets known.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vvv.collectors import darkpool
from vvv.streams.base import Declaration, twin_record, twin_validate


def parse(payload: Any, ticker: str | None = None) -> Any:
    return twin_record(payload, darkpool.COLLECTOR, renamed={"symbol": "ticker"})


def time_of(record: darkpool.Trade) -> datetime:
    return record.executed_at


DECLARATION = Declaration(kind="off_lit_trades", spec=darkpool.SPEC, parse=parse, time_of=time_of,
                          validate=twin_validate(darkpool.COLLECTOR), twin="darkpool", log_keys=True)
