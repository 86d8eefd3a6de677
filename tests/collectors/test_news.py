"""The news collector's contract: parse, identity, validate, and paging a feed that keeps growing."""

from __future__ import annotations

import copy
import operator
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from rescan import check_fold
from strategies import (
    DOCUMENTED,
    REQUIRED,
    aware_datetimes,
    broken_items,
    clean_text,
    decodable_text,
    headline_items,
    histories,
    json_values,
    lone_surrogates,
    news_settings,
    refused,
    second_gaps,
    space_spelling,
    spellings,
    storable_characters,
    z_spelling,
)

from vvv.collectors import news
from vvv.core.base import Page, Request, advance_over
from vvv.core.convert import parse_timestamp
from vvv.core.paging import PageCursor

NOW = datetime(2025, 10, 22, 21, 24, 30, tzinfo=UTC)


def _subsequence(part: Sequence[Any], whole: Sequence[Any], same: Callable[[Any, Any], bool]) -> bool:
    rest = iter(whole)
    return all(any(same(p, w) for w in rest) for p in part)


def _record(item: dict[str, Any]) -> news.Headline:
    records, rejects = news.COLLECTOR.parse({"data": [item]})
    assert rejects == [], rejects
    return records[0]


payloads = json_values | st.lists(
    json_values | headline_items() | broken_items().map(operator.itemgetter(0)), max_size=8
).map(lambda data: {"data": data})


@given(payloads)
@example(None)
@example({"data": None})
@example({"data": "SPY"})
@example({"data": [None, "x", 1, [], {}]})
def test_parse_never_raises_and_accounts_for_every_item(payload):
    """Each item becomes one record or one reject, in order; anything else is one reject of the whole payload."""
    before = repr(payload)
    records, rejects = news.COLLECTOR.parse(payload)
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, list):
        assert len(records) + len(rejects) == len(data)
        assert _subsequence([r.raw for r in rejects], data, operator.is_)
        headlines = [item.get("headline") for item in data if isinstance(item, dict)]
        assert _subsequence([r.headline for r in records], headlines, operator.eq)
    else:
        assert records == []
        assert len(rejects) == 1 and rejects[0].raw is payload
    assert all(isinstance(r.reason, str) and r.reason for r in rejects)
    assert repr(payload) == before


@given(st.lists(headline_items(), max_size=5))
def test_every_well_formed_item_becomes_a_record_with_its_fields(items):
    records, rejects = news.COLLECTOR.parse({"data": items})
    assert rejects == []
    assert len(records) == len(items)
    for record, item in zip(records, items, strict=True):
        assert record.created_at == parse_timestamp(item["created_at"])
        assert record.created_at.utcoffset() == timedelta(0)
        assert (record.headline, record.source) == (item["headline"], item["source"])
        assert record.is_major == {"true": True, "false": False}.get(item.get("is_major"), item.get("is_major"))
        assert record.sentiment == (item.get("sentiment") or None)  # the API writes a missing one as "" too
        assert [record.tags, record.tickers, record.meta] == [item.get(field) for field in ("tags", "tickers", "meta")]


@given(headline_items())
@example({"created_at": "2023-02-16T00:59:44Z", "headline": "h", "source": "s", "id": "theirs", "extra": {"a": 1}})
def test_unknown_fields_land_in_extra_exactly_and_documented_ones_never_do(item):
    record = _record(item)
    assert record.extra == {k: v for k, v in item.items() if k not in DOCUMENTED}
    assert DOCUMENTED.isdisjoint(record.extra)
    assert record.id != item.get("id")


@given(st.lists(broken_items(), max_size=6))
def test_broken_fields_make_a_reject_that_names_each_of_them_and_keeps_the_raw_item(cases):
    items = [item for item, _ in cases]
    before = repr(items)
    records, rejects = news.COLLECTOR.parse({"data": items})
    broken = [(item, fields) for item, fields in cases if fields]
    assert len(records) == len(cases) - len(broken)
    assert len(rejects) == len(broken)
    for reject, (item, fields) in zip(rejects, broken, strict=True):
        assert reject.raw is item
        assert set(re.findall(r"@ item\.(\w+)", reject.reason)) == fields
    assert repr(items) == before


@given(st.lists(headline_items(decodable_text), min_size=1, max_size=3))
@example(items=[{"created_at": "2023-02-16T00:59:44Z", "headline": "Fed \ud83d holds", "source": "Benzinga"}])
def test_parse_never_raises_on_any_string_json_can_decode(items):
    """`json.loads('"\\ud83d"')` is a lone surrogate: it must become a record or a reject, not an exception."""
    records, rejects = news.COLLECTOR.parse({"data": items})
    assert len(records) + len(rejects) == len(items)


@given(aware_datetimes.flatmap(lambda moment: st.tuples(spellings(moment), spellings(moment))), headline_items())
@example(("2023-02-16 00:59:44+00:00", "2023-02-16T00:59:44Z"), {"headline": "h", "source": "s"})
@example(("2023-02-16 02:59:44.500+02:00", "2023-02-16T00:59:44.500000Z"), {"headline": "h", "source": "s"})
def test_either_spelling_of_created_at_gives_the_same_id(spelled, item):
    first, second = spelled
    assert _record({**item, "created_at": first}).id == _record({**item, "created_at": second}).id


shifts = st.sampled_from([timedelta(microseconds=1), timedelta(microseconds=-1), timedelta(seconds=1)]) | st.timedeltas(
    min_value=timedelta(days=-400), max_value=timedelta(days=400)
).filter(bool)


@given(headline_items(), st.sampled_from(REQUIRED), st.data())
def test_changing_source_headline_or_created_at_changes_the_id(item, field, data):
    original = _record(item)
    if field == "created_at":
        changed = data.draw(spellings(original.created_at + data.draw(shifts)))
    else:
        changed = data.draw(st.text(max_size=12).filter(lambda text: text != item[field]))
    assert _record({**item, field: changed}).id != original.id


@given(headline_items(), headline_items())
def test_changing_anything_but_source_headline_and_created_at_keeps_the_id(item, other):
    """is_major, sentiment, tags, tickers, meta and extras are not part of a headline's identity."""
    mixed = {k: v for k, v in other.items() if k not in REQUIRED} | {k: item[k] for k in REQUIRED}
    assert _record(mixed).id == _record(item).id


@given(aware_datetimes, clean_text, clean_text)
@example(datetime(2023, 2, 16, 2, 59, 44, tzinfo=timezone(timedelta(hours=2))), "Benzinga", "Fed holds")
def test_headline_id_depends_on_the_instant_not_the_offset_it_is_written_in(moment, source, headline):
    in_utc = moment.astimezone(UTC)
    assert moment == in_utc
    assert news.headline_id(source=source, headline=headline, created_at=moment) == news.headline_id(
        source=source, headline=headline, created_at=in_utc
    )


readable_text = st.text(storable_characters, min_size=1, max_size=12).filter(str.strip)
blanks = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2003\u3000"), max_size=4)
not_in_the_future = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=(NOW + timedelta(minutes=5)).replace(tzinfo=None), timezones=st.just(UTC)
)


@st.composite
def good_items(draw: st.DrawFn) -> dict[str, Any]:
    """A headline item validate must accept: readable headline and source, no NUL, not in the future."""
    item = draw(headline_items(clean_text))
    created_at = draw(not_in_the_future.flatmap(spellings))
    return {**item, "headline": draw(readable_text), "source": draw(readable_text), "created_at": created_at}


@given(good_items())
def test_validate_accepts_a_good_headline(item):
    assert refused(news, _record(item), NOW) is None


@given(good_items(), st.sampled_from(["headline", "source"]), blanks)
def test_validate_rejects_an_empty_or_blank_headline_or_source(item, field, blank):
    assert refused(news, _record({**item, field: blank}), NOW)


@given(good_items(), st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650)))
def test_validate_rejects_created_at_more_than_five_minutes_ahead(item, beyond):
    at_the_limit = {**item, "created_at": z_spelling(NOW + timedelta(minutes=5))}
    ahead = {**item, "created_at": z_spelling(NOW + timedelta(minutes=5) + beyond)}
    assert refused(news, _record(at_the_limit), NOW) is None
    assert refused(news, _record(ahead), NOW)


_text_places: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "headline": lambda item, text: {**item, "headline": text},
    "source": lambda item, text: {**item, "source": text},
    "sentiment": lambda item, text: {**item, "sentiment": text},
    "tags": lambda item, text: {**item, "tags": [*(item.get("tags") or []), text]},
    "tickers": lambda item, text: {**item, "tickers": [text]},
    "meta key": lambda item, text: {**item, "meta": {text: 1}},
    "meta value": lambda item, text: {**item, "meta": {"links": [{"title": text}]}},
    "extra key": lambda item, text: {**item, f"x{text}": True},
    "extra value": lambda item, text: {**item, "vendor": {"body": [text]}},
}


def _containing(character: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(clean_text, character, clean_text).map("".join)


@given(good_items(), st.sampled_from(sorted(_text_places)), _containing(st.just("\x00")))
def test_validate_rejects_a_nul_in_any_text_field(item, place, text):
    assert refused(news, _record(_text_places[place](item, text)), NOW)


@given(
    good_items(),
    st.sampled_from(sorted(set(_text_places) - {"headline", "source"})),
    _containing(lone_surrogates),
)
@example({"created_at": "2023-02-16T00:59:44Z", "headline": "h", "source": "s"}, "meta value", "\ud83d")
def test_validate_rejects_text_postgresql_cannot_store(item, place, text):
    """A lone surrogate (from `"\\ud83d"` in the JSON) cannot be encoded to UTF-8, as a NUL cannot be stored."""
    assert refused(news, _record(_text_places[place](item, text)), NOW)


BASE = datetime(2025, 10, 22, 13, 30, tzinfo=UTC)


class Feed:
    """`GET /api/news/headlines` as the API serves it: newest first, page N is items[N*limit:(N+1)*limit]."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.published: list[tuple[str, datetime]] = []
        self._top = BASE

    def publish(self, gaps: Sequence[int]) -> None:
        """Prepend one headline per gap, each that many seconds after the newest one (0: the same second)."""
        for gap in gaps:
            self._top += timedelta(seconds=gap)
            number = len(self.items)
            item = {
                "created_at": (z_spelling if number % 2 else space_spelling)(self._top),
                "headline": f"headline {number}",
                "source": "Benzinga",
                "tickers": ["SPY"],
            }
            self.items.insert(0, item)
            identity = news.headline_id(source=item["source"], headline=item["headline"], created_at=self._top)
            self.published.insert(0, (identity, self._top))

    def respond(self, request: Request) -> dict[str, Any]:
        assert request.path == news.PATH
        number, limit = int(request.param("page")), int(request.param("limit"))
        return {"data": self.items[number * limit : (number + 1) * limit]}


@attrs.frozen
class Pass:
    start: PageCursor
    saved: PageCursor
    pages: tuple[Page, ...]

    @property
    def numbers(self) -> list[int]:
        return [int(page.request.param("page")) for page in self.pages]

    @property
    def records(self) -> list[news.Headline]:
        return [record for page in self.pages for record in page.records]

    @property
    def from_the_top(self) -> bool:
        return self.start.resume_page is None

    @property
    def completed(self) -> bool:
        return self.saved.resume_page is None


_RUNAWAY = 200


def collect(feed: Feed, cursor: PageCursor, settings: news.Settings, *, stop_after: int | None = None) -> Pass:
    """One pass composed as vvv/run/runner.py does: plan from the starting cursor, fold advance over the pages."""
    pages: list[Page] = []
    saved = cursor
    request = news.COLLECTOR.next_request(cursor, None, None, settings)
    while request is not None and len(pages) != stop_after:
        if len(pages) == _RUNAWAY:
            pytest.fail(f"a pass from {cursor} did not stop after {_RUNAWAY} requests")
        payload = feed.respond(request)
        records, rejects = news.COLLECTOR.parse(payload)
        assert rejects == []
        page = Page(request=request, received=len(payload["data"]), records=tuple(records))
        saved = news.COLLECTOR.advance(cursor, cursor if not pages else saved, page, settings)
        pages.append(page)
        check_fold(news, cursor, saved, pages, settings)
        request = news.COLLECTOR.next_request(cursor, request, page, settings)
    return Pass(start=cursor, saved=saved, pages=tuple(pages))


@attrs.define
class Collection:
    """The collector's state across passes over one feed: its saved cursor and every headline it has fetched."""

    feed: Feed
    settings: news.Settings
    cursor: PageCursor = PageCursor()
    fetched: set[str] = attrs.Factory(set)
    oldest: datetime | None = None
    """The oldest headline of the first pass that fetched any: the collector owes every headline after it."""

    def run(self, *, stop_after: int | None = None) -> Pass:
        done = collect(self.feed, self.cursor, self.settings, stop_after=stop_after)
        self.fetched.update(record.id for record in done.records)
        if self.oldest is None and done.records:
            self.oldest = min(record.created_at for record in done.records)
        self.cursor = done.saved
        return done

    def missing(self, *, before: datetime | None = None) -> list[tuple[str, datetime]]:
        """Headlines after `oldest` (and before `before`) that no pass has fetched."""
        return [
            (identity, at)
            for identity, at in self.feed.published
            if (self.oldest is None or at > self.oldest)
            and (before is None or at < before)
            and identity not in self.fetched
        ]

    def catch_up(self) -> None:
        """Run passes over the feed as it stands until one pages from the top and completes, or a generous bound."""
        for _ in range(2 * (len(self.feed.items) // self.settings.page_size + 3)):
            done = self.run()
            if done.from_the_top and done.completed:
                return

    def copy(self) -> Collection:
        return attrs.evolve(self, feed=copy.deepcopy(self.feed), fetched=set(self.fetched))


_NEVER = datetime.min.replace(tzinfo=UTC)


@given(news_settings, histories())
def test_every_pass_stays_within_its_page_cap_and_newest_never_decreases(settings, history):
    """The first pass makes at most first_run_pages requests, every other at most max_pages, on consecutive pages."""
    collection = Collection(Feed(), settings)
    for gaps, stop in history:
        collection.feed.publish(gaps)
        done = collection.run(stop_after=stop)
        cap = settings.first_run_pages if done.start == PageCursor() else settings.max_pages
        assert 1 <= len(done.pages) <= cap
        first = done.start.resume_page or 0
        assert done.numbers == list(range(first, first + len(done.pages)))
        assert all(page.request.param("limit") == str(settings.page_size) for page in done.pages)
        assert (done.saved.newest or _NEVER) >= (done.start.newest or _NEVER)


@given(news_settings, histories())
def test_no_headline_older_than_the_saved_cursor_is_ever_left_behind(settings, history):
    """After any pass, even one that died midway, every headline between `oldest` and `newest` has been fetched."""
    collection = Collection(Feed(), settings)
    for gaps, stop in history:
        collection.feed.publish(gaps)
        collection.run(stop_after=stop)
        if collection.cursor.newest is not None:
            assert collection.missing(before=collection.cursor.newest) == []


@given(news_settings, histories())
def test_a_pass_that_pages_from_the_top_and_completes_leaves_no_gap(settings, history):
    """However bursts outran the page cap before, such a pass ends with every headline after `oldest` fetched."""
    collection = Collection(Feed(), settings)
    for gaps, stop in history:
        collection.feed.publish(gaps)
        done = collection.run(stop_after=stop)
        if done.from_the_top and done.completed:
            assert collection.missing() == []


@given(news_settings, histories())
@example(news.Settings(page_size=2, max_pages=1, first_run_pages=1), [([1, 1], None), ([1, 1, 1, 1], None)])
def test_passes_catch_up_with_every_headline_once_news_stops(settings, history):
    """A burst larger than a pass can fetch is finished by later passes: nothing after `oldest` is lost for good."""
    collection = Collection(Feed(), settings)
    for gaps, stop in history:
        collection.feed.publish(gaps)
        collection.run(stop_after=stop)
    collection.catch_up()
    assert collection.missing() == []


@given(news_settings, histories(interruptions=False), second_gaps, second_gaps)
def test_a_pass_cut_short_after_any_page_skips_nothing(settings, history, burst, later):
    """The cursor saved after any prefix of a pass's pages is a safe start for the next pass."""
    collection = Collection(Feed(), settings)
    for gaps, _ in history:
        collection.feed.publish(gaps)
        collection.run()
    collection.feed.publish(burst)
    whole = collect(collection.feed, collection.cursor, settings)
    for cut in range(1, len(whole.pages) + 1):
        trial = collection.copy()
        assert trial.run(stop_after=cut).saved == advance_over(news.COLLECTOR.advance, collection.cursor, whole.pages[:cut],
                                                               settings)
        trial.feed.publish(later)
        trial.catch_up()
        assert trial.missing() == []


@given(news_settings, histories(interruptions=False))
def test_a_pass_over_an_unchanged_feed_fetches_down_to_the_first_page_older_than_the_cursor(settings, history):
    """One page, unless a page's worth of headlines is at or after `newest` (they share its second)."""
    collection = Collection(Feed(), settings)
    for gaps, _ in history:
        collection.feed.publish(gaps)
        collection.run()
    assume(collection.cursor.newest is not None and collection.cursor.resume_page is None)
    newest = collection.cursor.newest
    at_or_after = sum(1 for _, at in collection.feed.published if at >= newest)
    again = collection.run()
    assert len(again.pages) == min(settings.max_pages, at_or_after // settings.page_size + 1)
    if at_or_after < settings.page_size:
        assert len(again.pages) == 1


def _owed_by_the_first_run(feed: Feed, settings: news.Settings) -> set[str]:
    """The headlines the first run owes as the feed stands when it starts: its configured depth
    (the top `first_run_pages` pages) and every headline newer than the deepest of them."""
    depth = feed.published[: settings.first_run_pages * settings.page_size]
    deepest = min((at for _, at in depth), default=None)
    return {identity for identity, _ in depth} | {identity for identity, at in feed.published
                                                  if deepest is not None and at > deepest}


@given(news_settings, st.lists(st.sampled_from([0, 0, 1, 2, 7]), min_size=1, max_size=25),
       st.integers(min_value=1, max_value=3), histories())
@example(news.Settings(page_size=2, max_pages=1, first_run_pages=3), [1] * 8, 1, [([1], None), ([1, 1, 1], 1)])
@example(news.Settings(page_size=1, max_pages=1, first_run_pages=3), [0, 0, 0, 1], 1, [([0, 0], None)])
def test_a_first_run_cut_after_any_page_still_reaches_its_configured_depth(settings, first, cut, later):
    """A first run that dies after any page resumes there, whatever is published meanwhile
    (it pushes the depth down as it pushes every page): passes while news arrives, then passes
    once it stops, end with every headline of the configured depth and none skipped above it."""
    collection = Collection(Feed(), settings)
    collection.feed.publish(first)
    owed = _owed_by_the_first_run(collection.feed, settings)
    collection.run(stop_after=cut)
    for gaps, stop in later:
        collection.feed.publish(gaps)
        collection.run(stop_after=stop)
    collection.catch_up()
    assert owed - collection.fetched == set()
    assert collection.missing() == []


def test_a_first_run_cut_after_its_first_page_saves_where_to_go_on_and_the_next_pass_finishes_it():
    settings = news.Settings(page_size=2, max_pages=5, first_run_pages=3)
    collection = Collection(Feed(), settings)
    collection.feed.publish([1] * 10)
    top, second = collection.feed.published[0][1], collection.feed.published[1][1]
    collection.run(stop_after=1)
    assert collection.cursor == PageCursor(resume_page=1, pending_newest=top, owed=4, oldest=second)
    collection.feed.publish([1])  # pushes every headline one place down: page 1 begins with one fetched already
    resumed = collection.run()
    assert resumed.numbers == [1, 2, 3]  # 1 repeat + 4 owed = 5 items: three pages of two
    assert collection.cursor == PageCursor(newest=top)  # what came meanwhile is the next pass's, from the top
    assert {identity for identity, _ in collection.feed.published[1:7]} <= collection.fetched
