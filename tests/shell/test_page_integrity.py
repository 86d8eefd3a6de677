"""Pages that cannot be taken at their word: a 200 that is not a page, a page no item of which
can be read. Neither may end a sweep as if the window were read, so nothing below is skipped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import TOKEN
from vvv import store
from vvv.collectors import COLLECTORS, darkpool
from vvv.config import CollectorConfig
from vvv.fake_api import FakeApi
from vvv.http import ApiClient
from vvv.runner import RunResult, run_once

DARKPOOL = COLLECTORS["darkpool"]
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # a Tuesday night in New York: the day's 2,000 prints are out
LATER = NOW + timedelta(hours=1)
NOT_PAGES = ['{"data": null}', '{"data": "oops"}', "[1,2,3]", "null", '{"msg": "ok"}']


def _config(**options) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=darkpool.Settings(**options))


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=2000) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None, max_retries=2)
    yield http
    http.close()


def _pass(conn: psycopg.Connection, client: ApiClient, **options) -> RunResult:
    return run_once(DARKPOOL, _config(tickers=["SPY"], **options), conn=conn, client=client, clock=lambda: LATER)


def _stored(conn: psycopg.Connection) -> set[int]:
    ids = {r[0] for r in conn.execute("SELECT tracking_id FROM trading.darkpool_trades WHERE ticker = 'SPY'")}
    conn.rollback()
    return ids


def _served(api: FakeApi) -> set[int]:
    return {int(item["tracking_id"]) for item in api.darkpool("SPY")}


def _cursor(conn: psycopg.Connection) -> darkpool.Cursor:
    cursor = store.load_cursor(conn, DARKPOOL.spec, "SPY")
    conn.rollback()
    return cursor


@pytest.mark.parametrize("body", NOT_PAGES)
def test_a_200_that_is_not_a_page_then_a_page_loses_nothing(conn, api, client, body: str) -> None:
    api.fail_next(200, body=body)
    result = _pass(conn, client)
    assert result.status == "ok", result.error
    assert _stored(conn) == _served(api) and len(_served(api)) == 2000


@pytest.mark.parametrize("body", NOT_PAGES)
def test_a_hole_answered_only_by_bodies_that_are_not_pages_stays_owed(conn, api, client, body: str) -> None:
    cut = _pass(conn, client, max_pages=2)  # 1,000 of the day's 2,000 prints, the rest owed as a hole
    owed = _cursor(conn)
    assert cut.status == "ok" and owed.resume_before is not None
    api.fail_next(200, body=body, times=3)
    result = _pass(conn, client, max_pages=2)
    assert result.status == "failed"
    assert "got a 200 that is not a page: " + body.replace(",", ", ") in result.error
    assert _cursor(conn) == owed
    for _ in range(3):  # the fake behaves again: the hole is filled, nothing was skipped
        assert _pass(conn, client, max_pages=2).status == "ok"
    assert _stored(conn) == _served(api) and len(_stored(conn)) == 2000
