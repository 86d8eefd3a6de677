"""The store behind the newer endpoint families: each feed keeps one list of items per
partition (a key such as (ticker, day)), generated on first use from (seed, feed, key) alone,
and a test can add new items (`add_records`), restate one (`restate_record`) or read what is
served (`records`). A family declares its feeds in `FEEDS`; handlers read `_partition`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.quirks import malformed

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Feed:
    """How one feed is made: `generate(api, rng, key)` gives a partition's items in served order;
    `more(api, rng, key, items, n)` gives n new ones; newest-first feeds put them in front."""

    generate: Callable[[Any, random.Random, Key], list[dict]]
    more: Callable[[Any, random.Random, Key, list[dict], int], list[dict]]
    newest_first: bool
    malforms: tuple[Callable[[Any], Any], ...]


@dataclass
class _Partition:
    rng: random.Random
    items: list[dict] = field(default_factory=list)


class Records:
    """The `records`, `add_records`, `restate_record` knobs of every feed in a family's `FEEDS`."""

    FEEDS: dict[str, Feed] = {}

    def _init_records(self) -> None:
        self._feeds = {name: feed for cls in reversed(type(self).__mro__)
                       for name, feed in vars(cls).get("FEEDS", {}).items()}
        self._partitions: dict[tuple[str, Key], _Partition] = {}

    def records(self, feed: str, key: Key = ()) -> list[dict]:
        """The items of `feed`'s partition `key` in served order, unfiltered, never malformed."""
        with self._lock:
            return [dict(item) for item in self._partition(feed, key).items]

    def served_records(self, feed: str, key: Key = ()) -> list[Any]:
        """The same as served now, unfiltered: every n-th item malformed under `malformed_items`."""
        with self._lock:
            return self._served_records(feed, key)

    def add_records(self, feed: str, n: int, key: Key = ()) -> list[dict]:
        """Publish n new items in partition `key` (newer than all others); returns them in served order."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            part = self._partition(feed, key)
            added = self._feeds[feed].more(self, part.rng, key, part.items, n)
            if self._feeds[feed].newest_first:
                part.items[0:0] = added
            else:
                part.items.extend(added)
            return [dict(item) for item in added]

    def restate_record(self, feed: str, key: Key, index: int, **changes: Any) -> dict:
        """Serve item `index` (served order; -1 is the last) of partition `key` with `changes`, as the
        provider does when a figure fills in or is corrected; returns the new version."""
        with self._lock:
            items = self._partition(feed, key).items
            items[index] = {**items[index], **changes}
            return dict(items[index])

    def _partition(self, feed: str, key: Key) -> _Partition:
        """Call under the lock."""
        if (feed, key) not in self._partitions:
            if feed not in self._feeds:
                raise ValueError(f"unknown feed {feed!r}")
            rng = self.rng(feed, *key)
            self._partitions[(feed, key)] = _Partition(rng, self._feeds[feed].generate(self, rng, key))
        return self._partitions[(feed, key)]

    def _served_records(self, feed: str, key: Key, chosen: list[int] | None = None) -> list[Any]:
        """The items at places `chosen` (default all) of a partition, every n-th malformed (by rank
        from the oldest, so an item's fate stays when newer ones arrive). Call under the lock."""
        items = self._partition(feed, key).items
        spec = self._feeds[feed]
        places = range(len(items)) if chosen is None else chosen
        total = len(items)
        return [malformed(items[i], total - i if spec.newest_first else i + 1, self._malformed_every,
                          spec.malforms) for i in places]
