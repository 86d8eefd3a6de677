"""Congress members' trades: `GET /api/congress/recent-trades`, the newest reports, one request a pass.

A declaration over the kernel's `Single` with the largest `limit` the API takes: members file a
few dozen reports a day, so the newest 200 read a few times a day hold every new one. Identity
is the provider's `id` where an item has one, else a stable hash of what makes a report one
(the member, the owner, the asset, the dates, the type and the amount range). Revisable: a
report re-served with other notes or flags replaces its row (the old one goes to vvv.revisions).

    >>> COLLECTOR.next_request(None, None, None, Settings()).params
    (('limit', '200'),)
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Reject, Schedule, Spec, at_least, at_most, provider_id_or_hash
from vvv.core.convert import JsonObject
from vvv.core.paging import LatestCursor, Single
from vvv.core.schema import Item

PATH = "/api/congress/recent-trades"
MAX_PAGE_SIZE = 200


@frozen
class Settings:
    """`[collectors.congress_trades]` options beyond the schedule: `page_size`, the newest reports a
    pass reads (the API's `limit`)."""

    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])


@frozen
class Trade:
    """The current version of a reported trade, a row of `trading.congress_trades`; `amounts` is the
    range as reported ("$15,001 - $50,000"). `is_active` is documented as a string (its example is a
    member id) and sent as a boolean: one that is not a boolean stays in `extra`."""

    id: str
    name: str | None
    reporter: str | None
    politician_id: str | None
    member_type: str | None
    ticker: str | None
    txn_type: str | None
    amounts: str | None
    transaction_date: date | None
    filed_at_date: date
    issuer: str | None
    is_active: bool | None
    notes: str | None
    extra: JsonObject


ITEM = Item(Trade, computed=("id", "extra"), also={"id": str | None}, lenient=("is_active",))
# A report is one member's (or their spouse's: `issuer`) trade of one asset on one day, filed once.
_IDENTIFYING = ("ticker", "transaction_date", "filed_at_date", "txn_type", "amounts", "issuer")


def _trade(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Trade | Reject:
    fields = dict(zip(ITEM.names, values, strict=True))
    member = fields["politician_id"] or fields["name"]
    if fields["id"] is None and member is None:
        return Reject(raw, "neither politician_id nor name: a report without its member cannot be told apart")
    identity = provider_id_or_hash(raw, fields.pop("id"), [member, *(fields[n] for n in _IDENTIFYING)], noun="reports")
    return identity if isinstance(identity, Reject) else Trade(id=identity, extra=extra, **fields)


def validate(record: Trade, now: datetime) -> str | None:
    """Business rules a report must meet before it is stored."""
    if record.filed_at_date > now.date():
        return f"filed_at_date {record.filed_at_date.isoformat()} is in the future"
    return None


SPEC = Spec(name="congress_trades", table="trading.congress_trades", key=("id",), record=Trade,
            description="Congress members' trades (GET /api/congress/recent-trades) into trading.congress_trades",
            time_column="collected_at", settings=Settings, cursor=LatestCursor, revisable=True,
            schedule=Schedule(interval=3 * 3600, extended_interval=3 * 3600, closed_interval=6 * 3600))

COLLECTOR = Collector(spec=SPEC, item=ITEM, build=_trade, validate=validate,
                      strategy=Single(PATH, time_field="filed_at_date",
                                      params=lambda settings: (("limit", str(settings.page_size)),)))
