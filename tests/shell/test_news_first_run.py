"""A news first run cut short against the fake API: the next pass finishes its history."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run.runner import RunResult, run_once

NEWS = COLLECTORS["news"]
SETTINGS = news.Settings(page_size=100, max_pages=20, first_run_pages=3)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=11, news_count=1000) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, max_retries=1, sleep=lambda _: None)
    yield http
    http.close()


def _pass(conn: psycopg.Connection, client: ApiClient) -> RunResult:
    config = CollectorConfig(enabled=True, interval=120, extended_interval=300, closed_interval=1800,
                             stale_after=None, options=SETTINGS)
    return run_once(NEWS, config, conn=conn, client=client)


def _stored(conn: psycopg.Connection) -> set[str]:
    ids = {row[0] for row in conn.execute("SELECT id FROM trading.news_headlines")}
    conn.rollback()
    return ids


def _ids(items: list[dict]) -> set[str]:
    records, rejects = news.COLLECTOR.parse({"data": items})
    assert rejects == []
    return {record.id for record in records}


def test_a_first_run_failing_after_page_0_is_finished_by_the_next_pass(conn, client, api) -> None:
    depth = _ids(api.served("news")[:300])
    api.delay_next(0)  # page 0 goes through...
    api.fail_next(500, times=2)  # ...page 1 fails, retry included
    cut = _pass(conn, client)
    assert cut.status == "partial" and cut.inserted == 100
    assert store.load_cursor(conn, NEWS.spec).resume_page == 1
    finished = _pass(conn, client)
    assert finished.status == "ok"
    assert _stored(conn) == depth  # 300 of 300
    assert [r.query["page"] for r in api.requests[-2:]] == ["1", "2"]


def test_a_first_run_cut_short_while_news_arrives_loses_none_of_its_history(conn, client, api) -> None:
    depth = _ids(api.served("news")[:300])
    api.delay_next(0)
    api.fail_next(500, times=2)
    _pass(conn, client)
    newer = _ids(api.add_news(130))  # the history moves down more than a page
    _pass(conn, client)
    assert depth <= _stored(conn)
    _pass(conn, client)  # from the top: what was published meanwhile
    assert _stored(conn) >= depth | newer
    assert store.load_cursor(conn, NEWS.spec).resume_page is None
