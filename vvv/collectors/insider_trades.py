"""Insider transactions: `GET /api/insider/transactions`, newest filing first, paged by number from 0.

A declaration over the kernel's `PageNumber` by `filing_date` (a date: a pass pages down until
a filing older than the newest filing date stored, so the newest day is read whole again).
Identity is the provider's `id` where the item has one; aggregated rows may come without it,
then a stable hash of what makes the aggregate one (not its amount or price, which grow).
Revisable: an aggregate is restated when filings join it (the old row goes to vvv.revisions).
The API's filters go into every request:

    >>> settings = Settings(filters={"ticker_symbol": "meta", "is_officer": True})
    >>> COLLECTOR.next_request(COLLECTOR.begin(None, "", datetime.now(UTC), settings), None, None, settings).params
    (('limit', '500'), ('page', '0'), ('ticker_symbol', 'META'), ('is_officer', 'true'))
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core import params
from vvv.core.base import Collector, Reject, Schedule, Spec, at_least, at_most, provider_id_or_hash
from vvv.core.convert import JsonObject
from vvv.core.paging import PageCursor, PageNumber
from vvv.core.params import Param, min_max
from vvv.core.partitions import ticker_problem
from vvv.core.schema import Item

PATH = "/api/insider/transactions"
# Every filter the endpoint documents but its dates (a window is not what an incremental pass wants).
# The description types the numbers as strings; they are numbers. `transaction_codes` are SEC Form 4's
# (P purchase, S sale, A award, M option exercise, F tax withholding, G gift, ...).
FILTERS: dict[str, Param] = {
    "ticker_symbol": Param("tickers"), "transaction_codes": Param("choices", choices=tuple("PSVAKDFIMCEHOXGLWZJU")),
    **min_max("number", 0, names=("value", "price", "amount")),
    **min_max("integer", 0, names=("marketcap", "earnings_dte")),
    **dict.fromkeys(("owner_name", "sectors", "industries", "market_cap_size", "security_ad_codes"), Param("text")),
    **dict.fromkeys(("is_director", "is_officer", "is_s_p_500", "is_ten_percent_owner", "common_stock_only", "group"),
                    Param("boolean")),
}
_filters = functools.partial(params.checked, FILTERS, reserved=("page", "limit"))


@frozen
class Settings:
    """`[collectors.insider_trades]` options beyond the schedule: paging (see `PageNumber`) and
    `filters`, the API's own, sent with every request."""

    page_size: int = attrs.field(default=500, validator=[at_least(1), at_most(500)])
    max_pages: int = attrs.field(default=10, validator=at_least(1))
    first_run_pages: int = attrs.field(default=2, validator=at_least(1))
    filters: JsonObject = attrs.field(factory=dict, converter=_filters, hash=False)


@frozen
class Transaction:
    """The current version of a (possibly aggregated) filing, a row of `trading.insider_transactions`;
    `amount` is signed shares (negative: disposed)."""

    id: str
    ticker: str
    filing_date: date
    transaction_date: date | None
    owner_name: str | None
    officer_title: str | None
    transaction_code: str | None
    formtype: str | None
    amount: int | None
    price: Decimal | None
    stock_price: Decimal | None
    transactions: int | None
    shares_owned_before: int | None
    shares_owned_after: int | None
    is_director: bool | None
    is_officer: bool | None
    is_ten_percent_owner: bool | None
    is_10b5_1: bool | None
    is_s_p_500: bool | None
    security_title: str | None
    security_ad_code: str | None
    natureofownership: str | None
    director_indirect: str | None
    date_excercisable: date | None
    expiration_date: date | None
    price_excercisable: Decimal | None
    ids: list[str] | None
    marketcap: Decimal | None
    sector: str | None
    next_earnings_date: date | None
    extra: JsonObject


ITEM = Item(Transaction, computed=("id", "extra"), also={"id": str | None})
# What makes an aggregate one (one person, one day, one code, one form), not what it adds up to: an
# aggregate restated as filings join it keeps its identity.
_IDENTIFYING = ("ticker", "owner_name", "filing_date", "transaction_date", "transaction_code", "formtype")


def _transaction(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Transaction | Reject:
    fields = dict(zip(ITEM.names, values, strict=True))
    identity = provider_id_or_hash(raw, fields.pop("id"), [fields[name] for name in _IDENTIFYING], noun="filings")
    return identity if isinstance(identity, Reject) else Transaction(id=identity, extra=extra, **fields)


def validate(record: Transaction, now: datetime) -> str | None:
    """Business rules a filing must meet before it is stored."""
    if record.filing_date > now.date():
        return f"filing_date {record.filing_date.isoformat()} is in the future"
    return ticker_problem(record.ticker)


SPEC = Spec(name="insider_trades", table="trading.insider_transactions", key=("id",), record=Transaction,
            description="Insider transactions (GET /api/insider/transactions) into trading.insider_transactions",
            time_column="collected_at", settings=Settings, cursor=PageCursor, revisable=True,
            schedule=Schedule(interval=3 * 3600, extended_interval=3 * 3600, closed_interval=6 * 3600))

COLLECTOR = Collector(spec=SPEC, item=ITEM, build=_transaction, validate=validate, strategy=PageNumber(
    PATH, time_field="filing_date", params=lambda settings: params.query(FILTERS, settings.filters)))
