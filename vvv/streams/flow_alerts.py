"""`flow-alerts` -> trading.options_flow_alerts, the REST collector's table and identity (the provider's `id`).

The socket's alert differs from the REST one: `rule_name` for `alert_rule`, epoch-ms
`start_time`/`end_time`/`executed_at` and no `created_at`, floats for money, no `expiry`,
`strike` or `type` (the REST parse derives them from `option_chain`). The alert's time is its
`executed_at` (the last trade that fired it; `end_time` when absent), stored as `created_at`;
`start_time`, `end_time`, `trade_ids` and the rest keep to `extra`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vvv.collectors import options_flow
from vvv.core.base import Reject
from vvv.streams.base import Declaration, one_record


def parse(payload: Any, ticker: str | None = None) -> Any:
    if not isinstance(payload, dict):
        return Reject(payload, f"payload is not a JSON object but {type(payload).__name__}")
    item = dict(payload)
    if "rule_name" in item and "alert_rule" not in item:
        item["alert_rule"] = item.pop("rule_name")
    if "created_at" not in item:
        when = item.pop("executed_at", None)
        item["created_at"] = item.get("end_time") if when is None else when
    return one_record(options_flow.parse, item, payload)


def time_of(record: options_flow.Alert) -> datetime:
    return record.created_at


DECLARATION = Declaration(kind="flow-alerts", spec=options_flow.SPEC, parse=parse, time_of=time_of,
                          validate=options_flow.validate, twin="options_flow")
