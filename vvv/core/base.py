"""The vocabulary every collector speaks: pure values, no I/O.

A collector module exports ONE declaration, `COLLECTOR = Collector(...)`: its `Spec`, its
paging strategy (`vvv.core.paging`: `TimeSweep`, `PageNumber`, `Single`, `PerDate`), its
partitions, and what is truly its own:

- `parse_item(raw) -> record | Reject`: one item of the response's `data` list; never raises
  on bad data. `Collector.parse` maps it over the page, so each item becomes one record or one
  `Reject` holding that very item, in order (`record_items` finds the raw item of a record).
- `validate(record, now) -> str | None`: a business-rule reason, or None when the record is fine.

`read_page` is the one page step (parse -> validate -> the `Page` the strategy plans from),
shared by the live pass, the spool replay and backfill. The strategy's `advance(cursor,
saved, page, settings, partition)` is folded page by page: `cursor` is the one the pass started
from, `saved` the one saved after the page before. A pass keeps no page once it is stored, so
memory stays bounded and each record is looked at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs
from attrs import frozen

from vvv.core.convert import CONVERTER, describe_error


@frozen
class Column:
    """A column a collector writes, with the type `check` expects (as `format_type` prints it)."""

    name: str
    type: str


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
    """Everything the shell needs to know about a collector, declared once."""

    name: str
    description: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    time_column: str
    schedule: Schedule
    settings: type
    cursor: type
    needs_token: bool = True
    # The API restates records after serving them (a print canceled, a forecast revised): a record
    # served again with other content replaces the stored row, whose old version goes to vvv.revisions.
    # Otherwise a record stored once is never changed, and serving it again is a duplicate.
    revisable: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


class Strategy(Protocol):
    """What the kernel asks of a paging strategy (see `vvv.core.paging`); every method is pure."""

    cursor: type
    backfills: bool  # whether `vvv backfill` can walk a range of days with it

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
    parse_item: Callable[[Any], Any]
    validate: Callable[[Any, datetime], str | None]
    partitions: Callable[[Any], tuple[str, ...]] | None = None
    notes: Callable[[Page], list[str]] = _no_notes

    def __attrs_post_init__(self) -> None:
        if self.spec.cursor is not self.strategy.cursor:  # the store reads cursors by the spec's type
            raise TypeError(f"{self.spec.name}: Spec.cursor must be the strategy's cursor type,"
                            f" {self.strategy.cursor.__name__}")

    def parse(self, payload: Any) -> tuple[list[Any], list[Reject]]:
        """Typed records from one response; anything unreadable becomes a reject, never an exception."""
        return parse_data(payload, self.parse_item)

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


def read_cursor(cursor_type: type, raw: Any) -> Any:
    """A saved cursor of `cursor_type` from its JSON, the shapes of earlier releases included: keys a
    cursor type lists in `RETIRED` (a ticker the partition now carries) are dropped, not refused."""
    retired = getattr(cursor_type, "RETIRED", ())
    if retired and isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k not in retired}
    return CONVERTER.structure(raw, cursor_type)


def read_page(collector: Collector, request: Request | None, payload: Any, now: datetime
              ) -> tuple[Page, list[Reject]]:
    """The one page step: a response parsed and validated into the `Page` a strategy plans from and
    the rejects to keep. The live pass, the spool replay (`request` None) and backfill all store this."""
    records, rejects = collector.parse(payload)
    good, bad = validate_all(collector, records, now, payload=payload, rejects=rejects)
    refused = rejects or bad  # the first reason stands for a page none of whose items can be read
    page = Page(request=request, received=received_items(payload), records=tuple(good),
                rejected=refused[0].reason if refused else None, refused=_broke_a_rule(records, good))
    return page, [*rejects, *bad]


def validate_all(collector: Collector, records: list[Any], now: datetime, *, payload: Any,
                 rejects: Sequence[Reject]) -> tuple[list[Any], list[Reject]]:
    """Split parsed records into the ones to store and rejects with the rule they broke.

    A rejected record is kept as the raw item it was parsed from (`payload` and parse's
    `rejects` locate it), so a reject is what the API sent and is recognized when sent again.
    """
    good, bad, raws = [], [], None
    for index, record in enumerate(records):
        reason = collector.validate(record, now)
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


def parse_data(payload: Any, parse_item: Callable[[Any], Any]) -> tuple[list[Any], list[Reject]]:
    """Records and rejects from a `{"data": [...]}` response; `parse_item` returns a record or a Reject."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return [], [Reject(payload, "response has no `data` list")]
    records, rejects = [], []
    for raw in items:
        record = parse_item(raw)
        (rejects if isinstance(record, Reject) else records).append(record)
    return records, rejects


def record_items(payload: Any, rejects: Iterable[Reject]) -> list[Any]:
    """The raw items that became records, in the records' order, by the contract of `parse`:
    the `data` items less the ones a parse reject holds. Looked up only when a record is rejected."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    rejected = {id(reject.raw) for reject in rejects}
    return [item for item in items if id(item) not in rejected] if rejected else items


def structure_item(raw: Any, item_type: type, documented: frozenset[str]) -> tuple[Any, dict[str, Any]] | Reject:
    """The documented fields of one API item as `item_type`, and the rest (for `extra`); or a Reject saying why."""
    if not isinstance(raw, dict):
        return Reject(raw, f"item is not a JSON object but {type(raw).__name__}")
    known, extra = split_extra(raw, documented)
    try:
        return _structure_hook(item_type)(known, item_type), extra
    except Exception as error:  # cattrs gathers every field error into one exception
        return Reject(raw, describe_error(error))


@functools.cache
def _structure_hook(item_type: type) -> Callable[[Any, type], Any]:
    """The converter's compiled function for `item_type`, looked up once instead of per item."""
    return CONVERTER.get_structure_hook(item_type)


def split_extra(item: Mapping[str, Any], known: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate the documented fields from the ones the API added since (schema drift)."""
    added = item.keys() - known
    documented = dict(item)
    if not added:
        return documented, {}
    return documented, {k: documented.pop(k) for k in item if k in added}  # in the API's order


def unstorable_text(value: Any) -> str | None:
    """Why PostgreSQL could not store some text inside `value` (NUL, lone surrogates), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a text field contains a NUL character, which PostgreSQL cannot store"
        if not value.isascii() and any("\ud800" <= ch <= "\udfff" for ch in value):
            return "a text field contains a lone UTF-16 surrogate, which is not valid UTF-8"
        return None
    if isinstance(value, dict):
        return _unstorable_among(value.keys()) or _unstorable_among(value.values())
    if isinstance(value, list | tuple):
        return _unstorable_among(value)
    return None


def _unstorable_among(values: Iterable[Any]) -> str | None:
    """One look at each value; only text that is not plain ASCII without NUL is looked into further."""
    for value in values:
        if isinstance(value, str):
            if ("\x00" in value or not value.isascii()) and (reason := unstorable_text(value)) is not None:
                return reason
        elif isinstance(value, dict | list | tuple) and (reason := unstorable_text(value)) is not None:
            return reason
    return None


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
