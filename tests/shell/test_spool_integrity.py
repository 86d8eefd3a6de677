"""The spool never loses a batch: replay, disk full, dead passes and passes without a database."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from tests.faults import DatabaseProxy
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.io import spool as spool_module
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.io.spool import Spool, decode
from vvv.ops import status
from vvv.run import runner
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


def _pass(url: str, client: ApiClient, spool: Spool, stopping=lambda: False) -> RunResult:
    conn = store.connect(url, statement_timeout_s=10, connect_timeout_s=2)
    try:
        return run_once(NEWS, CONFIG, conn=conn, client=client, spool=spool, stopping=stopping)
    finally:
        conn.close()


def _headlines(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT headline FROM trading.news_headlines")]


def _statuses(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM vvv.runs ORDER BY id")]


def _spooled_headlines(path: Path) -> list[str]:
    batch, _ = decode(path.read_bytes())
    return [item["headline"] for item in batch.payload["data"]]


def _spool_five_batches(proxy: DatabaseProxy, client: ApiClient, fake_api: FakeApi, spool: Spool) -> list[Path]:
    fake_api.on_request(1, proxy.down)  # gone before the first page is stored: all five pages are spooled
    cut = _pass(proxy.url, client, spool)
    assert cut.spooled == 5
    proxy.up()
    return sorted(spool.directory.glob("*.spool"))


@pytest.mark.parametrize("stop", ["a later batch is locked by another process", "a database error at batch 3",
                                  "vvv is stopped after batch 2"])
def test_a_replay_stopped_midway_keeps_every_batch_it_has_not_committed(
    db_url, proxy, client, fake_api, tmp_path, monkeypatch, stop: str
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    files = _spool_five_batches(proxy, client, fake_api, spool)
    spooled = {path: _spooled_headlines(path) for path in files}
    holder, stopping = None, lambda: False
    if stop.startswith("vvv is stopped"):
        stopping = lambda: sum(not path.exists() for path in files) >= 2  # noqa: E731
    elif stop.startswith("a later batch is locked"):
        holder = open(files[3], "rb")  # another replayer holds it: a lock of its own open file
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        real, calls = store.store_batch, []

        def failing_at_the_third(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise psycopg.OperationalError("injected: the server closed the connection")
            return real(*args, **kwargs)

        monkeypatch.setattr(runner.store, "store_batch", failing_at_the_third)
    try:
        stopped = _pass(proxy.url, client, spool, stopping)
    finally:
        if holder is not None:
            holder.close()
    assert stopped.status == "failed"
    stored = set(_headlines(db_url))
    gone = [path for path in files if not path.exists()]
    assert 1 <= len(gone) < len(files)
    for path in gone:  # deleted only once its rows were committed
        assert set(spooled[path]) <= stored
    for path in files[len(gone):]:
        assert path.exists()
    assert "running" not in _statuses(db_url)

    monkeypatch.undo()
    assert _pass(proxy.url, client, spool).status == "ok"
    assert spool.count() == 0
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def _no_space(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_spooling_stops_fetching_says_so_and_collecting_resumes_once_space_is_back(
    db_url, proxy, client, fake_api, tmp_path, monkeypatch
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    fake_api.on_request(1, proxy.down)
    monkeypatch.setattr(spool_module.os, "fsync", _no_space)  # every write reaches the disk only in part
    full = _pass(proxy.url, client, spool)
    monkeypatch.undo()
    assert full.requests <= 2  # stopped fetching (a prefetched next page at most)
    assert "the disk of the spool" in full.error and "is full" in full.error, full.error
    assert "unexpected OSError" not in full.error
    assert list(spool.directory.iterdir()) == [spool.directory / "disk-full"]  # no partial batch left behind
    offline = status.offline_status("cannot connect to the database", spool)
    assert any("is full" in problem for problem in offline["problems"]), offline["problems"]

    proxy.up()
    fake_api.on_request(1, proxy.down)  # space is back, and the database goes away again
    spooled = _pass(proxy.url, client, spool)
    assert spooled.status == "spooled" and spooled.spooled == 5
    assert not any("is full" in problem for problem in status.offline_status("down", spool)["problems"])

    proxy.up()
    fake_api.add_news(20)
    assert _pass(proxy.url, client, spool).status == "ok"
    assert spool.count() == 0
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def test_a_partial_file_this_process_left_in_an_earlier_pass_never_blocks_the_replay(
    db_url, client, fake_api, tmp_path
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    spool.directory.mkdir()
    leftover = spool.directory / f"{1:020d}-{os.getpid()}-news.spool.tmp"
    leftover.write_bytes(b"0000")  # cut short before its header: nothing in it to keep
    assert _pass(db_url, client, spool).status == "ok"
    assert not leftover.exists()
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)


def test_a_pass_without_the_database_goes_on_from_the_cursor_kept_beside_the_spool(
    db_url, client, fake_api, tmp_path
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    assert _pass(db_url, client, spool).status == "ok"
    assert spool.known_cursors("news")[""] == _db_cursor(db_url)
    served = {item["headline"] for item in fake_api.add_news(30)}
    requests = len(fake_api.requests)
    away = runner.run_offline(NEWS, CONFIG, client=client, spool=spool, reason="cannot connect to the database")
    assert away.status == "spooled" and away.run_id is None and away.spooled == 1
    assert "collecting into the spool" in away.error
    assert len(fake_api.requests) == requests + 1  # one page: it stops where the stored cursor says
    fake_api.withdraw_news(served)
    fake_api.add_news(4)
    assert runner.run_offline(NEWS, CONFIG, client=client, spool=spool, reason="down").spooled == 1

    back = _pass(db_url, client, spool)
    assert back.status == "ok" and spool.count() == 0
    headlines = _headlines(db_url)
    assert len(headlines) == len(set(headlines))
    assert served <= set(headlines)
    assert sorted(_statuses(db_url)) == ["ok", "ok", "spooled", "spooled"]  # each pass without a database is a run
    assert spool.known_cursors("news")[""] == _db_cursor(db_url)


def test_without_the_database_a_scope_with_no_cursor_kept_waits_for_it(client, fake_api, tmp_path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    away = runner.run_offline(NEWS, CONFIG, client=client, spool=spool, reason="cannot connect to the database")
    assert away.status == "failed" and "no cursor known without the database" in away.error
    assert fake_api.requests == [] and spool.count() == 0


def _db_cursor(url: str) -> object:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT position FROM vvv.cursors WHERE collector = 'news'").fetchone()[0]


@pytest.mark.parametrize("fault", ["the disk is full", "the file cannot be deleted"])
def test_a_replay_whose_stored_batch_cannot_be_cleaned_up_is_an_error_not_a_crash(
    db_url, proxy, client, fake_api, tmp_path, monkeypatch, fault: str
) -> None:
    """Found by the state machine: a full disk made the replay's directory fsync raise out of the pass."""
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    files = _spool_five_batches(proxy, client, fake_api, spool)
    if fault == "the disk is full":
        monkeypatch.setattr(spool_module.os, "fsync", _no_space)
    else:
        def refuse(self: Path, missing_ok: bool = False) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        monkeypatch.setattr(spool_module.Path, "unlink", refuse)
    result = _pass(proxy.url, client, spool)
    monkeypatch.undo()
    assert "unexpected" not in (result.error or "")
    if fault == "the disk is full":  # the files are gone, only their deletion may not be durable yet
        assert result.status == "ok" and spool.count() == 0
    else:  # stored, but still on disk: the replay stops there and says why; storing it again is harmless
        assert result.status == "failed" and "could not delete" in result.error, result.error
        assert all(path.exists() for path in files[1:])
    assert "running" not in _statuses(db_url)
    assert _pass(proxy.url, client, spool).status == "ok"
    assert spool.count() == 0
    assert sorted(_headlines(db_url)) == sorted(item["headline"] for item in fake_api.news)
