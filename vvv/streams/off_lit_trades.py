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
from vvv.core.base import Reject
from vvv.streams.base import Declaration, one_record


def parse(payload: Any, ticker: str | None = None) -> Any:
    if not isinstance(payload, dict):
        return Reject(payload, f"payload is not a JSON object but {type(payload).__name__}")
    item = dict(payload)
    if "ticker" not in item and "symbol" in item:
        item["ticker"] = item.pop("symbol")
    return one_record(darkpool.parse, item, payload)


def time_of(record: darkpool.Trade) -> datetime:
    return record.executed_at


DECLARATION = Declaration(kind="off_lit_trades", spec=darkpool.SPEC, parse=parse, time_of=time_of,
                          validate=darkpool.validate, twin="darkpool", log_keys=True)
