"""News headlines: `GET /api/news/headlines`, newest first, paged by number from 0.

The feed has no time filter: a declaration over the kernel's `PageNumber` by `created_at`
(page down until a headline older than the newest stored; the first run reads
`first_run_pages` pages of history, resumed where it stopped when cut short). A headline is
identified by a stable hash of its source, text and time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Collector, Schedule, Spec, at_least, at_most, stable_id
from vvv.core.convert import JsonObject
from vvv.core.paging import PageCursor, PageNumber
from vvv.core.schema import Item

PATH = "/api/news/headlines"
MAX_PAGE_SIZE = 100


@frozen
class Settings:
    """`[collectors.news]` options beyond the schedule."""

    page_size: int = attrs.field(default=MAX_PAGE_SIZE, validator=[at_least(1), at_most(MAX_PAGE_SIZE)])
    max_pages: int = attrs.field(default=20, validator=at_least(1))
    first_run_pages: int = attrs.field(default=3, validator=at_least(1))


@frozen
class Headline:
    """One stored headline, a row of `trading.news_headlines` (its columns, in order); every
    optional field may be null."""

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


def headline_id(*, source: str, headline: str, created_at: datetime) -> str:
    """The identity of a headline: every spelling and offset of one instant gives one id."""
    return stable_id(source, headline, created_at.astimezone(UTC).isoformat())


def _headline(raw: Any, values: tuple[Any, ...], extra: dict[str, Any], partition: str) -> Headline:
    created_at, headline, source = values[:3]  # the item's names: the record's fields less id and extra
    return Headline(headline_id(source=source, headline=headline, created_at=created_at), *values, extra)


def validate(record: Headline, now: datetime) -> str | None:
    """Business rules a parsed headline must meet before it is stored."""
    if not record.headline.strip():
        return "headline is empty"
    if not record.source.strip():
        return "source is empty"
    return None


SPEC = Spec(name="news", table="trading.news_headlines", key=("id",), record=Headline,
            description="News headlines (GET /api/news/headlines) into trading.news_headlines",
            time_column="created_at", settings=Settings, cursor=PageCursor,
            schedule=Schedule(interval=120, extended_interval=300, closed_interval=1800, stale_after=2 * 3600))

COLLECTOR = Collector(spec=SPEC, strategy=PageNumber(PATH, time_field="created_at"),
                      item=Item(Headline, computed=("id", "extra")), build=_headline, validate=validate)
