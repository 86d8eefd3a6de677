"""The vocabulary every collector speaks: pure values, no I/O.

A collector module exports ONE declaration, `COLLECTOR = Collector(...)`: its `Spec`, its
paging strategy (`vvv.core.paging`: `TimeSweep`, `PageNumber`, `Single`, `PerDate`, `DaySeries`), its
partitions, and what is truly its own:

- `item` (a `schema.Item` of the record class) decodes one item of the response's `data` list,
  and `build(raw, values, extra, partition)` makes the record from it (by default
  `record(*values, extra)`), with the partition the page was requested for (a ticker the items
  do not repeat);
  neither raises on bad data. `Collector.parse` maps them over the page, so each item becomes one
  record or one `Reject` holding that very item, in order (`record_items` finds a record's item).
- `validate(record, now) -> str | None`: a business-rule reason, or None when the record is fine.
  What PostgreSQL can store follows from the record's types: the kernel checks it (`Spec.storable`).

`read_page` is the one page step (parse -> validate -> storage checks -> the `Page` the strategy
plans from), shared by the live pass, the spool replay and backfill. The strategy's
`advance(cursor, saved, page, settings, partition)` is folded page by page: `cursor` is the one
the pass started from, `saved` the one saved after the page before. A pass keeps no page once it
is stored, so memory stays bounded and each record is looked at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs
from attrs import frozen

from vvv.core import schema
from vvv.core.convert import CONVERTER


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

    def __attrs_post_init__(self) -> None:
        # `vvv status` subtracts the newest time from the clock: a date column cannot be this one.
        if self.time_column != "collected_at" and self.time_column not in {
                c.name for c in self.columns if c.type == "timestamp with time zone"}:
            raise TypeError(f"{self.name}: time_column {self.time_column!r} must be a datetime field of"
                            f" {self.record.__name__}, or collected_at when its items carry no time")

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
        time = None if self.time_column == "collected_at" else self.time_column  # the database's own clock
        return schema.storage_check(self.record, time, self.future_skew)


class Strategy(Protocol):
    """What the kernel asks of a paging strategy (see `vvv.core.paging`); every method is pure."""

    cursor: type
    backfills: bool  # whether `vvv backfill` can walk a range of days with it
    reads: tuple[str, ...]  # the settings fields it reads by name (`page_size`, `max_pages`, ...)

    def begin(self, saved: Any, partition: str, now: datetime, settings: Any) -> Any: ...
    def next_request(self, cursor: Any, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None: ...
    def advance(self, cursor: Any, saved: Any, page: Page, settings: Any, partition: str = "") -> Any: ...
    def warnings(self, cursor: Any, page: Page | None, settings: Any, partition: str = "") -> list[str]: ...
    def finished(self, cursor: Any) -> bool: ...
    def window(self, start: datetime, end: datetime) -> Any: ...


def _no_notes(page: Page) -> list[str]:
    return []


@frozen
class Collector:
    """A collector's one declaration: its spec, its paging strategy and what is its own.

    `partitions`: settings -> the partitions (a watchlist's tickers, endpoint variants), one
    cursor each, passed to every planning call; None for a collector with one cursor.
    `notes`: what the collector itself remarks on a page (an undocumented enum value), reported
    on the run beside the strategy's warnings.
    """

    spec: Spec
    strategy: Strategy
    item: schema.Item
    validate: Callable[[Any, datetime], str | None]
    build: Callable[[Any, tuple[Any, ...], dict[str, Any], str], Any] | None = None
    partitions: Callable[[Any], tuple[str, ...]] | None = None
    notes: Callable[[Page], list[str]] = _no_notes

    def __attrs_post_init__(self) -> None:
        name = self.spec.name
        if self.spec.cursor is not self.strategy.cursor:  # the store reads cursors by the spec's type
            raise TypeError(f"{name}: Spec.cursor must be the strategy's cursor type, {self.strategy.cursor.__name__}")
        missing = [n for n in self.strategy.reads if n not in attrs.fields_dict(self.spec.settings)]
        if missing:
            raise TypeError(f"{name}: its Settings need the fields its strategy reads: {', '.join(missing)}")
        if self.item.record is not self.spec.record:
            raise TypeError(f"{name}: the Item decodes {self.item.record.__name__},"
                            f" the Spec stores {self.spec.record.__name__}")
        if self.build is None and (self.item.computed != ("extra",) or self.item.also
                                   or attrs.fields(self.spec.record)[-1].name != "extra"):
            raise TypeError(f"{name}: without `build`, the record must be the item's values then `extra`")

    def parse(self, payload: Any, partition: str = "") -> tuple[list[Any], list[Reject]]:
        """Typed records from one response for `partition`; anything unreadable becomes a reject, never
        an exception."""
        return parse_data(payload, self.item, self.build or _positional(self.spec.record), partition)

    def partitions_of(self, settings: Any) -> tuple[str, ...]:
        return ("",) if self.partitions is None else self.partitions(settings)

    def begin(self, saved: Any, partition: str, now: datetime, settings: Any) -> Any:
        """The cursor a pass over `partition` starts from, given the one saved (None: a first run)."""
        return self.strategy.begin(saved, partition, now, settings)

    def next_request(self, cursor: Any, previous: Request | None, page: Page | None, settings: Any,
                     partition: str = "") -> Request | None:
        return self.strategy.next_request(cursor, previous, page, settings, partition)

    def advance(self, cursor: Any, saved: Any, page: Page, settings: Any, partition: str = "") -> Any:
        return self.strategy.advance(cursor, saved, page, settings, partition)

    def warnings(self, cursor: Any, page: Page | None, settings: Any, partition: str = "") -> list[str]:
        """Possible gaps (and the collector's notes) of the pass that started from `cursor`: with `page`
        None those its starting cursor reveals, else those `page` reveals."""
        found = self.strategy.warnings(cursor, page, settings, partition)
        return found if page is None else [*found, *self.notes(page)]

    def finished(self, cursor: Any) -> bool:
        """Has a backfill unit been read completely?"""
        return self.strategy.finished(cursor)

    def window(self, start: datetime, end: datetime) -> Any:
        """A backfill cursor for the records timed in [start, end], or None (a day's pass from the clock)."""
        return self.strategy.window(start, end)


@functools.cache
def _positional(record: type) -> Callable[[Any, tuple[Any, ...], dict[str, Any], str], Any]:
    return lambda raw, values, extra, partition: record(*values, extra)


def read_cursor(cursor_type: type, raw: Any) -> Any:
    """A saved cursor of `cursor_type` from its JSON, the shapes of earlier releases included: keys a
    cursor type lists in `RETIRED` (a ticker the partition now carries) are dropped, not refused."""
    retired = getattr(cursor_type, "RETIRED", ())
    if retired and isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k not in retired}
    return CONVERTER.structure(raw, cursor_type)


def read_page(collector: Collector, request: Request | None, payload: Any, now: datetime, partition: str = ""
              ) -> tuple[Page, list[Reject]]:
    """The one page step: a response for `partition` parsed, validated and checked for storage into the
    `Page` a strategy plans from and the rejects to keep. The live pass, the spool replay (`request`
    None) and backfill all store this."""
    records, rejects = collector.parse(payload, partition)
    good, bad = validate_all(collector, records, now, payload=payload, rejects=rejects)
    refused = rejects or bad  # the first reason stands for a page none of whose items can be read
    page = Page(request=request, received=received_items(payload), records=tuple(good),
                rejected=refused[0].reason if refused else None, refused=_broke_a_rule(records, good))
    return page, [*rejects, *bad]


def validate_all(collector: Collector, records: list[Any], now: datetime, *, payload: Any,
                 rejects: Sequence[Reject]) -> tuple[list[Any], list[Reject]]:
    """Split parsed records into the ones to store and rejects with the rule they broke: the
    collector's business rules, then what PostgreSQL can store (from the record's column types).

    A rejected record is kept as the raw item it was parsed from (`payload` and parse's
    `rejects` locate it), so a reject is what the API sent and is recognized when sent again.
    """
    good, bad, raws = [], [], None
    validate, storable = collector.validate, collector.spec.storable
    for index, record in enumerate(records):
        reason = validate(record, now) or storable(record, now)
        if reason is None:
            good.append(record)
        else:
            raws = record_items(payload, rejects) if raws is None else raws
            bad.append(Reject(raws[index] if index < len(raws) else attrs.asdict(record), reason))
    return good, bad


def _broke_a_rule(records: list[Any], good: list[Any]) -> tuple[Any, ...]:
    """The records validation refused: read, so their times still place the page."""
    if len(good) == len(records):
        return ()
    kept = set(map(id, good))
    return tuple(record for record in records if id(record) not in kept)


def received_items(payload: Any) -> int:
    """How many items a `{"data": [...]}` response held, whatever became of them."""
    data = payload.get("data") if isinstance(payload, dict) else None
    return len(data) if isinstance(data, list) else 0


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


def provider_id_or_hash(raw: Any, provider_id: str | None, parts: Sequence[Any], *, noun: str) -> str | Reject:
    """An item's identity: the provider's id where it sent one, else `stable_id(*parts)`; an id the
    provider uses as "no id" (`"0"`, or `""`, which the decoder reads as null) is a reject, since the
    items it stands on could not be told apart."""
    sent = raw.get("id") if isinstance(raw, dict) else None
    if provider_id == "0" or (provider_id is None and sent == ""):
        return Reject(raw, f"id {sent!r} is not an identity: {noun} without an id cannot be told apart")
    return provider_id if provider_id is not None else stable_id(*parts)


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


def parse_data(payload: Any, item: schema.Item, build: Callable[[Any, tuple[Any, ...], dict[str, Any], str], Any],
               partition: str = "") -> tuple[list[Any], list[Reject]]:
    """Records and rejects from a `{"data": [...]}` response: each item decoded as `item` declares,
    then `build(raw, values, extra, partition)` makes the record (or a Reject, for a collector's own rule)."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return [], [Reject(payload, "response has no `data` list")]
    records, rejects, decode = [], [], item.decode
    for raw in items:
        got = decode(raw)
        record = Reject(raw, got) if type(got) is str else build(raw, *got, partition)
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
