"""The spool never loses a batch: replay, disk full, dead passes and passes without a database."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.faults import DatabaseProxy
from vvv import runner, store
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.fake_api import FakeApi
from vvv.http import ApiClient
from vvv.runner import RunResult, run_once
from vvv.spool import Spool, decode

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


@pytest.mark.parametrize("stop", ["a later batch is locked by another process", "a database error at batch 3"])
def test_a_replay_stopped_midway_keeps_every_batch_it_has_not_committed(
    db_url, proxy, client, fake_api, tmp_path, monkeypatch, stop: str
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**24)
    files = _spool_five_batches(proxy, client, fake_api, spool)
    spooled = {path: _spooled_headlines(path) for path in files}
    holder = None
    if stop.startswith("a later batch is locked"):
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
        stopped = _pass(proxy.url, client, spool)
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
