"""`GET /api/news/headlines`: the headline feed, newest first in pages, as a FakeApi mixin."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from tests.fakes.quirks import (
    as_utc,
    below,
    malformed,
    malforms,
    maybe_null,
    pick,
    render,
    to_ms,
    with_,
)
from tests.fakes.server import (
    RecordedRequest,
    Response,
    invalid,
    json_response,
    limit_of,
    page_of,
)

NEWS_PATH = "/api/news/headlines"

_COMPANIES = (
    ("Apple", ["AAPL"]),
    ("Nestlé", ["NSRGY"]),
    ("Société Générale", ["SCGLY"]),
    ("L'Oréal", ["LRLCY"]),
    ("McDonald's", ["MCD"]),
    ("Moody's", ["MCO"]),
    ("AT&T", ["T"]),
    ("Procter & Gamble", ["PG"]),
    ("Berkshire Hathaway", ["BRK.B"]),
    ("Tesla", ["TSLA"]),
    ("NVIDIA", ["NVDA"]),
    ("Toyota", ["TM"]),
    ("BYD (比亚迪)", ["BYDDY"]),
    ("Zürich Insurance", ["ZURVY"]),
    ("Ørsted", ["DNNGY"]),
    ("Škoda Transportation", []),
    ("Petrobras", ["PBR", "PBR.A"]),
    ("S&P 500 futures", ["SPY", "ES"]),
    ("Nasdaq-100", ["QQQ"]),
    ("Treasury yields", []),
)
_TEMPLATES = (
    "{co} reports Q{q} revenue up {pct}%, beats estimates",
    '{co} shares fall {pct}% after CEO warns of a "challenging quarter"',
    "{co}'s board approves ${amt}B buyback",
    "“{co} is undervalued,” analyst says; price target raised to ${px}",
    "{co} cuts guidance — sees margins {pct}% lower",
    "Fed's Powell: rates to stay 'higher for longer'; {co} slips {pct}%",
    "{co} to acquire rival for €{amt}B in all-cash deal",
    "🚀 {co} rallies {pct}% in pre-market trading",
    "{co} recalls {n} units over 'software glitch'",
    "{co} files 8-K: CFO steps down, effective immediately",
    "Breaking: {co} halted pending news ⚠️",
    "{co} up {pct}% after Q{q} beat; options flow leans bullish",
)
_SOURCES = (
    "Benzinga", "Reuters", "Bloomberg", "BusinessWire", "PR Newswire",
    "MarketWatch", "Dow Jones", "GlobeNewswire", "Unusual Whales",
)
_TAGS = ("earnings", "m&a", "guidance", "macro", "federal-reserve", "recall",
         "buyback", "analyst", "halt", "pre-market")
_AUTHORS = ("Jane O'Neil", "José Álvarez", "Zoë Müller", "李伟", "Sam \"The Tape\" Reed")
MALFORMS = malforms("created_at", with_("headline", None), with_("headline", 12345), with_("tickers", "SPY"))


class NewsFeed:
    """Headlines: `news_count` of them, a pure function of (seed, count, now), newest first."""

    ROUTES = ((NEWS_PATH, "_news"),)

    def _init_news(self, news_count: int) -> None:
        if news_count < 0:
            raise ValueError("news_count must be >= 0")
        self._rng = random.Random(self.seed)
        self._headlines: set[str] = set()
        self._next_serial = 0
        self._newest_ms: int | None = None
        self.news: list[dict] = self._generate(news_count)

    def add_news(self, n: int, *, at: datetime | None = None) -> list[dict]:
        """Publish n headlines newer than all others (or all at `at`), as the live feed does."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            if at is None:
                items = self._newer_items(n)
                self.news[0:0] = items
            else:
                items = self._items_at(n, as_utc(at))
                self._insert_sorted(items, to_ms(as_utc(at)))
            return list(items)

    def add_raw_news(self, item: Any) -> None:
        """Put an arbitrary item on top, to test how the client copes with junk."""
        with self._lock:
            self.news.insert(0, item)
            ms = _item_ms(item)
            if ms is not None and (self._newest_ms is None or ms > self._newest_ms):
                self._newest_ms = ms

    def withdraw_news(self, headlines: set[str]) -> None:
        """Stop serving the headlines named, as a feed does with what lies beyond its depth."""
        with self._lock:
            self.news[:] = [item for item in self.news
                            if not (isinstance(item, dict) and item.get("headline") in headlines)]

    def _served_news(self) -> list[Any]:
        every = self._malformed_every
        return [malformed(item, len(self.news) - i, every, MALFORMS) for i, item in enumerate(self.news)]

    def _news(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        problems: list[str] = []
        limit = limit_of(req.query, 50, 100, problems)
        page = page_of(req.query, problems)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        return json_response(200, {"data": self._page(page, limit)})

    def _page(self, page: int, limit: int) -> list[Any]:
        """Slice the feed, replacing every n-th item by its malformed variant."""
        with self._lock:
            start = page * limit
            total = len(self.news)
            items = self.news[start:start + limit]
            every = self._malformed_every
        # rank 1 is the oldest item
        return [malformed(item, total - (start + i), every, MALFORMS) for i, item in enumerate(items)]

    def _generate(self, count: int) -> list[dict]:
        """The initial feed: a pure function of (seed, count, now), newest first."""
        top = to_ms(self.now) - self._rng.randint(2_000, 30_000)
        self._next_serial = count
        items = self._items(self._walk(top, count, count - 1, max_gap_s=600, same_second=0.35))
        self._newest_ms = _item_ms(items[0]) if items else None
        return items

    def _newer_items(self, n: int) -> list[dict]:
        """n items strictly newer than the newest, packed ~2.5 per second to limit drift.

        The walk is drawn below zero, then moved up by whole seconds so that the
        oldest new item lands in the second after the current newest one.
        """
        times = self._walk(0, n, self._next_serial + n - 1, max_gap_s=1, same_second=0.6)
        self._next_serial += n
        if not times:
            return []
        base = self._newest_ms if self._newest_ms is not None else to_ms(self.now)
        shift = (base // 1000 + 1) * 1000 - (times[-1][1] // 1000) * 1000
        items = self._items([(serial, ms + shift, style) for serial, ms, style in times])
        self._newest_ms = _item_ms(items[0])
        return items

    def _items_at(self, n: int, at: datetime) -> list[dict]:
        """n items stamped exactly `at`, in a spelling that can show its milliseconds."""
        ms = to_ms(at)
        items = []
        for _ in range(n):
            serial = self._next_serial
            self._next_serial += 1
            style = "zms" if ms % 1000 else _style_for(serial, self._rng)
            items.append(self._item(serial, render(ms, style)))
        items.reverse()
        if n and (self._newest_ms is None or ms > self._newest_ms):
            self._newest_ms = ms
        return items

    def _insert_sorted(self, items: list[dict], ms: int) -> None:
        """Keep the feed newest first: insert before the first item older than `ms`."""
        index = len(self.news)
        for i, existing in enumerate(self.news):
            existing_ms = _item_ms(existing)
            if existing_ms is not None and existing_ms < ms:
                index = i
                break
        self.news[index:index] = items

    def _walk(
        self, top_ms: int, n: int, first_serial: int, *, max_gap_s: int, same_second: float
    ) -> list[tuple[int, int, str]]:
        """(serial, ms, spelling) for n items going back from top_ms, newest first.

        Each candidate time is at most the previous *shown* time, and dropping the
        fraction only lowers it, so shown times never increase down the feed
        whichever spelling is drawn.
        """
        times = []
        t = top_ms
        for i in range(n):
            if i:
                t -= _gap_ms(self._rng, t, max_gap_s, same_second)
            serial = first_serial - i
            style = _style_for(serial, self._rng)
            t = t if style == "zms" else (t // 1000) * 1000
            times.append((serial, t, style))
        return times

    def _items(self, times: list[tuple[int, int, str]]) -> list[dict]:
        return [self._item(serial, render(ms, style)) for serial, ms, style in times]

    def _item(self, serial: int, created_at: str) -> dict:
        """One headline with the real API's optional-field habits."""
        rng = self._rng
        co, tickers = pick(rng, _COMPANIES)
        item: dict[str, Any] = {
            "created_at": created_at,
            "headline": self._unique_headline(co, serial),
            "is_major": maybe_null(rng, rng.random() < 0.2),
            "meta": maybe_null(rng, _meta(rng, serial)),
            "sentiment": maybe_null(rng, pick(rng, ("positive", "negative", "neutral"))),
            "source": pick(rng, _SOURCES),
            "tags": maybe_null(rng, list(dict.fromkeys(pick(rng, _TAGS) for _ in range(below(rng, 4))))),
            "tickers": maybe_null(rng, list(tickers)),
        }
        roll = rng.random()
        if roll < 0.12:
            item["url"] = f"https://news.example.com/a/{serial}?ref=uw&lang=en"
        elif roll < 0.2:
            item["author"] = pick(rng, _AUTHORS)
        return item

    def _unique_headline(self, co: str, serial: int) -> str:
        """Headlines are unique so (source, headline, created_at) identities never collide."""
        rng = self._rng
        text = ""
        for _ in range(5):
            text = pick(rng, _TEMPLATES).format(
                co=co,
                q=1 + below(rng, 4),
                pct=f"{0.1 + rng.random() * 25:.1f}",
                amt=1 + below(rng, 90),
                px=10 + below(rng, 890),
                n=f"{1_000 + below(rng, 899_000):,}",
            )
            if text not in self._headlines:
                break
        else:
            text = f"{text} (update {serial})"
        self._headlines.add(text)
        return text


def _gap_ms(rng: random.Random, t: int, max_gap_s: int, same_second: float) -> int:
    """Sometimes stay in the same second: bursts of headlines share a timestamp."""
    if rng.random() < same_second:
        return below(rng, t % 1000 + 1)
    return 1000 + below(rng, (max_gap_s - 1) * 1000 + 1)


def _style_for(serial: int, rng: random.Random) -> str:
    """Spellings alternate down the feed; some 'Z' ones carry milliseconds."""
    if serial % 2 == 0:
        return "space"
    return "zms" if rng.random() < 0.35 else "z"


def _item_ms(item: Any) -> int | None:
    """The item's created_at in ms, or None when it is missing or unreadable."""
    if not isinstance(item, dict) or not isinstance(item.get("created_at"), str):
        return None
    try:
        return to_ms(as_utc(datetime.fromisoformat(item["created_at"])))
    except ValueError:
        return None


def _meta(rng: random.Random, serial: int) -> dict:
    """Mostly empty, as documented; sometimes nested, as seen live."""
    if rng.random() < 0.6:
        return {}
    return {
        "origin": {"feed": pick(rng, ("wire", "social", "filings")), "ids": [serial, serial * 7 % 1000]},
        "score": round(rng.random(), 3),
        "note": pick(rng, (None, "L'analyse «préliminaire»", 'quoted "text"')),
    }
