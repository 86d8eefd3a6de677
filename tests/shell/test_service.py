"""`vvv run`: passes on time in threads of their own, one active instance, clean stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import psycopg

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from tests.faults import wait_for
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.io.http import ApiClient
from vvv.run.service import Service

NEWS = COLLECTORS["news"]
EVERY_SECOND = CollectorConfig(enabled=True, interval=1, extended_interval=1, closed_interval=1, stale_after=None,
                               options=news.Settings())


def _runs(db_url: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT collector, status, instance FROM vvv.runs ORDER BY id").fetchall()


def _as(name: str, **functions) -> object:
    return attrs.evolve(NEWS, spec=attrs.evolve(NEWS.spec, name=name), **functions)


def test_a_failing_or_slow_collector_does_not_delay_the_others(db_url: str, fake_api: FakeApi) -> None:
    def explode(raw, values, extra, partition):
        raise RuntimeError("always broken")

    slept = [0.0]

    def crawl(raw, values, extra, partition):  # one sleep a page at least: items of one page are parsed within far less than this
        if time.monotonic() - slept[0] > 2.5:
            time.sleep(2.5)
            slept[0] = time.monotonic()
        return NEWS.build(raw, values, extra, partition)

    client = ApiClient(base_url=fake_api.url, token=TOKEN, sleep=lambda _: None)
    service = Service(
        url=db_url,
        collectors={"news": (NEWS, EVERY_SECOND), "broken": (_as("broken", build=explode), EVERY_SECOND),
                    "slow": (_as("slow", build=crawl), EVERY_SECOND)},
        client=client,
        statement_timeout_s=10,
        runs_retention_s=86400,
    )
    loop = threading.Thread(target=service.run, kwargs={"handle_signals": False})
    loop.start()
    time.sleep(6)
    service.stop()
    loop.join(timeout=15)
    assert not loop.is_alive()
    state = service.schedule_state()
    assert state["news"]["passes"] >= 4 and state["news"]["failed"] == 0
    assert state["broken"]["passes"] >= 4 and state["broken"]["failed"] == state["broken"]["passes"]
    assert state["slow"]["skipped"] >= 2
    assert all(status != "running" for _, status, _ in _runs(db_url))


def _start_run(env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _fast_config(tmp_path: Path) -> None:
    (tmp_path / "vvv.toml").write_text(
        '[collectors.news]\ninterval = "1s"\nextended_interval = "1s"\nclosed_interval = "1s"\n'
        "page_size = 20\nfirst_run_pages = 50\n"  # the first pass takes the whole feed: every headline is owed
    )


def test_sigterm_stops_run_cleanly_within_ten_seconds(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    _fast_config(tmp_path)
    proc = _start_run(cli_env, tmp_path)
    try:
        # news every second; the other collectors pass once at start, at most: their runs do not count
        assert wait_for(lambda: [c for c, *_ in _runs(db_url)].count("news") >= 3, timeout=30), "no passes recorded"
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=10)
        assert time.monotonic() - started < 10
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr
    assert "SIGTERM received" in stderr and "Traceback" not in stderr
    runs = _runs(db_url)
    assert all(status != "running" for _, status, _ in runs)
    assert {status for _, status, _ in runs} <= {"ok", "partial", "failed"}
    assert sum(status == "ok" for _, status, _ in runs) >= 2


def test_one_collects_the_standby_takes_over_after_kill_9(
    cli_env: dict, db_url: str, fake_api: FakeApi, tmp_path: Path
) -> None:
    _fast_config(tmp_path)
    first = _start_run(cli_env, tmp_path)
    second = None
    try:
        assert wait_for(lambda: len(_runs(db_url)) >= 1, timeout=30)
        second = _start_run(cli_env, tmp_path)
        assert wait_for(lambda: _roles(db_url) == {"active", "standby"}, timeout=30)
        time.sleep(2)
        assert {instance for _, _, instance in _runs(db_url)} == {f"run {_instance_of(db_url, 'active')}"}
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        fake_api.add_news(30)
        killed_at = time.monotonic()
        survivor = f"run {_instance_name(second)}"
        assert wait_for(lambda: any(i == survivor and s == "ok" for _, s, i in _runs(db_url)), timeout=30)
        assert time.monotonic() - killed_at < 30
        assert wait_for(lambda: _stored(db_url) == {h["headline"] for h in fake_api.news}, timeout=15)
        assert wait_for(lambda: all(s != "running" for _, s, i in _runs(db_url) if i != survivor), timeout=15)
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _roles(db_url: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT role FROM vvv.instances WHERE heartbeat_at > now() - interval '30s'")}


def _instance_of(db_url: str, role: str) -> str:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT name FROM vvv.instances WHERE role = %s", (role,)).fetchone()[0]


def _instance_name(proc: subprocess.Popen) -> str:
    return f"{os.uname().nodename}:{proc.pid}"


def _stored(db_url: str) -> set[str]:
    with psycopg.connect(db_url) as conn:
        headlines = [r[0] for r in conn.execute("SELECT headline FROM trading.news_headlines")]
    assert len(headlines) == len(set(headlines)), "duplicate headlines stored"
    return set(headlines)


def test_no_pass_starts_once_the_daily_budget_less_the_reserve_is_spent(db_url: str, fake_api: FakeApi) -> None:
    fake_api.daily_limit = 5
    client = ApiClient(base_url=fake_api.url, token=TOKEN, sleep=lambda _: None, daily_reserve=2)
    service = Service(url=db_url, collectors={"news": (NEWS, EVERY_SECOND)}, client=client,
                      statement_timeout_s=10, runs_retention_s=86400)
    loop = threading.Thread(target=service.run, kwargs={"handle_signals": False})
    loop.start()
    assert wait_for(lambda: service.paused_until is not None, timeout=20)
    time.sleep(3)  # three more due times pass with no request
    service.stop()
    loop.join(timeout=15)
    assert len(fake_api.requests) == 3  # 5 a day, 2 kept in reserve
    assert service.paused_until == client.paused_until()
    assert service.paused_until.hour == 0 and service.paused_until > client.budget_reported_at
