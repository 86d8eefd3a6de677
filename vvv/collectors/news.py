"""News headlines: `GET /api/news/headlines`, newest first, paged by number from 0.

The feed has no time filter: a declaration over the kernel's `PageNumber` by `created_at`
(page down until a headline older than the newest stored; the first run reads
`first_run_pages` pages of history, resumed where it stopped when cut short). A headline is
identified by a stable hash of its source, text and time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Column, Reject, Schedule, Spec, at_least, at_most, stable_id, structure_item
from vvv.core.base import unstorable_text
from vvv.core.convert import JsonObject
from vvv.core.paging import PageCursor, PageNumber

PATH = "/api/news/headlines"
MAX_PAGE_SIZE = 100
FUTURE_SKEW = timedelta(minutes=5)


@frozen
class Settings:
    """`[collectors.news]` options beyond the schedule."""

    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    max_pages: int = attrs.field(default=20, validator=at_least(1))
    first_run_pages: int = attrs.field(default=3, validator=at_least(1))


@frozen
class _Item:
    """A headline as the API describes it (`Headline News`); every optional field may be null."""

    created_at: datetime
    headline: str
    source: str
    is_major: bool | None = None
    sentiment: str | None = None
    tags: list[str] | None = None
    tickers: list[str] | None = None
    meta: JsonObject | None = None


_DOCUMENTED = frozenset(a.name for a in attrs.fields(_Item))


@frozen
class Headline:
    """One stored headline; field order is the column order of `trading.news_headlines`."""

    id: str
    created_at: datetime
    headline: str
    source: str
    is_major: bool | None
    sentiment: str | None
    tags: list[str] | None
    tickers: list[str] | None
    meta: JsonObject | None
    extra: JsonObject


SPEC = Spec(
    name="news",
    description="News headlines (GET /api/news/headlines) into trading.news_headlines",
    table="trading.news_headlines",
    key=("id",),
    columns=(
        Column("id", "text"),
        Column("created_at", "timestamp with time zone"),
        Column("headline", "text"),
        Column("source", "text"),
        Column("is_major", "boolean"),
        Column("sentiment", "text"),
        Column("tags", "text[]"),
        Column("tickers", "text[]"),
        Column("meta", "jsonb"),
        Column("extra", "jsonb"),
    ),
    time_column="created_at",
    schedule=Schedule(interval=120, extended_interval=300, closed_interval=1800, stale_after=2 * 3600),
    settings=Settings,
    cursor=PageCursor,
)


def headline_id(*, source: str, headline: str, created_at: datetime) -> str:
    """The identity of a headline: every spelling and offset of one instant gives one id."""
    return stable_id(source, headline, created_at.astimezone(UTC).isoformat())


def _parse_item(raw: Any) -> Headline | Reject:
    parsed = structure_item(raw, _Item, _DOCUMENTED)
    if isinstance(parsed, Reject):
        return parsed
    item, extra = parsed
    return Headline(
        id=headline_id(source=item.source, headline=item.headline, created_at=item.created_at),
        extra=extra,
        **attrs.asdict(item, recurse=False),
    )


def validate(record: Headline, now: datetime) -> str | None:
    """Business rules a parsed headline must meet before it is stored."""
    if not record.headline.strip():
        return "headline is empty"
    if not record.source.strip():
        return "source is empty"
    if record.created_at > now + FUTURE_SKEW:
        return f"created_at {record.created_at.isoformat()} is in the future"
    return unstorable_text(attrs.astuple(record, recurse=False))


COLLECTOR = Collector(spec=SPEC, strategy=PageNumber(PATH, time_field="created_at"), parse_item=_parse_item,
                      validate=validate)
