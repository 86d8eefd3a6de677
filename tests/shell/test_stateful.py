"""The promise, as a state machine: whatever fails, each table ends with exactly what the API served.

Hypothesis interleaves new headlines, dark pool prints and flow alerts on the fake API with
passes and faults: 429 bursts, 5xx, slow and cut bodies, the database dropping mid-pass
(a proxy that cuts every connection) and coming back, and the process dying at any step of a
pass (before or after a fetch, a store's commit or a spool write, including a spool file cut
short). After the faults stop and a few clean passes, every valid item is stored once and
every malformed one is in vvv.rejects.

`HYPOTHESIS_PROFILE=dev ./scripts/test -k stateful` runs it longer.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.conftest import TOKEN
from tests.faults import DatabaseProxy, dead_pid
from vvv import store
from vvv.collectors import COLLECTORS, darkpool, news, options_flow
from vvv.collectors.convert import parse_timestamp
from vvv.config import CollectorConfig
from vvv.fake_api import FakeApi
from vvv.http import ApiClient
from vvv.runner import run_once
from vvv.spool import Spool, encode

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # a Tuesday, 11:00 in New York: room for hours of prints
LATER = NOW + timedelta(hours=1)
TICKER = "SPY"
SETTINGS = {
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


FAULTS = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("api errors"), st.sampled_from([429, 500, 502, 503]), st.integers(1, 4)),
    st.tuples(st.just("cut bodies"), st.integers(1, 3)),
    st.tuples(st.just("slow"), st.integers(1, 3)),
    st.tuples(st.just("database drops"), st.integers(1, 4)),
    st.tuples(st.just("dies"), st.sampled_from(["fetch", "after fetch", "store", "after store", "spool", "spool cut",
                                                 "after spool"]), st.integers(1, 4)),
)


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
        self.api = FakeApi(token=TOKEN, seed=9, now=NOW, news_count=40, darkpool_count=300, flow_count=0).start()
        self.api.malformed_items(every=23)
        self.client = ApiClient(base_url=self.api.url, token=TOKEN, max_retries=2, read_timeout=2,
                                sleep=lambda _: None)
        self.spool = Spool(self.spool_dir, max_bytes=2**26)
        self.crash: tuple[str, int] | None = None
        self.now = LATER

    @initialize()
    def start(self) -> None:
        """A first clean pass each: how much history a first pass takes is a setting, not the promise."""
        self.api.add_flow(30)
        for name in SETTINGS:
            assert self._pass(name) == "ok"

    @rule()
    def database_comes_back(self) -> None:
        self.proxy.up()

    @rule(headlines=st.integers(0, 80), prints=st.integers(0, 600), alerts=st.integers(0, 250),
          name=st.sampled_from(sorted(SETTINGS)), fault=FAULTS)
    def a_pass(self, headlines: int, prints: int, alerts: int, name: str, fault: tuple) -> None:
        """The API gains items, then a pass runs with a fault armed (it may outlive the pass, as real ones do)."""
        self.api.add_news(headlines)
        self.api.add_darkpool(TICKER, prints)
        self.api.add_flow(alerts)
        kind, *args = fault
        if kind == "api errors":
            status, times = args
            self.api.fail_next(status, times=times, headers={"Retry-After": "0"} if status == 429 else None)
        elif kind == "cut bodies":
            self.api.truncate_next(times=args[0])
        elif kind == "slow":
            self.api.delay_next(0.05, times=args[0])
        elif kind == "database drops":
            self.api.on_request(args[0], self.proxy.down)
        elif kind == "dies":
            self.crash = tuple(args)
        self._pass(name)

    def _pass(self, name: str) -> str | None:
        """One pass as `vvv run` starts it; returns its status, None when it could not start or died."""
        try:
            conn = store.connect(self.proxy.url, statement_timeout_s=10, connect_timeout_s=2)
        except store.DatabaseUnavailable:
            return None
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
        self.now = max(self.now, self._newest() + timedelta(minutes=5))
        try:
            result = run_once(COLLECTORS[name], _config(name), conn=conn, client=self.client, clock=lambda: self.now,
                              spool=self.spool, instance="stateful")
        except _Killed:
            self.crash = None
            return None
        else:
            return result.status
        finally:
            store.store_batch = real_store
            del self.spool.append, self.client.get_json
            conn.close()

    def _newest(self) -> datetime:
        """The newest item the API holds: vvv's clock is never behind it, as a real clock never is."""
        heads = [self.api.news[:1], self.api.darkpool(TICKER)[:1], self.api.flow_alerts()[:1]]
        times = [item.get("created_at") or item.get("executed_at") for head in heads for item in head]
        return max(parse_timestamp(t) for t in times)

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
        self.crash = None
        self.proxy.up()
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
                         if collector.validate(r, self.now) is None}
                key = "tracking_id" if name == "darkpool" else "id"
                stored = [row[0] for row in conn.execute(f"SELECT {key} FROM {table}")]
                assert len(stored) == len(set(stored)), f"{name}: duplicates stored"
                assert set(stored) == valid, f"{name}: {len(valid - set(stored))} missing, {len(set(stored) - valid)} extra"
                kept = {row[0] for row in conn.execute("SELECT raw FROM vvv.rejects WHERE collector = %s", (name,))}
                missing = [r.raw for r in rejects if json.dumps(r.raw, default=str) not in kept]
                assert not missing, f"{name}: malformed items not in vvv.rejects: {missing[:2]}"


def test_whatever_fails_each_table_ends_with_exactly_what_the_api_served(db_url: str, tmp_path: Path) -> None:
    proxy = DatabaseProxy(db_url)
    Outages.db_url, Outages.proxy, Outages.spool_dir = db_url, proxy, tmp_path / "spool"
    try:
        run_state_machine_as_test(Outages, settings=settings(
            max_examples=100 if DEV else 12, stateful_step_count=40 if DEV else 14, deadline=None,
        ))
    finally:
        proxy.close()

