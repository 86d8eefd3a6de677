"""News headlines: `GET /api/news/headlines`, newest first, paged by number from 0.

The feed has no time filter, so a pass pages down from page 0 until it sees a headline
older than the newest one stored: that page overlaps the previous pass, which catches
headlines sharing the cursor's second. A pass stopped by the page cap saves where it
stopped and the next pass resumes there, so a burst of news never leaves a silent gap.
The first run reads `first_run_pages` pages of history; cut short (an error, a crash, a
failover), it too saves where it stopped, and later passes finish it before reading what is
new on top.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
from attrs import frozen

from vvv.core.base import Page, Reject, Request, Schedule, Spec, at_least, at_most, parse_data, stable_id
from vvv.core.convert import JsonObject
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
class Cursor:
    """`newest`: every headline before it is stored; a pass from page 0 fetches what came after.

    `resume_page`/`pending_newest`: where a pass stopped by the page cap left off, and the
    newest headline it saw, so the next pass finishes the gap before `newest` moves.

    A first run in progress (no `newest` yet, `resume_page` set) also keeps `owed`: how many
    headlines below `oldest`, the oldest one it has fetched, it still needs to reach its depth.
    """

    newest: datetime | None = None
    resume_page: int | None = None
    pending_newest: datetime | None = None
    owed: int | None = None
    oldest: datetime | None = None


@frozen
class _FirstRunPage(Request):
    """A request of a first run, carrying what the run still owed before it, so that the pass can
    stop at its depth; the API sees only path and params."""

    owed: int = attrs.field(default=0, eq=False)
    beyond: bool = attrs.field(default=True, eq=False)  # past what earlier passes fetched: every item is new


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


ITEM = Item(Headline, computed=("id", "extra"))

SPEC = Spec(
    name="news",
    description="News headlines (GET /api/news/headlines) into trading.news_headlines",
    table="trading.news_headlines",
    key=("id",),
    record=Headline,
    time_column="created_at",
    schedule=Schedule(interval=120, extended_interval=300, closed_interval=1800, stale_after=2 * 3600),
    settings=Settings,
    cursor=Cursor,
)


def headline_id(*, source: str, headline: str, created_at: datetime) -> str:
    """The identity of a headline: every spelling and offset of one instant gives one id."""
    return stable_id(source, headline, created_at.astimezone(UTC).isoformat())


def parse(payload: Any) -> tuple[list[Headline], list[Reject]]:
    """Typed headlines from one response; anything unreadable becomes a reject, never an exception."""
    return parse_data(payload, ITEM, _headline)


def _headline(raw: Any, values: tuple[Any, ...], extra: dict[str, Any]) -> Headline:
    created_at, headline, source = values[:3]  # ITEM's names start with these
    return Headline(headline_id(source=source, headline=headline, created_at=created_at), *values, extra)


def validate(record: Headline, now: datetime) -> str | None:
    """Business rules a parsed headline must meet before it is stored."""
    if not record.headline.strip():
        return "headline is empty"
    if not record.source.strip():
        return "source is empty"
    return None


def next_request(cursor: Cursor, previous: Request | None, page: Page | None, settings: Settings) -> Request | None:
    """The next page to fetch, or None when the pass has reached the cursor, the end, its depth or its cap."""
    start = cursor.resume_page or 0
    if cursor.newest is None:
        return _next_first_run_request(cursor, previous, page, settings)
    if previous is None or page is None:
        return _page_request(start, settings)
    number = int(previous.param("page") or 0)
    if _is_last(cursor, page, settings):
        return None
    if number - start + 1 >= settings.max_pages:
        return None
    return _page_request(number + 1, settings)


def advance(cursor: Cursor, saved: Cursor, page: Page, settings: Settings) -> Cursor:
    """The cursor to save once `page` is stored: `cursor` is where the pass started, `saved` the
    cursor saved after the page before (`cursor` for the first page)."""
    if cursor.newest is None:
        return _advance_first_run(cursor, saved, page, settings)
    # The newest headline of the pages before rides in `saved` as `pending_newest`.
    newest_seen = max([*(r.created_at for r in page.records), *_present(saved.pending_newest)], default=None)
    if _is_last(cursor, page, settings):
        return Cursor(newest=max([cursor.newest, *_present(newest_seen)]))
    # Resume after the last page fetched: headlines published meanwhile push older ones to
    # later pages, never earlier, so the next unseen headline is at or after that page.
    return attrs.evolve(cursor, resume_page=int(page.request.param("page") or 0) + 1, pending_newest=newest_seen)


def _next_first_run_request(cursor: Cursor, previous: Request | None, page: Page | None,
                            settings: Settings) -> Request | None:
    """A first run pages down until it owes nothing: `first_run_pages` pages in one pass when
    nothing cuts it short, else on from where it stopped, `max_pages` a pass."""
    start = cursor.resume_page or 0
    if previous is None or page is None:
        return _first_run_request(start, _initial_owed(cursor, settings), _beyond(cursor, cursor), settings)
    owed = previous.owed if isinstance(previous, _FirstRunPage) else _initial_owed(cursor, settings)
    beyond = previous.beyond if isinstance(previous, _FirstRunPage) else True
    owed -= _first_run_progress(cursor, beyond, page)
    number = int(previous.param("page") or 0)
    cap = settings.first_run_pages if cursor.resume_page is None else settings.max_pages
    if page.received < settings.page_size or owed <= 0 or number - start + 1 >= cap:
        return None
    return _first_run_request(number + 1, owed, beyond or _past(cursor, page), settings)


def _advance_first_run(cursor: Cursor, saved: Cursor, page: Page, settings: Settings) -> Cursor:
    """The first run's cursor after `page`: done (`newest` set) at its depth or the feed's end,
    else where to go on, with what it still owes. A run that has read no headline yet starts over."""
    number = int(page.request.param("page") or 0)
    times = [r.created_at for r in page.records]
    top = max([*times, *_present(saved.pending_newest)], default=None)
    if cursor.resume_page is None:  # one pass from the top: every page before this one was full
        owed = _initial_owed(cursor, settings) - number * settings.page_size - page.received
    else:
        owed = (saved.owed or 0) - _first_run_progress(cursor, _beyond(cursor, saved), page)
    if page.received < settings.page_size or owed <= 0 or top is None:
        return Cursor(newest=top)
    oldest = min([*times, *_present(saved.oldest)])
    return Cursor(resume_page=number + 1, pending_newest=top, owed=owed, oldest=oldest)


def _initial_owed(cursor: Cursor, settings: Settings) -> int:
    if cursor.resume_page is None:
        return settings.first_run_pages * settings.page_size
    return cursor.owed or 0


def _first_run_progress(cursor: Cursor, beyond: bool, page: Page) -> int:
    """How many of the headlines the first run owes `page` brought.

    Headlines published since the run stopped push the rest down (see `advance`), so the page it
    resumes at begins with headlines it has fetched already: until the pass is past them, only
    headlines older than the oldest fetched count (one in the same second might be a repeat, so
    it does not count); after that the pass's pages follow each other and every item counts.
    """
    if beyond or cursor.oldest is None:
        return page.received
    return sum(1 for r in page.records if r.created_at < cursor.oldest)


def _beyond(cursor: Cursor, saved: Cursor) -> bool:
    """Has this pass, before the page at hand, fetched a headline older than any the run had?"""
    if cursor.resume_page is None or cursor.oldest is None:
        return True
    return saved.oldest is not None and saved.oldest < cursor.oldest


def _past(cursor: Cursor, page: Page) -> bool:
    """Does `page` hold a headline older than any the run had before this pass?"""
    return cursor.oldest is None or any(r.created_at < cursor.oldest for r in page.records)


def _is_last(cursor: Cursor, page: Page, settings: Settings) -> bool:
    """True when nothing older than this page can be new to us."""
    if page.received < settings.page_size:
        return True
    return cursor.newest is not None and any(r.created_at < cursor.newest for r in page.records)


def _first_run_request(number: int, owed: int, beyond: bool, settings: Settings) -> Request:
    return _FirstRunPage(PATH, _page_request(number, settings).params, owed=owed, beyond=beyond)


def _page_request(number: int, settings: Settings) -> Request:
    return Request(PATH, (("limit", str(settings.page_size)), ("page", str(number))))


def _present(value: datetime | None) -> list[datetime]:
    return [] if value is None else [value]
