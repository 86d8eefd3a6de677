"""A run is 'running' only while a live process holds it: the next pass closes a dead one's run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import TOKEN, run_vvv
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

NEWS = COLLECTORS["news"]
CONFIG = CollectorConfig(enabled=True, interval=120, extended_interval=300, closed_interval=1800, stale_after=None,
                         options=news.Settings(page_size=50, first_run_pages=5))


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[ApiClient]:
    api = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=2, sleep=lambda _: None)
    yield api
    api.close()


def _runs(url: str) -> dict[int, tuple[str, str | None]]:
    with psycopg.connect(url) as conn:
        return {id_: (status, error) for id_, status, error
                in conn.execute("SELECT id, status, error FROM vvv.runs ORDER BY id")}


def test_a_vvv_once_killed_mid_pass_has_its_run_closed_by_the_next_pass(db_url, cli_env, fake_api, tmp_path) -> None:
    started: list[subprocess.Popen] = []
    fake_api.on_request(2, lambda: os.kill(started[0].pid, signal.SIGKILL))
    victim = subprocess.Popen([sys.executable, "-m", "vvv", "once", "--collector", "news"], env=cli_env,
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(victim)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    (killed,) = _runs(db_url)
    assert _runs(db_url)[killed][0] == "running"
    after = run_vvv("once", "--collector", "news", env=cli_env, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    runs = _runs(db_url)
    assert [status for status, _ in runs.values()] == ["failed", "ok"]
    assert "ended without finishing it (killed or crashed)" in runs[killed][1]


def test_a_run_whose_connection_is_gone_is_closed_and_a_live_one_is_left_alone(db_url, client) -> None:
    dead = store.connect(db_url, statement_timeout_s=10)
    dead_run = store.start_run(dead, "news")
    dead.close()  # the process ended without finishing its run
    live = store.connect(db_url, statement_timeout_s=10)
    try:
        live_run = store.start_run(live, "news")  # a pass of another process, still going
        other = store.connect(db_url, statement_timeout_s=10)
        other_collector = store.start_run(other, "darkpool")
        other.close()
        conn = store.connect(db_url, statement_timeout_s=10)
        try:
            result = run_once(NEWS, CONFIG, conn=conn, client=client)
        finally:
            conn.close()
        runs = _runs(db_url)
        assert runs[dead_run][0] == "failed" and "killed or crashed" in runs[dead_run][1]
        assert runs[live_run] == ("running", None)
        assert runs[other_collector][0] == "running"  # another collector's pass closes its own
        assert runs[result.run_id][0] == "ok"
        store.finish_run(live, live_run, status="ok", requests=0, error=None, api_budget=None)
    finally:
        live.close()
