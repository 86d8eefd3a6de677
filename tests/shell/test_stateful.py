"""The promise, as a state machine: whatever fails, each table ends with exactly what the API served.

Hypothesis interleaves new headlines, dark pool prints and flow alerts on the fake API with
passes and faults: 429 bursts, 5xx, slow and cut bodies, 200s that are not pages, the
database dropping mid-pass (a proxy that cuts every connection) or away before a pass starts,
the spool's disk full while the database is away, bursts of prints no parser can read, prints
restated by the provider (canceled, repriced), first runs cut short, and the process dying at
any step of a pass (before or after a fetch, a store's commit or a spool write, including a
spool file cut short). After the faults stop and a few clean passes, every valid item is
stored once and at its last version (the versions it replaced in vvv.revisions), and every
malformed one is in vvv.rejects once.

`HYPOTHESIS_PROFILE=dev ./scripts/test -k stateful` runs it longer.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import types
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from tests.faults import DatabaseProxy, dead_pid
from vvv.collectors import COLLECTORS, darkpool, news, options_flow
from vvv.config import CollectorConfig
from vvv.core.convert import parse_timestamp
from vvv.io import spool as spool_module
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.io.spool import Spool, encode
from vvv.run.runner import run_offline, run_once

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York: room for hours of prints
LATER = NOW + timedelta(hours=1)
TICKER = "SPY"
SETTINGS = {
    # The fake starts with 140 headlines, three pages: a first run cut short owes pages it must
    # come back for. Its depth (50 pages) is a setting, not the promise, so it covers them all.
    "news": news.Settings(page_size=50, max_pages=50, first_run_pages=50),
    "darkpool": darkpool.Settings(tickers=(TICKER,)),
    "options_flow": options_flow.Settings(first_run_hours=3),
}
TABLES = {"news": "trading.news_headlines", "darkpool": "trading.darkpool_trades",
          "options_flow": "trading.options_flow_alerts"}
FEEDS = {"news": ("news", ""), "darkpool": ("darkpool", TICKER), "options_flow": ("flow", "")}
DEV = os.environ.get("HYPOTHESIS_PROFILE") == "dev"


class _Killed(BaseException):
    """The process died here: nothing after this point of the pass happens."""


NOT_PAGES = ['{"data": null}', '{"data": "oops"}', "[1,2,3]", "null", '{"error": "later"}']
FAULTS = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("api errors"), st.sampled_from([429, 500, 502, 503]), st.integers(1, 4)),
    st.tuples(st.just("cut bodies"), st.integers(1, 3)),
    st.tuples(st.just("slow"), st.integers(1, 3)),
    st.tuples(st.just("not a page"), st.sampled_from(NOT_PAGES), st.integers(1, 4)),
    st.tuples(st.just("database drops"), st.integers(1, 4)),
    st.tuples(st.just("database drops, disk full"), st.integers(1, 4)),
    st.just(("database away",)),
    st.tuples(st.just("dies"), st.sampled_from(["fetch", "after fetch", "store", "after store", "spool", "spool cut",
                                                 "after spool"]), st.integers(1, 4)),
)


def _full_disk_os() -> types.SimpleNamespace:
    """The `os` the spool sees while its disk is full: every fsync fails with ENOSPC."""
    def fsync(_: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    return types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os)
                                    if not name.startswith("__") and name != "fsync"},
                                 fsync=fsync)


def _config(name: str) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=60, closed_interval=60, stale_after=None,
                           options=SETTINGS[name])


class Outages(RuleBasedStateMachine):
    db_url: str
    proxy: DatabaseProxy
    spool_dir: Path

    def __init__(self) -> None:
        super().__init__()
        with psycopg.connect(self.db_url) as conn:
            conn.execute("TRUNCATE trading.news_headlines, trading.darkpool_trades, trading.options_flow_alerts,"
                         " vvv.rejects, vvv.cursors, vvv.runs")
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.proxy.up()
        self.api = FakeApi(token=TOKEN, seed=9, now=NOW, news_count=140, darkpool_count=300, flow_count=0).start()
        self.api.malformed_items(every=23)
        self.client = ApiClient(base_url=self.api.url, token=TOKEN, max_retries=2, read_timeout=2,
                                sleep=lambda _: None)
        self.spool = Spool(self.spool_dir, max_bytes=2**26)
        self.crash: tuple[str, int] | None = None
        self.disk_full = False
        self.now = LATER
        self.restated: set[int] = set()
        self.unreadable: dict[int, set[str]] = {}  # tracking_id -> the unreadable forms served

    @initialize(faults=st.tuples(FAULTS, FAULTS, FAULTS))
    def start(self, faults: tuple) -> None:
        """A first pass each, with a fault armed: a first run cut short must come back for its depth."""
        self.api.add_flow(30)
        for name, fault in zip(sorted(SETTINGS), faults):
            self._arm(fault)
            self._pass(name)

    @rule()
    def database_comes_back(self) -> None:
        self.proxy.up()

    @rule(prints=st.integers(1, 700))
    def an_unreadable_burst(self, prints: int) -> None:
        """The API serves a burst of prints whose `executed_at` no parser can read.

        What vvv read of it is kept in vvv.rejects as served; once the provider mends a print,
        polling sees the mended version only where it still reads (above the lookback floor), like
        any restatement, so a mended print is owed as a row or as its unreadable reject.
        """
        added = {item["tracking_id"] for item in self.api.unreadable_darkpool(TICKER, prints)}
        for tracking_id, item in self._served_prints():  # a malformed form may lack its tracking_id
            if tracking_id in added:
                self.unreadable.setdefault(tracking_id, set()).add(json.dumps(item, default=str))

    @rule(every=st.sampled_from([1, 2, 3]))
    def the_api_mends_the_burst(self, every: int) -> None:
        """Some (or all) of the unreadable prints are served again with their time."""
        self.api.mend_darkpool(TICKER, every=every)

    @rule(count=st.integers(1, 5), data=st.data())
    def prints_restated(self, count: int, data: st.DataObject) -> None:
        """The provider cancels or reprices prints vvv has stored, then a darkpool pass runs.

        Polling sees a restatement only while the print is inside the lookback window, so the
        prints are taken among those within it, and the pass runs before newer prints push them
        out; the rest of the machine's faults are cleared for it.
        """
        self.api.reset_faults()
        self.crash, self.disk_full = None, False
        self.proxy.up()
        if self.spool.count() or self._unreadable_served():
            return  # a pass would store the spool or halt at the burst before it reaches the window
        with psycopg.connect(self.db_url) as conn:
            cursor = store.load_cursor(conn, darkpool.SPEC, TICKER)
            if cursor is None or cursor.newest is None or cursor.cut_at is not None:
                return  # a cut sweep does not read the band above its cut again: see TimeSweep.unread_lookback
            floor = cursor.newest - timedelta(seconds=SETTINGS["darkpool"].lookback_seconds - 30)
            stored = [row[0] for row in conn.execute(
                "SELECT tracking_id FROM trading.darkpool_trades WHERE executed_at >= %s AND executed_at <= %s"
                " ORDER BY tracking_id", (floor, cursor.newest))]
        if not stored:
            return
        for tracking_id in data.draw(st.lists(st.sampled_from(stored), min_size=1, max_size=count, unique=True)):
            version = next(p for p in self.api.darkpool(TICKER) if p.get("tracking_id") == tracking_id)
            self.api.restate_print(TICKER, tracking_id, canceled=not version.get("canceled"),
                                   price=str(Decimal(str(version["price"])) + Decimal("0.01")))
            self.restated.add(tracking_id)
        assert self._pass("darkpool") == "ok"

    @rule(headlines=st.integers(0, 80), prints=st.integers(0, 600), alerts=st.integers(0, 250),
          name=st.sampled_from(sorted(SETTINGS)), fault=FAULTS)
    def a_pass(self, headlines: int, prints: int, alerts: int, name: str, fault: tuple) -> None:
        """The API gains items, then a pass runs with a fault armed (it may outlive the pass, as real ones do)."""
        self.api.add_news(headlines)
        self.api.add_darkpool(TICKER, prints)
        self.api.add_flow(alerts)
        self._arm(fault)
        self._pass(name)

    def _arm(self, fault: tuple) -> None:
        kind, *args = fault
        self.disk_full = False
        if kind == "api errors":
            status, times = args
            self.api.fail_next(status, times=times, headers={"Retry-After": "0"} if status == 429 else None)
        elif kind == "cut bodies":
            self.api.truncate_next(times=args[0])
        elif kind == "slow":
            self.api.delay_next(0.05, times=args[0])
        elif kind == "not a page":
            body, times = args
            self.api.fail_next(200, times=times, body=body)
        elif kind == "database drops":
            self.api.on_request(args[0], self.proxy.down)
        elif kind == "database drops, disk full":
            self.api.on_request(args[0], self.proxy.down)
            self.disk_full = True
        elif kind == "database away":
            self.proxy.down()
        elif kind == "dies":
            self.crash = tuple(args)

    def _pass(self, name: str) -> str | None:
        """One pass as `vvv run` starts it; returns its status, None when it died.

        With the database away, the pass collects into the spool from the cursors kept beside it.
        """
        try:
            conn = store.connect(self.proxy.url, statement_timeout_s=10, connect_timeout_s=2)
        except store.DatabaseUnavailable as away:
            conn, reason = None, str(away)
        calls: dict[str, int] = {}
        real_store, real_append, real_get = store.store_batch, self.spool.append, self.client.get_json

        def armed(step: str) -> bool:
            calls[step] = calls.get(step, 0) + 1
            return self.crash is not None and self.crash[0] == step and self.crash[1] == calls[step]

        def store_batch(*args, **kwargs):
            if armed("store"):
                raise _Killed
            result = real_store(*args, **kwargs)
            if armed("after store"):
                raise _Killed
            return result

        def append(batch):
            if armed("spool"):
                raise _Killed
            if armed("spool cut"):
                data = b"".join(encode(batch))
                self.spool.directory.mkdir(parents=True, exist_ok=True)
                (self.spool.directory / f"{datetime.now(UTC).timestamp() * 1e9:020.0f}-{dead_pid()}-"
                                        f"{batch.collector}.spool.tmp").write_bytes(data[: len(data) * 2 // 3])
                raise _Killed
            path = real_append(batch)
            if armed("after spool"):
                raise _Killed
            return path

        def get_json(request):
            if armed("fetch"):
                raise _Killed
            payload = real_get(request)
            if armed("after fetch"):
                raise _Killed
            return payload

        store.store_batch, self.spool.append, self.client.get_json = store_batch, append, get_json
        real_os = spool_module.os
        if self.disk_full:
            spool_module.os = _full_disk_os()
        self.now = max(self.now, self._newest() + timedelta(minutes=5))
        try:
            if conn is None:
                result = run_offline(COLLECTORS[name], _config(name), client=self.client, spool=self.spool,
                                     reason=reason, clock=lambda: self.now, instance="stateful")
            else:
                result = run_once(COLLECTORS[name], _config(name), conn=conn, client=self.client,
                                  clock=lambda: self.now, spool=self.spool, instance="stateful")
        except _Killed:
            self.crash = None
            return None
        else:
            return result.status
        finally:
            store.store_batch, spool_module.os = real_store, real_os
            del self.spool.append, self.client.get_json
            if conn is not None:
                conn.close()

    def _unreadable_served(self) -> bool:
        return any(not str(p.get("executed_at"))[:4].isdigit() for p in self.api.darkpool(TICKER))

    def _newest(self) -> datetime:
        """The newest item the API holds: vvv's clock is never behind it, as a real clock never is."""
        heads = [self.api.news, self.api.darkpool(TICKER), self.api.flow_alerts()]
        return max(self._first_time(items) for items in heads if items)

    @staticmethod
    def _first_time(items: list[dict]) -> datetime:
        """The time of the newest item that has a readable one (a burst of unreadable prints may top the day)."""
        for item in items:
            try:
                return parse_timestamp(item.get("created_at") or item.get("executed_at"))
            except (TypeError, ValueError):
                continue
        return NOW

    def teardown(self) -> None:
        try:
            self._settle()
            self._check()
        finally:
            self.client.close()
            self.api.stop()

    def _settle(self) -> None:
        """Faults stop; clean passes until each collector has nothing left to catch up."""
        self.api.reset_faults()
        self.crash, self.disk_full = None, False
        self.proxy.up()
        self.api.mend_darkpool(TICKER)  # the provider fixes its burst: what lies below must then be stored
        for name in SETTINGS:
            statuses = [self._pass(name) for _ in range(3)]
            assert statuses[-1] == "ok", f"{name}: a clean pass after the faults did not succeed: {statuses}"
        assert self.spool.count() == 0

    def _check(self) -> None:
        with psycopg.connect(self.db_url) as conn:
            for name, table in TABLES.items():
                collector = COLLECTORS[name]
                records, rejects = collector.parse({"data": self.api.served(*FEEDS[name])})
                valid = {r.id if name != "darkpool" else r.tracking_id for r in records
                         if (collector.validate(r, self.now) or collector.spec.storable(r, self.now)) is None}
                key = "tracking_id" if name == "darkpool" else "id"
                stored = [row[0] for row in conn.execute(f"SELECT {key} FROM {table}")]
                kept = [row[0] for row in conn.execute("SELECT raw FROM vvv.rejects WHERE collector = %s", (name,))]
                assert len(stored) == len(set(stored)), f"{name}: duplicates stored"
                if name == "darkpool":  # a print read while unreadable, and mended since, is owed as its reject
                    valid -= {key for key in valid - set(stored) if self.unreadable.get(key, set()) & set(kept)}
                assert set(stored) == valid, f"{name}: {len(valid - set(stored))} missing, {len(set(stored) - valid)} extra"
                assert len(kept) == len(set(kept)), f"{name}: a reject kept twice"
                missing = [r.raw for r in rejects if json.dumps(r.raw, default=str) not in set(kept)
                           and not (name == "darkpool" and self._kept_unreadable(r.raw, kept))]
                assert not missing, f"{name}: malformed items not in vvv.rejects: {missing[:2]}"
            self._check_last_versions(conn)

    def _served_prints(self) -> list[tuple[int, object]]:
        """Each print's tracking id with the form the API serves it in (malformed or not)."""
        return [(print_["tracking_id"], served) for print_, served in
                zip(self.api.darkpool(TICKER), self.api.served("darkpool", TICKER), strict=True)]

    def _kept_unreadable(self, raw: object, kept: list[str]) -> bool:
        """A malformed print read while unreadable, and mended since, is owed as the reject of that form."""
        served = json.dumps(raw, default=str)
        ids = {tracking_id for tracking_id, item in self._served_prints() if json.dumps(item, default=str) == served}
        return any(self.unreadable.get(tracking_id, set()) & set(kept) for tracking_id in ids)

    def _check_last_versions(self, conn: psycopg.Connection) -> None:
        """Every print is stored as the API serves it now; each restated one has its old version kept."""
        records, _ = darkpool.COLLECTOR.parse({"data": self.api.served("darkpool", TICKER)})
        served = {r.tracking_id: (r.price, r.canceled) for r in records
                  if (darkpool.validate(r, self.now) or darkpool.SPEC.storable(r, self.now)) is None}
        stored = {row[0]: (row[1], row[2]) for row in conn.execute(
            "SELECT tracking_id, price, canceled FROM trading.darkpool_trades")}
        stale = [key for key, version in served.items() if key in stored and stored[key] != version]
        assert not stale, f"darkpool: {len(stale)} prints not at the API's last version, e.g. {stale[:3]}"
        revised = {int(row[0]) for row in conn.execute(
            "SELECT DISTINCT key FROM vvv.revisions WHERE collector = 'darkpool'")}
        assert self.restated <= revised, f"darkpool: restated prints without their old version: {self.restated - revised}"


def test_whatever_fails_each_table_ends_with_exactly_what_the_api_served(db_url: str, tmp_path: Path) -> None:
    proxy = DatabaseProxy(db_url)
    Outages.db_url, Outages.proxy, Outages.spool_dir = db_url, proxy, tmp_path / "spool"
    try:
        run_state_machine_as_test(Outages, settings=settings(
            max_examples=100 if DEV else 12, stateful_step_count=40 if DEV else 14, deadline=None,
        ))
    finally:
        proxy.close()

