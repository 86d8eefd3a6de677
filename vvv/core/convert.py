"""One cattrs converter for every collector, with strict hooks for the API's quirks.

The API sends numbers as strings (`"premium": "121538.56"`), timestamps in two spellings
(`2023-02-16 00:59:44+00:00`, `2023-02-16T00:59:44Z`), and nulls anywhere, sometimes as
`""` (an empty forecast, a missing price): for an optional number, decimal, date, time,
boolean or text field `""` is null. A required field that is `""` is still an error naming
it. The default cattrs hooks are lenient in the wrong places (`str(None)` is "None",
`bool("false")` is True), so these hooks accept exactly what the API can mean and reject the rest.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, get_args, get_origin

import cattrs
import cattrs.v

_EPOCH_MS_THRESHOLD = 100_000_000_000  # larger epoch numbers are milliseconds

JsonObject = dict[str, Any]


def parse_timestamp(value: Any) -> datetime:
    """An aware UTC datetime from either ISO spelling or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a timestamp, got {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= _EPOCH_MS_THRESHOLD else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a timestamp, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is UTC:  # "Z" and "+00:00", nearly every timestamp the API sends
        return parsed
    # The API documents UTC everywhere; a timestamp without an offset is read as UTC.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    try:
        number = Decimal(value if isinstance(value, str) else str(value))  # Decimal ignores surrounding blanks
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _parse_date(value: Any, _: type) -> date:
    if not isinstance(value, str):
        raise ValueError(f"expected a date, got {type(value).__name__}")
    return date.fromisoformat(value.strip())


def _parse_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _parse_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"expected a boolean, got {value!r}")


def _parse_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _parse_object(value: Any, _: type) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def _strict_list(converter: cattrs.Converter):
    """Lists must arrive as JSON arrays: the default hook would split `"SPY"` into letters."""

    def structure(value: Any, type_: type) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        (item_type,) = get_args(type_) or (Any,)
        return [converter.structure(item, item_type) for item in value]

    return structure


def _strict_tuple(converter: cattrs.Converter):
    """Tuples come from JSON or TOML arrays too: a string is not a tuple of its letters."""

    def structure(value: Any, type_: type) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a list, got {type(value).__name__}")
        args = get_args(type_)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(converter.structure(item, args[0]) for item in value)
        if args and len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(converter.structure(item, t) for item, t in zip(value, args or [Any] * len(value), strict=True))

    return structure


def _is_optional(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args


# Where the API writes a missing value as "" instead of null; not lists or objects, where "" is no value of theirs.
_BLANK_IS_NULL = (str, int, Decimal, datetime, date, bool)


def _optional(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """`X | None` bound once to X's hook: cattrs' own looks X's hook up again for every value.
    For the scalar types of `_BLANK_IS_NULL`, `""` is null too."""

    def factory(type_: Any) -> Callable[[Any, Any], Any]:
        (inner,) = [arg for arg in get_args(type_) if arg is not type(None)]
        hook = converter.get_structure_hook(inner)

        if inner in _BLANK_IS_NULL:
            def structure(value: Any, _: Any) -> Any:
                return None if value is None or value == "" else hook(value, inner)
        else:
            def structure(value: Any, _: Any) -> Any:
                return None if value is None else hook(value, inner)

        return structure

    return factory


def field_message(error: BaseException, type_: Any) -> str:
    """What was wrong with one field, as a reject reason says it."""
    if isinstance(error, KeyError):
        return "required field missing"
    if isinstance(error, ValueError | TypeError) and str(error):
        return str(error)
    return cattrs.v.format_exception(error, type_)


def make_converter() -> cattrs.Converter:
    """Build the converter once; hooks are registered up front, never per record."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(datetime, lambda v, _: parse_timestamp(v))
    converter.register_unstructure_hook(datetime, lambda v: v.isoformat())
    converter.register_structure_hook(Decimal, _parse_decimal)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(date, _parse_date)
    converter.register_unstructure_hook(date, lambda v: v.isoformat())
    converter.register_structure_hook(str, _parse_str)
    converter.register_structure_hook(bool, _parse_bool)
    converter.register_structure_hook(int, _parse_int)
    converter.register_structure_hook_func(lambda t: t == JsonObject, _parse_object)
    converter.register_structure_hook_func(lambda t: get_origin(t) is list, _strict_list(converter))
    converter.register_structure_hook_func(lambda t: get_origin(t) is tuple, _strict_tuple(converter))
    converter.register_structure_hook_factory(_is_optional, _optional(converter))
    return converter


CONVERTER = make_converter()


def error_lines(error: Exception) -> list[str]:
    """One message per bad field, e.g. `expected a string, got int @ item.headline`."""
    if isinstance(error, cattrs.BaseValidationError):
        return cattrs.transform_error(error, path="item", format_exception=field_message)
    return [str(error)]


def describe_error(error: Exception) -> str:
    return "; ".join(error_lines(error))
