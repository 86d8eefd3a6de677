"""Items for the parser property, generated from openapi.json's component schemas plus the quirks
the live API shows: numbers as strings (and strings as numbers), both timestamp spellings,
`""` for null, unknown enum values, extra fields.

The schemas are a copy of the part of uw-api/openapi.json the collectors read
(openapi_components.json beside this file): refresh it with
`python tests/collectors/openapi_items.py path/to/openapi.json` when the description changes.
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from strategies import aware_datetimes, json_objects, json_values, spellings

COMPONENTS = Path(__file__).with_name("openapi_components.json")
ROOTS = (  # the item schemas of the endpoints vvv collects, and of those issue 17 adds
    "Headline News", "Darkpool Trade", "Flow Alert", "Economic calendar", "Earnings", "Daily Market Tide",
    "Candle data", "Spot GEX exposures per 1min", "Net Prem Tick response.", "Insider Trade Agg",
    "Senate Stock", "FDA Calendar",
)
_JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")
_EXTRA_NAMES = st.sampled_from(["extra_field", "marketcap", "id", "x", "sector", "updated_at"])
_NUMBER_TEXT = st.integers(-10**12, 10**12).map(str) | st.decimals(
    -10**9, 10**9, places=4, allow_nan=False).map(str)


@functools.cache
def _schemas() -> dict[str, Any]:
    return json.loads(COMPONENTS.read_text(encoding="utf-8"))


def resolved(name: str) -> dict[str, Any]:
    """The component schema `name` with every `$ref` replaced by what it names."""
    return _inline(_schemas()[name])


def _inline(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(_schemas()[node["$ref"].rsplit("/", 1)[-1]])
        return {key: _inline(value) for key, value in node.items() if key != "example" or not isinstance(value, dict)}
    if isinstance(node, list):
        return [_inline(value) for value in node]
    return node


def examples(name: str) -> list[dict[str, Any]]:
    """The schema's own example items (its `example.data`)."""
    example = _schemas()[name].get("example", {})
    return [item for item in example.get("data", []) if isinstance(item, dict)]


def _is_timestamp(text: Any) -> bool:
    if not isinstance(text, str) or len(text) < 16:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _field(schema: dict[str, Any], example: Any) -> st.SearchStrategy[Any]:
    """A value for one field: its example, one the schema allows, or a live quirk of its kind."""
    kind = schema.get("type")
    choices = [st.none(), st.just(""), _allowed(schema)]
    if example is not None:
        choices.append(st.just(example))
    if kind in ("integer", "number"):
        choices.append(_NUMBER_TEXT)  # numbers as strings
    if isinstance(example, str) and _looks_numeric(example):
        choices += [st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False)]
    if _is_timestamp(example) or "time" in str(schema.get("format", "")):
        choices.append(aware_datetimes.flatmap(spellings))  # `2023-02-16 00:59:44+00:00` or `...T00:59:44Z`
    if "enum" in schema:
        choices.append(st.text(min_size=1, max_size=8))  # a value the description does not list yet
    return st.one_of(choices)


def _allowed(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """What the schema allows. Objects and untyped fields are any JSON of that kind: hypothesis-jsonschema
    0.23.1's object strategy fails under hypothesis 6.170 ('many' object has no attribute 'more')."""
    if schema.get("type") == "object":
        return json_objects
    if "type" not in schema and "enum" not in schema:
        return json_values
    if schema.get("type") not in (None, *_JSON_TYPES):  # the provider's own, e.g. "type": "date": text in that format
        schema = {**schema, "type": "string", "format": schema["type"]}
    return from_schema({k: v for k, v in schema.items() if k != "example"})


def _looks_numeric(text: str) -> bool:
    return text.lstrip("-").replace(".", "", 1).isdigit()


@functools.cache
def items_for(schema_name: str) -> st.SearchStrategy[dict[str, Any]]:
    """Items of `schema_name`: half start from one of its examples with some fields redrawn (most
    parse), half are drawn field by field (most are rejected); both get extra fields."""
    schema = resolved(schema_name)
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    known = examples(schema_name) or [{}]
    fields = {name: _field(sub, known[0].get(name)) for name, sub in props.items()}
    extras = st.dictionaries(_EXTRA_NAMES.filter(lambda n: n not in props), json_values, max_size=2)

    @st.composite
    def from_example(draw: st.DrawFn) -> dict[str, Any]:
        item = dict(draw(st.sampled_from(known)))
        for name in draw(st.sets(st.sampled_from(sorted(fields)), max_size=2)) if fields else ():
            item[name] = draw(fields[name])
        return {**item, **draw(extras)}

    drawn = st.fixed_dictionaries({n: fields[n] for n in props if n in required},
                                  optional={n: fields[n] for n in props if n not in required})
    return from_example() | st.builds(lambda item, extra: {**item, **extra}, drawn, extras)


def _refresh(openapi: Path) -> None:
    """Write openapi_components.json: the ROOTS and every schema they reach."""
    schemas = json.loads(openapi.read_text(encoding="utf-8"))["components"]["schemas"]
    kept: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = value.rsplit("/", 1)[-1] if key == "$ref" else None
                if name is not None and name not in kept:
                    kept[name] = schemas[name]
                    walk(schemas[name])
                elif name is None:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for root in ROOTS:
        kept[root] = schemas[root]
        walk(schemas[root])
    COMPONENTS.write_text(json.dumps(dict(sorted(kept.items())), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


if __name__ == "__main__":
    _refresh(Path(sys.argv[1]))
