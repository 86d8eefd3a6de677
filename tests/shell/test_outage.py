"""The database goes away during a pass: what was fetched waits in the spool, then lands once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import psycopg
import pytest

from tests.conftest import TOKEN, run_vvv
from tests.fakes.api import FakeApi
from tests.faults import DatabaseProxy, wait_for
from vvv.collectors import COLLECTORS, darkpool, news
from vvv.config import CollectorConfig
from vvv.core.paging import PageCursor
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.io.spool import Spool
from vvv.run.runner import RunResult, run_once

NEWS = COLLECTORS["news"]
CONFIG = CollectorConfig(enabled=True, interval=120, extended_interval=300, closed_interval=1800, stale_after=None,
                         options=news.Settings(page_size=50, first_run_pages=5))


@pytest.fixture
def proxy(db_url: str) -> Iterator[DatabaseProxy]:
    cut = DatabaseProxy(db_url)
    yield cut
    cut.close()


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[ApiClient]:
    api = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=2, sleep=lambda _: None)
    yield api
    api.close()


def _pass(url: str, client: ApiClient, spool: Spool) -> RunResult:
    conn = store.connect(url, statement_timeout_s=10, connect_timeout_s=2)
    try:
        return run_once(NEWS, CONFIG, conn=conn, client=client, spool=spool)
    finally:
        conn.close()


def _headlines(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT headline FROM trading.news_headlines")]


def _run_row(url: str, run_id: int) -> dict:
    with psycopg.connect(url) as conn:
        cur = conn.execute("SELECT * FROM vvv.runs WHERE id = %s", (run_id,))
        return dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))


def test_a_database_lost_mid_pass_sends_the_rest_to_the_spool_and_the_next_pass_stores_it_once(
    db_url, proxy, client, fake_api, tmp_path
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    fake_api.on_request(3, proxy.down)  # the server vanishes while page 2 is being fetched
    cut = _pass(proxy.url, client, spool)
    assert cut.status == "spooled"
    assert cut.spooled >= 3 and "the rest of the pass goes to the spool" in cut.error
    assert cut.requests == 5  # the pass went on fetching: nothing it fetched is lost
    assert spool.count("news") == cut.spooled

    proxy.up()
    after = _pass(proxy.url, client, spool)
    assert after.status == "ok", after.error
    assert spool.count() == 0
    headlines = _headlines(db_url)
    assert sorted(headlines) == sorted(item["headline"] for item in fake_api.news)
    row = _run_row(db_url, cut.run_id)
    assert (row["status"], row["spooled"]) == ("spooled", cut.spooled)
    assert row["inserted"] + _run_row(db_url, after.run_id)["inserted"] <= 250


def test_new_data_waits_until_the_spool_is_stored(db_url, proxy, client, fake_api, tmp_path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    fake_api.on_request(1, proxy.down)
    _pass(proxy.url, client, spool)
    proxy.up()
    fake_api.add_news(30)
    _pass(proxy.url, client, spool)
    assert spool.count() == 0
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def test_a_full_spool_stops_fetching_and_what_was_not_kept_is_fetched_later(
    db_url, proxy, client, fake_api, tmp_path
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=40_000)  # room for a page or two
    _pass(proxy.url, client, spool)
    fake_api.add_news(230)
    fake_api.on_request(1, proxy.down)
    full = _pass(proxy.url, client, spool)
    assert "the spool is full" in full.error
    assert 1 <= full.spooled < full.requests < 5
    proxy.up()
    _pass(proxy.url, client, spool)
    assert spool.count() == 0
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def test_status_shows_the_spool_while_the_database_is_down(db_url, proxy, cli_env, fake_api, tmp_path) -> None:
    env = {**cli_env, "VVV_DATABASE_URL": proxy.url}
    fake_api.on_request(2, proxy.down)
    once = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert once.returncode == 1
    assert "batches spooled to disk until the database is back" in once.stdout
    down = run_vvv("status", "--json", env=env, cwd=tmp_path)
    assert down.returncode == 1
    report = json.loads(down.stdout)
    assert report["spool"]["batches"] >= 1
    assert "cannot connect to the database" in report["database_error"]
    assert any("wait in the spool" in problem for problem in report["problems"])
    text = run_vvv("status", env=env, cwd=tmp_path)
    assert "spool: " in text.stdout and "wait in the spool" in text.stdout

    proxy.up()
    again = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    up = json.loads(run_vvv("status", "--json", env=env, cwd=tmp_path).stdout)
    assert up["spool"]["batches"] == 0
    assert up["collectors"]["news"]["last_run"]["status"] == "ok"
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def test_a_real_postgresql_stopped_mid_pass_and_restarted_loses_nothing(fake_api, tmp_path) -> None:
    """The embedded server itself is stopped during `vvv once`; the next `vvv once` starts it again."""
    from vvv.io import embedded

    data = tmp_path / "data"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VVV_DATA_DIR": str(data),
           "VVV_UW_BASE_URL": fake_api.url, "VVV_UW_TOKEN": TOKEN}
    (tmp_path / "vvv.toml").write_text(
        "[collectors.news]\npage_size = 50\nfirst_run_pages = 5\n", encoding="utf-8")
    embedded.start(data)

    def stop_postgres() -> None:  # a fast shutdown, as `systemctl stop postgresql` does
        pid_file = data / "pg" / "postmaster.pid"
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        deadline = time.monotonic() + 30
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    fake_api.on_request(3, stop_postgres)
    try:
        first = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path, timeout=120)
        assert first.returncode == 1
        assert "batches spooled to disk until the database is back" in first.stdout, first.stderr
        second = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path, timeout=120)
        assert second.returncode == 0, second.stderr
        url = embedded.start(data)
        assert sorted(_headlines(url)) == sorted(item["headline"] for item in fake_api.news)
        assert not list((data / "spool").glob("*.spool"))
    finally:  # this test's server, whoever started it last
        if (data / "pg" / "postmaster.pid").exists():
            stop_postgres()


def _runs(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT status, spooled FROM vvv.runs WHERE collector = 'news' ORDER BY id").fetchall()


def test_a_run_with_the_database_down_for_its_middle_third_loses_nothing(
    db_url, proxy, cli_env, fake_api, tmp_path
) -> None:
    import subprocess
    import sys

    (tmp_path / "vvv.toml").write_text(
        '[collectors.news]\ninterval = "1s"\nextended_interval = "1s"\nclosed_interval = "1s"\n'
        + "".join(f"[collectors.{name}]\nenabled = false\n" for name in COLLECTORS if name != "news"),
        encoding="utf-8")
    env = {**cli_env, "VVV_DATABASE_URL": proxy.url}
    run = subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # First third: collecting as usual.
        for _ in range(3):
            fake_api.add_news(7)
            count = len(_runs(db_url))
            assert wait_for(lambda: len(_runs(db_url)) > count + 1, timeout=30)
        # Middle third: the database goes away during a pass that has new headlines to store.
        fake_api.on_request(1, proxy.down)
        fake_api.add_news(40)
        assert wait_for(lambda: not proxy.is_up and (tmp_path / "data" / "spool").is_dir()
                         and any((tmp_path / "data" / "spool").glob("*.spool")), timeout=30)
        fake_api.add_news(11)
        down = run_vvv("status", "--json", env=env, cwd=tmp_path)
        report = json.loads(down.stdout)
        assert down.returncode == 1 and report["spool"]["batches"] >= 1, down.stdout + down.stderr
        time.sleep(3)
        # Last third: it is back; the spool is stored first, then the rest is caught up.
        proxy.up()
        fake_api.add_news(5)
        assert wait_for(lambda: any(status == "spooled" for status, _ in _runs(db_url))
                         and not any((tmp_path / "data" / "spool").glob("*.spool")), timeout=60)
        count = len(_runs(db_url))
        assert wait_for(lambda: len(_runs(db_url)) > count + 2, timeout=30)
    finally:
        run.terminate()
        run.wait(timeout=15)
    stderr = run.stderr.read()
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr
    headlines = _headlines(db_url)
    assert len(headlines) == len(set(headlines))
    assert sorted(headlines) == sorted(item["headline"] for item in fake_api.news)


@pytest.mark.parametrize("at_request", [1, 2, 3])
def test_kill_9_at_any_point_of_a_pass_then_another_pass_loses_nothing(
    db_url, cli_env, fake_api, tmp_path, at_request: int
) -> None:
    import subprocess
    import sys

    assert run_vvv("once", "--collector", "news", env=cli_env, cwd=tmp_path).returncode == 0
    fake_api.add_news(260)  # three pages of 100 to catch up
    started: list[subprocess.Popen] = []
    fake_api.on_request(at_request, lambda: os.kill(started[0].pid, signal.SIGKILL))
    victim = subprocess.Popen([sys.executable, "-m", "vvv", "once", "--collector", "news"], env=cli_env,
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(victim)  # long before its first request: the interpreter is still starting
    assert victim.wait(timeout=60) == -signal.SIGKILL
    after = run_vvv("once", "--collector", "news", env=cli_env, cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    headlines = _headlines(db_url)
    assert len(headlines) == len(set(headlines))
    assert sorted(headlines) == sorted(item["headline"] for item in fake_api.news)


def test_a_database_lost_while_no_page_was_stored_still_ends_the_pass_with_its_result(
    db_url, proxy, client, fake_api, tmp_path
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    fake_api.fail_next(500, times=3)  # every attempt at the first page fails...
    fake_api.on_request(2, proxy.down)  # ...and the database goes away meanwhile
    result = _pass(proxy.url, client, spool)
    assert result.status == "failed" and "HTTP 500" in result.error
    assert spool.count() == 0
    proxy.up()
    assert _pass(proxy.url, client, spool).status == "ok"
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def _spooled(directory) -> set[str]:
    from vvv.io.spool import decode

    found = set()
    for path in directory.glob("*.spool"):
        batch, _ = decode(path.read_bytes())
        found.update(item["headline"] for item in batch.payload.get("data", []))
    return found


def _news_every_second(cli_env: dict, proxy: DatabaseProxy, tmp_path) -> tuple[dict, object]:
    """`vvv run` of news alone, a pass a second, through the proxy: its environment and spool directory."""
    (tmp_path / "vvv.toml").write_text(
        '[collectors.news]\ninterval = "1s"\nextended_interval = "1s"\nclosed_interval = "1s"\n'
        + "".join(f"[collectors.{name}]\nenabled = false\n" for name in COLLECTORS if name != "news"),
        encoding="utf-8")
    return {**cli_env, "VVV_DATABASE_URL": proxy.url}, tmp_path / "data" / "spool"


def test_passes_that_start_with_the_database_away_collect_into_the_spool_and_lose_nothing(
    db_url, proxy, cli_env, fake_api, tmp_path
) -> None:
    """What the API serves only while the database is away ends up stored once, with the cursor where it belongs."""
    env, spool_dir = _news_every_second(cli_env, proxy, tmp_path)
    served = {item["headline"] for item in fake_api.news}
    run = subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: any(status == "ok" for status, _ in _runs(db_url)), timeout=60)
        proxy.down()  # between passes or during one: from here on every pass starts without a database
        count = len(list(spool_dir.glob("*.spool")))
        for burst in (12, 9):
            fresh = {item["headline"] for item in fake_api.add_news(burst)}
            served |= fresh
            assert wait_for(lambda: fresh <= _spooled(spool_dir), timeout=30), "nothing spooled without the database"
            fake_api.withdraw_news(fresh)  # served only while the database was away
        assert len(list(spool_dir.glob("*.spool"))) > count
        down = run_vvv("status", "--json", env=env, cwd=tmp_path)
        report = json.loads(down.stdout)
        assert down.returncode == 1
        assert any("cannot connect to the database" in problem for problem in report["problems"])
        assert any("wait in the spool" in problem for problem in report["problems"])

        proxy.up()
        assert wait_for(lambda: not any(spool_dir.glob("*.spool")) and "spooled" in {s for s, _ in _runs(db_url)},
                        timeout=60)
        served |= {item["headline"] for item in fake_api.add_news(5)}
        assert wait_for(lambda: set(_headlines(db_url)) >= served, timeout=30)
    finally:
        run.terminate()
        run.wait(timeout=15)
    stderr = run.stderr.read()
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr
    headlines = _headlines(db_url)
    assert len(headlines) == len(set(headlines)) and set(headlines) == served
    with psycopg.connect(db_url) as conn:
        (position,) = conn.execute("SELECT position FROM vvv.cursors WHERE collector = 'news'").fetchone()
        newest = conn.execute("SELECT max(created_at) FROM trading.news_headlines").fetchone()[0]
    cursor = store.read_cursor(PageCursor, position)
    assert cursor.resume_page is None and cursor.newest == newest
    assert "running" not in {status for status, _ in _runs(db_url)}


def test_vvv_run_started_while_the_database_is_away_collects_into_the_spool_and_migrates_once_it_is_back(
    db_url, proxy, cli_env, fake_api, tmp_path
) -> None:
    """A restart (a reboot, a crash) during a database outage keeps collecting from the cursors kept beside the spool."""
    env, spool_dir = _news_every_second(cli_env, proxy, tmp_path)
    assert run_vvv("once", "--collector", "news", env=env, cwd=tmp_path).returncode == 0  # the cursor is known
    served = {item["headline"] for item in fake_api.news}
    proxy.down()
    run = subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fresh = {item["headline"] for item in fake_api.add_news(11)}
        served |= fresh
        assert wait_for(lambda: fresh <= _spooled(spool_dir) or run.poll() is not None, timeout=30)
        assert run.poll() is None, run.communicate()[1][-2000:]
        fake_api.withdraw_news(fresh)  # served only while the database was away
        proxy.up()
        assert wait_for(lambda: not any(spool_dir.glob("*.spool")) and set(_headlines(db_url)) >= served,
                        timeout=60)
    finally:
        run.terminate()
        run.wait(timeout=15)
    stderr = run.stderr.read()
    assert run.returncode == 0, stderr
    assert "starting without it" in stderr and "Traceback" not in stderr
    headlines = _headlines(db_url)
    assert len(headlines) == len(set(headlines)) and set(headlines) == served
    assert "running" not in {status for status, _ in _runs(db_url)}


def test_vvv_run_started_while_the_database_is_away_with_no_cursor_kept_exits_1_naming_it(
    proxy, cli_env, tmp_path
) -> None:
    env = {**cli_env, "VVV_DATABASE_URL": proxy.url}
    proxy.down()
    result = run_vvv("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "cannot connect to the database" in result.stderr and "Traceback" not in result.stderr


def test_a_page_spooled_while_the_database_was_away_is_parsed_for_its_partition_when_stored(
    db_url, proxy, tmp_path
) -> None:
    """The partition (here the ticker) reaches `build` in the live pass and in the spool's replay alike."""
    now = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
    built: list[tuple[str, str]] = []  # (partition, the print's ticker), once per record built

    def build(raw, values, extra, partition):
        built.append((partition, values[2]))
        return darkpool.Trade(*values, extra)

    collector = attrs.evolve(COLLECTORS["darkpool"], build=build)
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None,
                             stale_after=None, options=darkpool.Settings(tickers=["SPY", "QQQ"], page_size=500))
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    clock = lambda: now + timedelta(hours=2)  # noqa: E731 - the fake serves the market day of `now`
    with FakeApi(token=TOKEN, seed=3, now=now, darkpool_count=1200) as api:
        client = ApiClient(base_url=api.url, token=TOKEN, max_retries=2, sleep=lambda _: None)
        api.on_request(2, proxy.down)  # gone from SPY's second page on: the rest of both tickers is spooled
        with store.connect(proxy.url, statement_timeout_s=10, connect_timeout_s=2) as conn:
            cut = run_once(collector, config, conn=conn, client=client, spool=spool, clock=clock)
        assert cut.status == "spooled" and cut.spooled >= 2
        live = len(built)
        proxy.up()
        with store.connect(proxy.url, statement_timeout_s=10, connect_timeout_s=2) as conn:
            after = run_once(collector, config, conn=conn, client=client, spool=spool, clock=clock)
        client.close()
        assert after.status == "ok", after.error
        assert spool.count() == 0 and len(built) > live  # the replay built records too
        assert {partition for partition, _ in built} == {"SPY", "QQQ"}
        assert all(partition == ticker for partition, ticker in built)
        with psycopg.connect(db_url) as check:
            for ticker in ("SPY", "QQQ"):
                stored = {r[0] for r in check.execute(
                    "SELECT tracking_id FROM trading.darkpool_trades WHERE ticker = %s", (ticker,))}
                assert stored == {int(i["tracking_id"]) for i in api.darkpool(ticker) if isinstance(i, dict)}
