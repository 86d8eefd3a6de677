"""The Prometheus metrics of a `vvv run`: one registry per process, served at /metrics.

Counters move when a pass ends (`Metrics.observe`); gauges are read when Prometheus
scrapes, from the sources the service hands in (the API client's budget and response
counts, the spool, the database's newest records), so a scrape shows the state now.
Names follow Prometheus conventions: `vvv_` prefix, `_total` counters, seconds and bytes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector

from vvv import __version__

OUTCOMES = ("ok", "partial", "failed", "spooled")
PHASES = ("pre", "regular", "after", "closed")
FRESHNESS_TTL_S = 5.0  # scrapes (and several scrapers) within this share one database read


@frozen
class Freshness:
    """What the database says about one collector: its newest record and its last good pass."""

    newest_record_at: datetime | None
    last_success_at: datetime | None


@frozen
class Sources:
    """Callables read at scrape time; each may raise or return None when it does not know."""

    responses: Callable[[], Mapping[str, int]] = dict
    budget: Callable[[], Any] = lambda: None
    spool: Callable[[], Any] = lambda: None
    active: Callable[[], bool | None] = lambda: None
    freshness: Callable[[], Mapping[str, Freshness]] = dict
    stale_after: Mapping[str, int | None] = {}  # per collector, as configured: the alert threshold
    phase: Callable[[], str | None] = lambda: None  # the market phase now: pre, regular, after, closed
    streams: Callable[[], Mapping[str, Mapping[str, Any]]] = dict  # per socket channel: its stream's stats


class Metrics:
    """The registry and the counters a service updates; `render()` is the /metrics body."""

    def __init__(self, collectors: Iterable[str], sources: Sources = Sources(),
                 *, clock: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry()
        self._names = tuple(collectors)
        labels = ["collector"]
        self.passes = Counter("vvv_passes", "Collection passes that ended, by outcome (ok, partial, failed, spooled).",
                              [*labels, "outcome"], registry=self.registry)
        self.inserted = Counter("vvv_rows_inserted", "Rows stored, new by identity.", labels, registry=self.registry)
        self.duplicates = Counter("vvv_duplicates", "Rows received again and not stored twice.", labels,
                                  registry=self.registry)
        self.rejects = Counter("vvv_rejects", "Items that failed parse or validate, kept in vvv.rejects.", labels,
                               registry=self.registry)
        info = Gauge("vvv_build_info", "The running vvv's version.", ["version"], registry=self.registry)
        info.labels(version=__version__).set(1)
        for name in self._names:
            for outcome in OUTCOMES:
                self.passes.labels(collector=name, outcome=outcome)
            for counter in (self.inserted, self.duplicates, self.rejects):
                counter.labels(collector=name)
        ProcessCollector(registry=self.registry)
        self._live = _Live(self._names, sources, clock)
        self.registry.register(self._live)

    def observe(self, result: Any) -> None:
        """Count a pass that ended with a `runner.RunResult`."""
        name = result.collector
        self.passes.labels(collector=name, outcome=result.status if result.status in OUTCOMES else "failed").inc()
        self.inserted.labels(collector=name).inc(max(0, result.inserted))
        self.duplicates.labels(collector=name).inc(max(0, result.duplicates))
        self.rejects.labels(collector=name).inc(max(0, result.rejects))
        self._live.invalidate()

    def track_tape(self, job: Any) -> None:
        """The nightly tape's figures, read from the job at scrape time."""
        from vvv.ops.tape import Gauges

        self.registry.register(Gauges(job))

    def observe_crash(self, collector: str) -> None:
        """A pass that could not even record itself (the database is gone, or a bug)."""
        self.passes.labels(collector=collector, outcome="failed").inc()

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition the scraper asked for (Prometheus text 0.0.4, or OpenMetrics) and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class _Live:
    """Gauges computed at scrape time from the sources; a failing source leaves its gauges out."""

    def __init__(self, names: tuple[str, ...], sources: Sources, clock: Callable[[], float]) -> None:
        self._names = names
        self._sources = sources
        self._clock = clock
        self._lock = threading.Lock()
        self._fresh: Mapping[str, Freshness] = {}
        self._fresh_read_at = float("-inf")
        self._database_up: bool | None = None

    def invalidate(self) -> None:
        """A pass stored rows: the next scrape reads the database again."""
        with self._lock:
            self._fresh_read_at = float("-inf")

    def describe(self) -> list[Metric]:
        return []  # dynamic: nothing for the registry to check names against at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._api()
        yield from self._spool()
        yield from self._service()
        yield from self._freshness()
        yield from _streams(_safe(self._sources.streams, {}))

    def _api(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("vvv_api_requests", "API request attempts by outcome: the HTTP status,"
                                       " or timeout / connection.", labels=["status"])
        for status, count in sorted(_safe(self._sources.responses, {}).items()):
            requests.add_metric([status], count)
        yield requests
        budget = _safe(self._sources.budget, None)
        remaining = getattr(budget, "per_minute_remaining", None)
        used, limit = getattr(budget, "daily_count", None), getattr(budget, "token_limit", None)
        for name, doc, value in (
            ("vvv_api_minute_requests_remaining", "Requests left this minute, as the API last reported.", remaining),
            ("vvv_api_daily_requests", "Requests counted today, as the API last reported.", used),
            ("vvv_api_daily_request_limit", "The token's daily request limit, as the API last reported.", limit),
            ("vvv_api_daily_requests_remaining", "Requests left today (limit minus used).",
             None if used is None or limit is None else max(0, limit - used)),
        ):
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=value)

    def _spool(self) -> Iterator[Metric]:
        usage = _safe(self._sources.spool, None)
        batches = GaugeMetricFamily("vvv_spool_batches", "Batches waiting in the outage spool for the database.")
        size = GaugeMetricFamily("vvv_spool_bytes", "Bytes the outage spool holds on disk.")
        batches.add_metric([], getattr(usage, "batches", 0) or 0)
        size.add_metric([], getattr(usage, "bytes", 0) or 0)
        yield batches
        yield size

    def _service(self) -> Iterator[Metric]:
        active = _safe(self._sources.active, None)
        if active is not None:
            yield GaugeMetricFamily("vvv_active", "1 when this instance holds the active lock and collects,"
                                    " 0 on a standby.", value=int(bool(active)))
        phase = _safe(self._sources.phase, None)
        if phase is not None:
            market = GaugeMetricFamily("vvv_market_phase", "1 for the US equity session phase now (America/New_York):"
                                       " pre, regular, after or closed.", labels=["phase"])
            for name in PHASES:
                market.add_metric([name], int(name == phase))
            yield market
        stale = GaugeMetricFamily("vvv_stale_after_seconds", "The configured stale_after: `vvv status` calls"
                                  " a collector stale when its newest record is older in the regular session.",
                                  labels=["collector"])
        for name in self._names:
            if self._sources.stale_after.get(name) is not None:
                stale.add_metric([name], self._sources.stale_after[name])
        yield stale

    def _freshness(self) -> Iterator[Metric]:
        now = self._clock()
        with self._lock:
            if now - self._fresh_read_at >= FRESHNESS_TTL_S:
                self._fresh_read_at = now
                try:
                    self._fresh = dict(self._sources.freshness())
                    self._database_up = True
                except Exception:  # the last values stay: ages keep growing while the database is away
                    self._database_up = False
            fresh, database_up = self._fresh, self._database_up
        if database_up is not None:
            yield GaugeMetricFamily("vvv_database_up", "1 when the last read of the database for these metrics"
                                    " worked.", value=int(database_up))
        age = GaugeMetricFamily("vvv_newest_record_age_seconds", "Age of the newest stored record.",
                                labels=["collector"])
        success = GaugeMetricFamily("vvv_last_success_timestamp_seconds", "When the last ok pass finished"
                                    " (Unix time).", labels=["collector"])
        for name in self._names:
            entry = fresh.get(name)
            if entry is not None and entry.newest_record_at is not None:
                age.add_metric([name], max(0.0, now - entry.newest_record_at.timestamp()))
            if entry is not None and entry.last_success_at is not None:
                success.add_metric([name], entry.last_success_at.timestamp())
        yield age
        yield success


# Per channel of the socket: (metric, help, stats key), counters then gauges.
_STREAM_COUNTERS = (
    ("vvv_stream_messages", "Socket messages received, per channel.", "messages"),
    ("vvv_stream_rows_inserted", "Rows stored from the socket, new by identity.", "rows"),
    ("vvv_stream_duplicates", "Socket rows already stored (by REST, or sent again).", "duplicates"),
    ("vvv_stream_rejects", "Socket messages that failed parse or validate, kept in vvv.rejects.", "rejects"),
    ("vvv_stream_batches", "Micro-batches stored, one transaction each.", "batches"),
    ("vvv_stream_spooled_batches", "Micro-batches sent to the spool while the database was away.", "spooled"),
    ("vvv_stream_reconnects", "Connections of the socket after the first.", "reconnects"),
    ("vvv_stream_gaps", "Times the channel was not streamed (a drop, a refused join, a restart).", "gaps"),
    ("vvv_stream_gap_fills", "Gaps filled by a pass of the REST twin.", "gap_fills"),
    ("vvv_stream_gap_fill_failures", "Gap fills that failed.", "gap_fill_failures"),
)
_STREAM_GAUGES = (
    ("vvv_stream_lag_seconds", "Now minus the payload's own time of the oldest row of the last batch, at its"
     " commit.", "lag_seconds"),
    ("vvv_stream_joined", "1 while the channel is joined on the socket.", "joined"),
)


def _streams(stats: Mapping[str, Mapping[str, Any]]) -> Iterator[Metric]:
    if not stats:
        return
    for name, help_text, key in _STREAM_COUNTERS:
        family = CounterMetricFamily(name, help_text, labels=["channel"])
        for channel, values in stats.items():
            family.add_metric([channel], float(values.get(key) or 0))
        yield family
    for name, help_text, key in _STREAM_GAUGES:
        family = GaugeMetricFamily(name, help_text, labels=["channel"])
        for channel, values in stats.items():
            if values.get(key) is not None:
                family.add_metric([channel], float(values[key]))
        yield family


def _safe(source: Callable[[], Any], default: Any) -> Any:
    try:
        value = source()
    except Exception:
        return default
    return default if value is None else value
