"""`option_trades` and `option_trades:T` -> trading.option_trades, every option trade, keyed by `id`.

The firehose (6-10 million trades a day, ~9,000 a second at the open), so the payload becomes
the row tuple directly, in the table's column order, with one straight line of checks and no
per-field dispatch. The row is written by text COPY (`Declaration.text_copy`), so what the socket
sends as text stays that text once checked: a number string is numeric's input as it is, a UUID
uuid's, a list of strings becomes a text[] literal, `extra` its JSON (see scripts/bench for why). The socket sends `executed_at`/`created_at` as epoch milliseconds, prices
and greeks as strings, and `underlying_price` `""` on index options (null here). Columns are
named as the full tape's header: the socket's `option_symbol` is `option_chain_id`, its
`trade_code` is `upstream_condition_detail`; any other field keeps to `extra`.

    >>> row = parse({"id": "01a02054-442d-7622-ade3-9aed1c92a583", "underlying_symbol": "QQQ",
    ...              "executed_at": 1787248788491, "option_symbol": "QQQ260820P00710000",
    ...              "price": "0.61", "underlying_price": ""})
    >>> row[1].isoformat(), row[3], row[7], row[14]
    ('2026-08-20T17:59:48.491000+00:00', 'QQQ260820P00710000', '0.61', None)
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Reject, Spec
from vvv.core.convert import JsonObject
from vvv.core.schema import PG_TYPE
from vvv.streams.base import NO_SCHEDULE, Declaration, NoCursor, NoSettings

@frozen
class Trade:
    """A row of `trading.option_trades`, its columns in order: the table's shape for `store` and `vvv check`.
    The stream hands its rows as tuples of this order (see the module's docstring), never as this class."""

    id: str = attrs.field(metadata={PG_TYPE: "uuid"})
    executed_at: datetime
    underlying_symbol: str
    option_chain_id: str
    option_type: str | None
    expiry: date | None
    strike: Decimal | None
    price: Decimal | None
    size: int | None
    premium: Decimal | None
    nbbo_bid: Decimal | None
    nbbo_ask: Decimal | None
    ewma_nbbo_bid: Decimal | None
    ewma_nbbo_ask: Decimal | None
    underlying_price: Decimal | None
    open_interest: int | None
    volume: int | None
    implied_volatility: Decimal | None
    delta: Decimal | None
    theta: Decimal | None
    gamma: Decimal | None
    vega: Decimal | None
    rho: Decimal | None
    theo: Decimal | None
    alert_score: Decimal | None
    report_flags: list[str] | None
    tags: list[str] | None
    aggregated_trade_id: str | None
    upstream_condition_detail: str | None
    market_center_locate: str | None
    trade_id: str | None
    exchange: str | None
    canceled: bool | None
    ask_vol: int | None
    bid_vol: int | None
    no_side_vol: int | None
    mid_vol: int | None
    multi_vol: int | None
    stock_multi_vol: int | None
    created_at: datetime | None
    exchange_id: str | None
    nbbo_bid_exchange_id: str | None
    nbbo_bid_size: int | None
    nbbo_bid_time: datetime | None
    nbbo_bid_exchange: str | None
    nbbo_ask_exchange_id: str | None
    nbbo_ask_size: int | None
    nbbo_ask_time: datetime | None
    nbbo_ask_exchange: str | None
    extra: JsonObject


SPEC = Spec(
    name="option_trades",
    description="Every option trade (socket option_trades; the nightly tape) into trading.option_trades",
    table="trading.option_trades",
    key=("id", "executed_at", "underlying_symbol"),
    record=Trade,
    time_column="executed_at",
    schedule=NO_SCHEDULE,
    settings=NoSettings,
    cursor=NoCursor,
)
# The socket's names of the columns, where they differ from the tape's.
_RENAMED = {"option_chain_id": "option_symbol", "upstream_condition_detail": "trade_code"}
COLUMNS = SPEC.columns
_KNOWN = frozenset(_RENAMED.get(c.name, c.name) for c in COLUMNS if c.name != "extra")
_BIGINT_MAX = 2**63
_EPOCH_MS_MAX = 10**14  # beyond year 5000: not a time the table can mean
# A number as PostgreSQL's numeric reads it, and nothing else (no "NaN", no "1_000", no blanks).
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,4})?")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_WORD = re.compile(r"[A-Za-z0-9_.:/+-]+")  # an array element that needs no quoting in an array literal


def _ms(value: Any) -> datetime | None:
    """An epoch-ms time; the socket sends an integer."""
    if value is None or value == "":
        return None
    if type(value) is not int or not 0 < value < _EPOCH_MS_MAX:
        raise ValueError(f"expected epoch milliseconds, got {value!r}")
    return datetime.fromtimestamp(value / 1000, UTC)


def _num(value: Any) -> str | None:
    """A number as the socket writes it (a string; `""` is null), checked, as numeric's text input."""
    if type(value) is str:
        if not value:
            return None
        if _NUMBER.fullmatch(value) is None:
            raise ValueError(f"expected a number, got {value!r}")
        return value
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    raise ValueError(f"expected a number, got {value!r}")


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if type(value) is not int:
        if type(value) is not str or not value.lstrip("-").isdigit():
            raise ValueError(f"expected an integer, got {value!r}")
        value = int(value)
    if not -_BIGINT_MAX <= value < _BIGINT_MAX:
        raise ValueError(f"{value} does not fit a bigint")
    return value


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if type(value) is int:  # an exchange code or a trade id may come as a number
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def _texts(value: Any) -> str | None:
    """A list of strings as a text[] literal: `["bid_side", "bearish"]` is `{bid_side,bearish}`."""
    if value is None:
        return None
    if type(value) is not list:
        raise ValueError(f"expected a list of strings, got {value!r}")
    for item in value:
        if type(item) is not str:
            raise ValueError(f"expected a list of strings, got {value!r}")
        if _WORD.fullmatch(item) is None or item.upper() == "NULL":
            return "{" + ",".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in value) + "}"
    return "{" + ",".join(value) + "}"


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise ValueError(f"expected a date, got {value!r}")
    return date.fromisoformat(value)


def _bool(value: Any) -> bool | None:
    if value is None or type(value) is bool:
        return value
    raise ValueError(f"expected true or false, got {value!r}")


def _required(value: Any, name: str) -> str:
    if type(value) is not str or not value:
        raise ValueError(f"{name} is missing or not a string: {value!r}")
    return value


def _id(value: Any) -> str:
    if type(value) is not str or _UUID.fullmatch(value) is None:
        raise ValueError(f"id is not a UUID: {value!r}")
    return value


def parse(payload: Any, ticker: str | None = None) -> tuple[Any, ...] | Reject:
    """The row of one trade, in column order; or a reject naming what is wrong."""
    if type(payload) is not dict:
        return Reject(payload, f"payload is not a JSON object but {type(payload).__name__}")
    g = payload.get
    try:
        executed_at = _ms(g("executed_at"))
        if executed_at is None:
            raise ValueError("executed_at is missing")
        row = (
            _id(g("id")), executed_at,
            _required(g("underlying_symbol"), "underlying_symbol"), _required(g("option_symbol"), "option_symbol"),
            _text(g("option_type")), _day(g("expiry")), _num(g("strike")), _num(g("price")), _int(g("size")),
            _num(g("premium")), _num(g("nbbo_bid")), _num(g("nbbo_ask")), _num(g("ewma_nbbo_bid")),
            _num(g("ewma_nbbo_ask")), _num(g("underlying_price")), _int(g("open_interest")), _int(g("volume")),
            _num(g("implied_volatility")), _num(g("delta")), _num(g("theta")), _num(g("gamma")),
            _num(g("vega")), _num(g("rho")), _num(g("theo")), _num(g("alert_score")),
            _texts(g("report_flags")), _texts(g("tags")), _text(g("aggregated_trade_id")), _text(g("trade_code")),
            _text(g("market_center_locate")), _text(g("trade_id")), _text(g("exchange")), _bool(g("canceled")),
            _int(g("ask_vol")), _int(g("bid_vol")), _int(g("no_side_vol")), _int(g("mid_vol")),
            _int(g("multi_vol")), _int(g("stock_multi_vol")), _ms(g("created_at")), _text(g("exchange_id")),
            _text(g("nbbo_bid_exchange_id")), _int(g("nbbo_bid_size")), _ms(g("nbbo_bid_time")),
            _text(g("nbbo_bid_exchange")), _text(g("nbbo_ask_exchange_id")), _int(g("nbbo_ask_size")),
            _ms(g("nbbo_ask_time")), _text(g("nbbo_ask_exchange")),
            "{}" if _KNOWN.issuperset(payload) else _json({k: payload[k] for k in payload.keys() - _KNOWN}),
        )
    except (ValueError, TypeError) as error:
        return Reject(payload, str(error) or error.__class__.__name__)
    if ticker is not None and row[2] != ticker:
        return Reject(payload, f"underlying_symbol {row[2]!r} on the channel of {ticker}")
    return row


FUTURE_SKEW = timedelta(minutes=5)
OLDEST = timedelta(days=7)  # the stream is live: an older trade is a wrong time, and would open a stray partition


def validate(row: tuple[Any, ...], now: datetime) -> str | None:
    """A trade's time must be live: its partition is the New York day it names."""
    executed_at = row[1]
    if executed_at > now + FUTURE_SKEW:
        return f"executed_at {executed_at.isoformat()} is in the future"
    if executed_at < now - OLDEST:
        return f"executed_at {executed_at.isoformat()} is more than {OLDEST.days} days old for a live trade"
    return None


def _json(extra: dict[str, Any]) -> str:
    return json.dumps(extra, ensure_ascii=False, separators=(",", ":"))


def time_of(row: tuple[Any, ...]) -> datetime:
    return row[1]


DECLARATION = Declaration(kind="option_trades", spec=SPEC, parse=parse, time_of=time_of, validate=validate,
                          ticker="optional", partitioned=True, text_copy=True)
