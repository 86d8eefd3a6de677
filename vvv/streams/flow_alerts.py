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
from vvv.streams.base import Declaration, twin_record, twin_validate


def parse(payload: Any, ticker: str | None = None) -> Any:
    return twin_record(payload, options_flow.COLLECTOR, renamed={"rule_name": "alert_rule", "executed_at": "created_at"},
                       otherwise={"created_at": "end_time"})


def time_of(record: options_flow.Alert) -> datetime:
    return record.created_at


DECLARATION = Declaration(kind="flow-alerts", spec=options_flow.SPEC, parse=parse, time_of=time_of,
                          validate=twin_validate(options_flow.COLLECTOR), twin="options_flow")
