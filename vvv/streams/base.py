"""What a channel declaration is: the table it fills, and the pure step from one payload to one record.

A socket message is `[CHANNEL, PAYLOAD]`; `parse(payload, ticker)` turns PAYLOAD into the record
the channel's table stores (an attrs record of the REST twin, or for the firehose a row tuple in
column order), or a `Reject` holding the payload as received. `time_of(record)` is the payload's
own time: the lag (now - it) and where a gap starts and ends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from attrs import frozen

from vvv.core.base import Collector, Reject, Schedule

NO_SCHEDULE = Schedule(interval=None, extended_interval=None, closed_interval=None)


@frozen
class NoSettings:
    """A table filled only by the socket has no REST settings."""


@frozen
class NoCursor:
    """...and no REST cursor."""


@frozen
class Declaration:
    """One kind of channel. `twin`: the REST collector that fills a gap (None: nothing can, the
    gap is recorded). `ticker`: "required" (`price:SPY`), "optional" (`option_trades[:T]`) or "none".
    `partitioned`: rows go to New York day partitions (`vvv.option_trades_partition`).
    `log_keys`: the payload is undocumented, log the first one's keys."""

    kind: str
    spec: Any  # vvv.core.base.Spec
    parse: Callable[[Any, str | None], Any]
    time_of: Callable[[Any], datetime]
    validate: Callable[[Any, datetime], str | None] | None = None
    twin: str | None = None
    ticker: str = "none"
    partitioned: bool = False
    log_keys: bool = False
    text_copy: bool = False  # the firehose: psycopg writes text COPY faster (`store.store_batch`)


@frozen
class Channel:
    """A channel as joined: its name on the wire (`option_trades:TSLA`), its declaration, its ticker."""

    name: str
    declaration: Declaration
    ticker: str | None = None


def twin_record(payload: Any, twin: Collector, *, renamed: dict[str, str], otherwise: dict[str, str] | None = None,
                partition: str = "") -> Any:
    """The REST twin's record of one payload, its fields first renamed as REST names them (a name REST
    has already wins), then `otherwise` (REST name: socket field) copied where still missing; a
    reject keeps the payload as sent."""
    if not isinstance(payload, dict):
        return Reject(payload, f"payload is not a JSON object but {type(payload).__name__}")
    item = dict(payload)
    for socket_name, rest_name in renamed.items():
        if socket_name in item and rest_name not in item:
            item[rest_name] = item.pop(socket_name)
    for rest_name, socket_name in (otherwise or {}).items():
        if rest_name not in item and socket_name in item:
            item[rest_name] = item[socket_name]
    records, rejects = twin.parse({"data": [item]}, partition)
    if records:
        return records[0]
    return Reject(payload, rejects[0].reason if rejects else "not a record")


def twin_validate(twin: Collector) -> Callable[[Any, datetime], str | None]:
    """The REST twin's rules for a record, then what PostgreSQL needs of it (`Spec.storable`)."""
    storable = twin.spec.storable

    def validate(record: Any, now: datetime) -> str | None:
        return twin.validate(record, now) or storable(record, now)

    return validate


def epoch_ms(value: Any, name: str) -> datetime:
    """A payload's epoch-milliseconds time (the socket's spelling), required."""
    if type(value) is not int or not 0 < value < 10**14:
        raise ValueError(f"{name}: expected epoch milliseconds, got {value!r}")
    return datetime.fromtimestamp(value / 1000, UTC)


def number(value: Any, name: str) -> Decimal | None:
    """A number as the socket writes it: a string (`""` is null) or a JSON number."""
    if value is None or value == "":
        return None
    if type(value) not in (str, int, float):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    try:
        parsed = Decimal(value if type(value) is not float else repr(value))
    except ArithmeticError:
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not parsed.is_finite():
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return parsed
