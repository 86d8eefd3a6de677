"""The record class is the one source of a table's shape: its columns, their PostgreSQL types
and nullability, how an API item becomes the record's values, and what a record must be for
PostgreSQL to store it. `store`, `vvv check` and the tests read the columns from here; the
migration is checked against them (tests/shell/test_schema_source.py).

Types map by the field's annotation: Decimal is numeric, int bigint, datetime timestamptz,
date date, str text, bool boolean, a JSON object jsonb, a list or tuple of str text[];
`X | None` is a nullable column, anything else NOT NULL. A field whose column is of another
type says so in its metadata: `attrs.field(metadata={PG_TYPE: "uuid"})`.

Both the item decoder and the storage check are compiled once per record type into one
function each (generated source, no per-field dispatch): parsing is the cost of a pass.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, get_args, get_origin

import attrs
from attrs import frozen

from vvv.core.convert import CONVERTER, JsonObject, field_message

PG_TYPE = "vvv.pg_type"  # attrs metadata key: the column's type where the annotation does not give it
FUTURE_SKEW = timedelta(minutes=5)  # how far ahead of the clock a record's time may be: clocks differ a little

_TYPES: dict[Any, str] = {Decimal: "numeric", int: "bigint", datetime: "timestamp with time zone", date: "date",
                          str: "text", bool: "boolean"}
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
# PostgreSQL's NUMERIC holds up to 131072 digits before the point and 16383 after it.
_NUMERIC_MAX_ADJUSTED = 131071
_NUMERIC_MIN_EXPONENT = -16383


@frozen
class Column:
    """A column of a record's table: its type as `format_type` prints it, and whether vvv writes null
    in it (`vvv check` says so if the table refuses that)."""

    name: str
    type: str
    nullable: bool = False


def fits_numeric(value: Decimal) -> bool:
    """Whether PostgreSQL NUMERIC can hold `value`: a batch with one that cannot would fail whole.

    The exponent is `adjusted()` less the digits, which number at most `len(str(value))`: that
    bound settles every value of a sane size at a quarter of the cost of `as_tuple()`."""
    adjusted = value.adjusted()
    return adjusted <= _NUMERIC_MAX_ADJUSTED and (len(str(value)) <= adjusted + 1 - _NUMERIC_MIN_EXPONENT
                                                   or value.as_tuple().exponent >= _NUMERIC_MIN_EXPONENT)


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


def _unstorable_among(values: Any) -> str | None:
    """One look at each value; only text that is not plain ASCII without NUL is looked into further."""
    for value in values:
        if isinstance(value, str):
            if ("\x00" in value or not value.isascii()) and (reason := unstorable_text(value)) is not None:
                return reason
        elif isinstance(value, dict | list | tuple) and (reason := unstorable_text(value)) is not None:
            return reason
    return None


def _unoptional(hint: Any) -> tuple[Any, bool]:
    """The type inside `X | None`, and whether it was optional."""
    args = get_args(hint)
    if get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        (inner,) = [arg for arg in args if arg is not type(None)]
        return inner, True
    return hint, False


def _pg_type(hint: Any) -> str | None:
    if hint in _TYPES:
        return _TYPES[hint]
    origin, args = get_origin(hint), get_args(hint)
    if hint is dict or origin in (dict, Mapping):
        return "jsonb"
    if origin in (list, tuple) and args and args[0] is str and (origin is list or args[1:] in ((), (Ellipsis,))):
        return "text[]"
    return None


@functools.cache
def hints(record_type: type) -> dict[str, Any]:
    """The resolved annotations of an attrs class (they are strings under `from __future__ import annotations`)."""
    return typing.get_type_hints(record_type)


@functools.cache
def columns(record_type: type) -> tuple[Column, ...]:
    """The table's columns, in the record's field order (the order `record_row` writes them)."""
    found = []
    for field in attrs.fields(record_type):
        inner, optional = _unoptional(hints(record_type)[field.name])
        pg_type = field.metadata.get(PG_TYPE) or _pg_type(inner)
        if pg_type is None:
            raise TypeError(f"{record_type.__name__}.{field.name}: no PostgreSQL type for {inner!r};"
                            f" give one in the field's metadata ({PG_TYPE})")
        found.append(Column(field.name, pg_type, optional))
    return tuple(found)


# -- storage checks ---------------------------------------------------------------------------

@functools.cache
def storage_check(record_type: type, time_field: str | None = None,
                  skew: timedelta | None = FUTURE_SKEW) -> Callable[[Any, datetime], str | None]:
    """The compiled check of what PostgreSQL must be able to store: integers within bigint, numbers
    NUMERIC can hold, text without NUL or lone surrogates (in jsonb too); and `time_field` not
    beyond `skew` ahead of the clock (None: times in the future are the data, as in a calendar).
    Returns a function `(record, now) -> reason or None`."""
    lines = ["def check(r, now):"]
    for column in columns(record_type):
        name, guard = column.name, "v is not None and " if column.nullable else ""
        access = f"    v = r.{name}"
        if column.type in ("bigint", "integer", "smallint"):
            lines += [access, f"    if {guard}not (MIN <= v <= MAX): return f'{name} {{v}} does not fit a bigint'"]
        elif column.type == "numeric":
            lines += [access, f"    if {guard}not (v.adjusted() <= MAXADJ and (len(str(v)) <= v.adjusted() + DIGITS"
                              " or FITS(v))):",  # fits_numeric, inline: four a row
                      f"        return f'{name} {{v}} is beyond what a NUMERIC column holds'"]
        elif column.type == "text":
            lines += [access, f"    if {guard}('\\x00' in v or not v.isascii()) and (why := TEXT(v)): return why"]
        elif column.type in ("text[]", "jsonb"):
            lines += [access, "    if v and (why := TEXT(v)): return why"]
    if time_field is not None and skew is not None:
        lines += [f"    v = r.{time_field}",
                  f"    if v is not None and v > now + SKEW: return f'{time_field} {{v.isoformat()}} is in the future'"]
    lines.append("    return None")
    return _compile(lines, "check", MIN=_BIGINT_MIN, MAX=_BIGINT_MAX, FITS=fits_numeric, TEXT=unstorable_text,
                    SKEW=skew, MAXADJ=_NUMERIC_MAX_ADJUSTED, DIGITS=1 - _NUMERIC_MIN_EXPONENT)


def _compile(lines: list[str], name: str, **namespace: Any) -> Callable[..., Any]:
    exec(compile("\n".join(lines), f"<vvv.core.schema {name}>", "exec"), namespace)  # noqa: S102 - our own source
    return namespace[name]


# -- API items --------------------------------------------------------------------------------

@frozen
class Item:
    """How an API item becomes a record's values: the record's fields less `computed` (made by the
    collector: an id, what an option symbol says), plus the item-only fields of `also` (read and
    checked, not stored as such). `lenient` fields are kept only when they read (live fields the
    description does not promise); one that does not stays in `extra`. Every other key of the item
    goes to `extra`, in the API's order.

    `decode(raw)` returns (values in `names` order, extra), or the reason the item cannot be read
    (one message per bad field, `expected a string, got int @ item.headline`)."""

    record: type
    computed: tuple[str, ...] = ("extra",)
    also: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    lenient: tuple[str, ...] = ()
    names: tuple[str, ...] = attrs.field(init=False)
    documented: frozenset[str] = attrs.field(init=False)
    decode: Callable[[Any], tuple[tuple[Any, ...], dict[str, Any]] | str] = attrs.field(init=False, eq=False,
                                                                                       repr=False)

    def __attrs_post_init__(self) -> None:
        record_hints = hints(self.record)
        fields = {f.name: record_hints[f.name] for f in attrs.fields(self.record) if f.name not in self.computed}
        fields.update(self.also)
        object.__setattr__(self, "names", tuple(fields))
        object.__setattr__(self, "documented", frozenset(n for n in fields if n not in self.lenient))
        object.__setattr__(self, "decode", _decoder(fields, self.documented, self.lenient))


def _decoder(fields: Mapping[str, Any], documented: frozenset[str],
             lenient: Collection[str]) -> Callable[[Any], Any]:
    """One generated function: a fast path for values already of their type (as good items are),
    and, should anything in it fail, the converter's hooks field by field (`_slow`), which either
    read the item or say what is wrong with each field. The fast path only takes values the
    hooks would return unchanged, so both give the same record."""
    namespace: dict[str, Any] = {"KNOWN": frozenset(fields), "D": Decimal, "ISO": datetime.fromisoformat,
                                 "UTC": UTC, "SLOW": functools.partial(_slow, fields, documented, lenient)}
    lines = ["def decode(raw):", "    if type(raw) is not dict: return SLOW(raw)", "    try:"]
    for i, (name, hint) in enumerate(fields.items()):
        namespace[f"T{i}"], namespace[f"H{i}"] = hint, CONVERTER.get_structure_hook(hint)
        if name in lenient:  # one that does not read is left to SLOW, which keeps it in extra
            namespace[f"T{i}"] = _unoptional(hint)[0]
            namespace[f"H{i}"] = CONVERTER.get_structure_hook(namespace[f"T{i}"])
            hint = namespace[f"T{i}"] | None
        lines += [f"        {line}" for line in _fast_field(i, name, hint)]
    lines += ["    except Exception:", "        return SLOW(raw)",
              "    extra = {k: v for k, v in raw.items() if k not in KNOWN}",
              f"    return ({''.join(f'f{i}, ' for i in range(len(fields)))}), extra"]
    return _compile(lines, "decode", **namespace)


def _fast_field(i: int, name: str, hint: Any) -> list[str]:
    """Source lines that set `f{i}` from the item, raising on anything the fast path does not take."""
    inner, optional = _unoptional(hint)
    get, out, hook = (f"v = raw.get({name!r})" if optional else f"v = raw[{name!r}]"), f"f{i}", f"H{i}(v, T{i})"
    if inner is str:
        fast = ["if type(v) is str and v:" if optional else "if type(v) is str:", f"    {out} = v"]  # "" is null
    elif inner is int or inner is bool or inner == JsonObject:
        fast = [f"if type(v) is {({int: 'int', bool: 'bool'}).get(inner, 'dict')}:", f"    {out} = v"]
    elif inner is Decimal:
        fast = ["if type(v) is str and v:", f"    {out} = D(v)", f"    if not {out}.is_finite(): raise ValueError"]
    elif inner is datetime:
        fast = ["if type(v) is str and v:", f"    {out} = ISO(v)", f"    if {out}.tzinfo is not UTC: {out} = {hook}"]
    else:
        return [get, f"{out} = {hook}"]
    if optional:
        fast = [f"if v is None: {out} = None", "el" + fast[0], *fast[1:]]
    return [get, *fast, f"else: {out} = {hook}"]


def _lenient(extra: dict[str, Any], name: str, hook: Callable[[Any, Any], Any]) -> Any:
    """A lenient field's value, taken out of `extra` when it reads (null reads as null)."""
    if name not in extra:
        return None
    value = extra[name]
    try:
        typed = None if value is None else hook(value, None)
    except Exception:  # ValueError, or OverflowError from an absurd epoch number: it stays in extra
        return None
    del extra[name]
    return typed


def _slow(fields: Mapping[str, Any], documented: frozenset[str], lenient: Collection[str],
          raw: Any) -> tuple[tuple[Any, ...], dict[str, Any]] | str:
    """The item read field by field with the converter's hooks, or every field's problem."""
    if not isinstance(raw, dict):
        return f"item is not a JSON object but {type(raw).__name__}"
    values, problems = [], []
    for name, hint in fields.items():
        if name in lenient:
            values.append(None)
            continue
        _, optional = _unoptional(hint)
        try:
            value = raw.get(name) if optional else raw[name]
            values.append(CONVERTER.get_structure_hook(hint)(value, hint))
        except Exception as error:
            problems.append(f"{field_message(error, hint)} @ item.{name}")
    if problems:
        return "; ".join(problems)
    extra = {k: v for k, v in raw.items() if k not in documented}
    values = [_lenient(extra, name, CONVERTER.get_structure_hook(_unoptional(fields[name])[0]))
              if name in lenient else value for name, value in zip(fields, values, strict=True)]
    return tuple(values), extra

