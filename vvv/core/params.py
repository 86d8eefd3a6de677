"""An endpoint's own query parameters, declared with their types and checked at start.

A collector that passes the API's filters through from the config declares them once, by
their TOML names (arrays without the `[]` the query adds), and uses `checked` as the attrs
converter of its settings field, so that a filter the API does not take, or a value of the
wrong type, is an error at config load naming the key; `query` turns the checked values into
the request's parameters.

    >>> FILTERS = {"min_premium": Param("number", low=0), "is_sweep": Param("boolean")}
    >>> query(FILTERS, checked(FILTERS, {"is_sweep": True, "min_premium": 0.5}))
    (('min_premium', '0.5'), ('is_sweep', 'true'))
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

from attrs import frozen

Kind = Literal["integer", "number", "boolean", "tickers", "choices", "text"]

# Tickers separated by commas, "-" before the first excluding them, as the API's ticker filters take them.
_TICKER_LIST = re.compile(r"-?[A-Za-z0-9][A-Za-z0-9.\-]{0,9}(,[A-Za-z0-9][A-Za-z0-9.\-]{0,9})*")


@frozen
class Param:
    """One documented parameter: its kind and bounds. `number` takes integers and decimals;
    `choices` is an array parameter of some of `choices`; `text` a free string (a name to match),
    one line of printable characters."""

    kind: Kind
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


def min_max(kind: Kind, low: float | None = None, high: float | None = None, *,
            names: Iterable[str]) -> dict[str, Param]:
    """The `min_X` and `max_X` pair of each name, as APIs bound a field from both sides."""
    return {f"{edge}_{name}": Param(kind, low, high) for name in names for edge in ("min", "max")}


def checked(declared: Mapping[str, Param], value: Any, *, where: str = "filters",
            reserved: Iterable[str] = ()) -> dict[str, Any]:
    """The parameters of `value` checked against `declared`; a ValueError or TypeError names the key.
    `reserved` are parameters the collector sets itself (paging bounds)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a table of API filters, got {value!r}")
    reserved = tuple(reserved)
    return {name: _checked(declared, reserved, f"{where}.{name}", name, given) for name, given in value.items()}


def _checked(declared: Mapping[str, Param], reserved: tuple[str, ...], where: str, name: Any, value: Any) -> Any:
    if name in reserved:
        raise ValueError(f"{where}: vvv sets {name} itself while paging; it is not a filter")
    if not isinstance(name, str) or name.removesuffix("[]") not in declared:
        hint = f"; write {name.removesuffix('[]')}" if isinstance(name, str) and name.endswith("[]") else ""
        raise ValueError(f"{where}: unknown filter{hint} (known: {', '.join(declared)})")
    if name.endswith("[]"):
        raise ValueError(f"{where}: write {name.removesuffix('[]')} = [...]; vvv adds the [] to the query")
    param = declared[name]
    if param.kind == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"{where}: expected true or false, got {value!r}")
        return value
    if param.kind == "tickers":
        if not isinstance(value, str) or not _TICKER_LIST.fullmatch(value):
            raise TypeError(f"{where}: expected tickers separated by commas (\"-\" before the first excludes),"
                            f" e.g. \"AAPL,INTC\"; got {value!r}")
        return value.upper()
    if param.kind == "choices":
        return _checked_choices(where, param, value)
    if param.kind == "text":
        if not isinstance(value, str) or not value.strip() or not value.isprintable() or len(value) > 200:
            raise TypeError(f"{where}: expected a non-empty line of text (at most 200 characters), got {value!r}")
        return value
    return _checked_number(where, param, value)


def _checked_choices(where: str, param: Param, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise TypeError(f"{where}: expected a list of one or more of {', '.join(param.choices)}; got {value!r}")
    unknown = [item for item in value if item not in param.choices]
    if unknown:
        raise ValueError(f"{where}: {unknown[0]!r} is not one of {', '.join(param.choices)}")
    return tuple(dict.fromkeys(value))


def _checked_number(where: str, param: Param, value: Any) -> int | float:
    allowed = int if param.kind == "integer" else int | float
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise TypeError(f"{where}: expected {'an integer' if param.kind == 'integer' else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    if param.low is not None and value < param.low:
        raise ValueError(f"{where}: must be at least {param.low:g}, got {value!r}")
    if param.high is not None and value > param.high:
        raise ValueError(f"{where}: must be at most {param.high:g}, got {value!r}")
    return value


def query(declared: Mapping[str, Param], values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The query parameters for checked values, in the declaration's order.

    An array parameter is one parameter whose value is a tuple of strings: the client hands the
    params to httpx as a dict, which sends a tuple as the repeated `rule_name[]=...` the API takes.
    """
    params: list[tuple[str, Any]] = []
    for name in sorted(values, key=list(declared).index):
        value = values[name]
        if isinstance(value, tuple):
            params.append((f"{name}[]", value))
        elif isinstance(value, bool):
            params.append((name, "true" if value else "false"))
        elif isinstance(value, float):
            params.append((name, format(Decimal(repr(value)), "f")))
        else:
            params.append((name, str(value)))
    return tuple(params)
