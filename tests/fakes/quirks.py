"""What every fake feed shares: time spellings, a fast seeded draw, the live API's habits
(nulls, `""` for null, numbers as strings) and the malformed variants of an item."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def render(ms: int, style: str) -> str:
    """A UTC instant in one of the API's spellings: "space" (`+00:00`), "z", or "zms" (milliseconds)."""
    dt = EPOCH + timedelta(milliseconds=ms)
    if style == "space":
        return dt.strftime("%Y-%m-%d %H:%M:%S+00:00")
    if style == "z":
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def render_us(us: int) -> str:
    """`2025-10-22T21:24:31.123456Z`, as live `created_at` values look."""
    return (EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_ms(dt: datetime) -> int:
    return (dt - EPOCH) // timedelta(milliseconds=1)


def as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def below(rng: random.Random, n: int) -> int:
    """randrange(n) via random(): several times faster, which matters for big feeds."""
    return int(rng.random() * n)


def pick(rng: random.Random, seq: Any) -> Any:
    return seq[int(rng.random() * len(seq))]


def maybe_null(rng: random.Random, value: Any) -> Any:
    return None if rng.random() < 0.1 else value


def maybe_blank(rng: random.Random, value: Any) -> Any:
    """The value, or what the live API sends for a missing one: null, and sometimes `""`."""
    roll = rng.random()
    return "" if roll < 0.05 else None if roll < 0.1 else value


def stable_uuid(*parts: Any) -> str:
    """A UUID for the same parts in every run (the API's ids are UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-uw/" + "/".join(map(str, parts))))


def without(key: str) -> Callable[[Any], Any]:
    def drop(item: Any) -> Any:
        return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item
    return drop


def with_(key: str, value: Any) -> Callable[[Any], Any]:
    def replace(item: Any) -> Any:
        return {**item, key: value} if isinstance(item, dict) else item
    return replace


def as_string(item: Any) -> Any:
    return json.dumps(item, ensure_ascii=False)


def malformed(item: Any, rank: int, every: int, variants: tuple[Callable[[Any], Any], ...]) -> Any:
    """The item, or its malformed variant when its rank (1 for the oldest) is a multiple of `every`."""
    if not every or rank % every:
        return item
    return variants[(rank // every - 1) % len(variants)](item)


def malforms(time_field: str, *breaks: Callable[[Any], Any]) -> tuple[Callable[[Any], Any], ...]:
    """The ways an item breaks: no time, an unreadable time, the two `breaks` before, then as a string,
    then the last `break`."""
    *first, last = breaks
    return (without(time_field), with_(time_field, "not a date"), *first, as_string, last)
