"""The vocabulary every collector speaks: pure values, no I/O.

A collector module declares a `SPEC` and four pure functions:

- `next_request(cursor, previous, page, settings) -> Request | None`: pagination as an
  unfold; `previous` and `page` are None for the first request of a pass.
- `parse(payload) -> (records, rejects)`: never raises on bad data. Each item of the
  response's `data` list becomes one record or one `Reject` holding that very item, in
  order, so the runner finds the raw item of a record that fails `validate` (`record_items`).
- `validate(record, now) -> str | None`: a business-rule reason, or None when the record is fine.
  What PostgreSQL can store follows from the record's types: the kernel checks it (`Spec.storable`).
- `advance(cursor, saved, page, settings) -> cursor`: the position to save once `page` is
  stored, folded page by page: `cursor` is the one the pass started from, `saved` the one
  saved after the page before (`cursor` itself for the first page). A pass keeps no page
  once it is stored, so memory stays bounded and each record is looked at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import frozen

from vvv.core import schema


@frozen
class Schedule:
    """Default intervals in seconds (None means off), and how old the newest record may get
    during the regular session before `vvv status` calls the collector stale."""

    interval: int | None
    extended_interval: int | None
    closed_interval: int | None
    stale_after: int | None = None


@frozen
class Request:
    """One API request: a path and its query parameters, hashable so plans can be compared."""

    path: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


@frozen
class Single:
    """The paging strategy of an endpoint that answers with its whole data set: one request a pass.

        >>> Single("/api/market/economic-calendar").next_request(None)
        Request(path='/api/market/economic-calendar', params=())
    """

    path: str

    def next_request(self, previous: Request | None) -> Request | None:
        return Request(self.path) if previous is None else None


@frozen
class Reject:
    """An item the API sent that vvv could not accept, kept with the reason."""

    raw: Any
    reason: str


@frozen
class Page:
    """What the planner learns from one response: the request, the item count and the good records;
    `rejected`, why its first rejected item was (a page none of whose items can be read says so);
    `refused`, the records that were read but broke a rule (a print beyond the clock's skew): not
    stored, yet their times still say where a sweep goes on."""

    request: Request
    received: int
    records: tuple[Any, ...]
    rejected: str | None = None
    refused: tuple[Any, ...] = ()


HALT_MARK = "the sweep stops there and resumes from it next pass"


class Halt(str):
    """A warning that is an error: the sweep stopped at a page it cannot read, with the cursor kept
    before it, and every pass stops there until it can. The runner makes it an error of the pass;
    the text ends with `HALT_MARK`, by which `vvv status` knows the collector is stuck."""


@frozen
class Spec:
    """Everything the shell needs to know about a collector, declared once. `record` is the class of
    the rows of `table`: its fields are the table's columns (`vvv.core.schema`)."""

    name: str
    description: str
    table: str
    key: tuple[str, ...]
    record: type
    time_column: str
    schedule: Schedule
    settings: type
    cursor: type
    needs_token: bool = True
    # The API restates records after serving them (a print canceled, a forecast revised): a record
    # served again with other content replaces the stored row, whose old version goes to vvv.revisions.
    # Otherwise a record stored once is never changed, and serving it again is a duplicate.
    revisable: bool = False
    # How far ahead of the clock `time_column` may be (clocks differ a little); None where times in
    # the future are the data itself (a calendar).
    future_skew: timedelta | None = schema.FUTURE_SKEW

    @property
    def columns(self) -> tuple[schema.Column, ...]:
        return schema.columns(self.record)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def storable(self) -> Callable[[Any, datetime], str | None]:
        """`(record, now) -> reason or None`: why PostgreSQL could not store the record as a row of
        `table`, or why its time cannot be true yet; compiled once per record type."""
        return schema.storage_check(self.record, self.time_column, self.future_skew)


@frozen
class Collector:
    """A spec bound to its pure functions; built by the registry from a collector module."""

    spec: Spec
    next_request: Callable[..., Request | None]
    parse: Callable[[Any], tuple[list[Any], list[Reject]]]
    validate: Callable[[Any, datetime], str | None]
    advance: Callable[..., Any]
    # Optional, for collectors that need them:
    scopes: Callable[[Any], tuple[str, ...]] | None = None  # settings -> tickers; one cursor each
    begin: Callable[..., Any] | None = None  # (saved cursor or None, scope, now, settings) -> the pass's cursor
    warnings: Callable[..., list[str]] | None = None  # (cursor, page or None, settings) -> possible gaps to report
    finished: Callable[[Any], bool] | None = None  # (saved cursor or None) -> a backfill day needs nothing more
    window: Callable[[datetime, datetime], Any] | None = None  # (start, end) -> a backfill cursor, unscoped collectors


def advance_over(advance: Callable[..., Any], cursor: Any, pages: Iterable[Page], settings: Any) -> Any:
    """The cursor saved after `pages`, folding `advance` over them as the runner does, page by page."""
    saved = cursor
    for page in pages:
        saved = advance(cursor, saved, page, settings)
    return saved


def warnings_over(warnings: Callable[..., list[str]], cursor: Any, pages: Iterable[Page], settings: Any) -> list[str]:
    """Every warning of a pass over `pages`, once each, in the order the runner reports them:
    first what the starting cursor reveals (`page` None), then what each page does."""
    found = dict.fromkeys(warnings(cursor, None, settings))
    for page in pages:
        found.update(dict.fromkeys(warnings(cursor, page, settings)))
    return list(found)


def stable_id(*parts: Any) -> str:
    """A hex SHA-256 of the parts as canonical JSON: equal parts, equal id, across runs and hosts."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def record_row(record: Any) -> tuple[Any, ...]:
    """A record's values in column order (its attrs field order)."""
    return _row_of(type(record))(record)


@functools.cache
def _row_of(record_type: type) -> Callable[[Any], tuple[Any, ...]]:
    """One compiled getter per record class: `attrs.astuple` would look the fields up for every record."""
    names = [field.name for field in attrs.fields(record_type)]
    if len(names) == 1:
        return lambda record: (getattr(record, names[0]),)
    return operator.attrgetter(*names)


def parse_data(payload: Any, item: schema.Item,
               build: Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]) -> tuple[list[Any], list[Reject]]:
    """Records and rejects from a `{"data": [...]}` response: each item decoded as `item` declares,
    then `build(raw, values, extra)` makes the record (or a Reject, for a collector's own rule)."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return [], [Reject(payload, "response has no `data` list")]
    records, rejects, decode = [], [], item.decode
    for raw in items:
        got = decode(raw)
        record = Reject(raw, got) if type(got) is str else build(raw, *got)
        (rejects if type(record) is Reject else records).append(record)
    return records, rejects


def record_items(payload: Any, rejects: Iterable[Reject]) -> list[Any]:
    """The raw items that became records, in the records' order, by the contract of `parse`:
    the `data` items less the ones a parse reject holds. Looked up only when a record is rejected."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    rejected = {id(reject.raw) for reject in rejects}
    return [item for item in items if id(item) not in rejected] if rejected else items


def at_least(minimum: int | float) -> Callable[[Any, attrs.Attribute, Any], None]:
    """An attrs validator with a message an operator can act on."""

    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, got {value!r}")

    return check


def at_most(maximum: int | float) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value > maximum:
            raise ValueError(f"{attribute.name} must be at most {maximum}, got {value!r}")

    return check


def one_of(*choices: str) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(choices)}; got {value!r}")

    return check
