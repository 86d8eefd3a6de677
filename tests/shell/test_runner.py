"""A pass end to end: fake API -> runner -> real PostgreSQL, with the faults the API can show."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
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


def _config(**options: int) -> CollectorConfig:
    return CollectorConfig(
        enabled=True, interval=120, extended_interval=300, closed_interval=1800, stale_after=None,
        options=news.Settings(**options),
    )


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[ApiClient]:
    api = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=2, read_timeout=2, sleep=lambda _: None)
    yield api
    api.close()


def _pass(conn: psycopg.Connection, client: ApiClient, **options: int) -> RunResult:
    return run_once(NEWS, _config(**options), conn=conn, client=client)


def _count(conn: psycopg.Connection, table: str) -> int:
    value = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    conn.rollback()
    return value


def _run_row(conn: psycopg.Connection, run_id: int) -> dict:
    cur = conn.execute("SELECT * FROM vvv.runs WHERE id = %s", (run_id,))
    row = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
    conn.rollback()
    return row


def test_first_pass_stores_headlines_and_records_the_run(conn, client, fake_api) -> None:
    result = _pass(conn, client, page_size=100, first_run_pages=3)
    assert result.status == "ok"
    assert (result.inserted, result.fetched, result.requests) == (250, 250, 3)
    assert _count(conn, "trading.news_headlines") == 250
    row = _run_row(conn, result.run_id)
    assert (row["status"], row["inserted"], row["requests"], row["error"]) == ("ok", 250, 3, None)
    assert row["api_budget"]["token_limit"] == fake_api.daily_limit


def test_first_pass_collects_only_the_configured_pages(conn, client) -> None:
    result = _pass(conn, client, page_size=50, first_run_pages=2)
    assert (result.requests, result.inserted) == (2, 100)


def test_second_pass_inserts_nothing_and_counts_duplicates(conn, client) -> None:
    _pass(conn, client, page_size=100)
    again = _pass(conn, client, page_size=100)
    assert again.status == "ok"
    assert (again.inserted, again.requests) == (0, 1)
    assert again.duplicates == again.fetched == 100


def test_incremental_pass_picks_up_new_headlines_from_the_top(conn, client, fake_api) -> None:
    _pass(conn, client, page_size=100)
    fake_api.add_news(130)
    result = _pass(conn, client, page_size=100)
    assert result.inserted == 130
    assert result.requests == 2  # page 1 holds the last 30 new ones and reaches the stored cursor
    assert _count(conn, "trading.news_headlines") == 380


def test_a_burst_beyond_the_page_cap_is_caught_up_by_the_next_pass(conn, client, fake_api) -> None:
    _pass(conn, client, page_size=20, first_run_pages=1)
    fake_api.add_news(100)
    capped = _pass(conn, client, page_size=20, max_pages=2)
    assert capped.requests == 2
    assert store.load_cursor(conn, news.SPEC).resume_page == 2
    while store.load_cursor(conn, news.SPEC).resume_page is not None:
        _pass(conn, client, page_size=20, max_pages=2)
    _pass(conn, client, page_size=20, max_pages=2)
    assert _count(conn, "trading.news_headlines") == 120


def test_malformed_items_are_rejected_and_the_rest_stored(conn, client, fake_api) -> None:
    fake_api.malformed_items(every=10)
    result = _pass(conn, client, page_size=100)
    assert result.status == "ok"
    assert result.rejects == 25
    assert result.inserted == 225
    reasons = [r[0] for r in conn.execute("SELECT reason FROM vvv.rejects WHERE run_id = %s", (result.run_id,))]
    assert len(reasons) == 25 and all(reasons)


def test_a_field_the_api_added_lands_in_extra(conn, client, fake_api) -> None:
    item = dict(fake_api.news[0], created_at="2026-01-01T00:00:00Z", headline="new field", brand_new_field={"x": 1})
    fake_api.add_raw_news(item)
    _pass(conn, client, page_size=100)
    extra = conn.execute("SELECT extra FROM trading.news_headlines WHERE headline = 'new field'").fetchone()[0]
    assert extra["brand_new_field"] == {"x": 1}


def test_server_errors_and_cut_bodies_are_retried(conn, fake_api) -> None:
    patient = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=3, sleep=lambda _: None)
    fake_api.fail_next(503, times=2)
    fake_api.truncate_next()
    result = run_once(NEWS, _config(page_size=100, first_run_pages=1), conn=conn, client=patient)
    patient.close()
    assert result.status == "ok"
    assert (result.requests, result.inserted) == (4, 100)


def test_a_page_that_keeps_failing_fails_the_run_and_keeps_the_cursor(conn, client, fake_api) -> None:
    _pass(conn, client, page_size=100)
    cursor = store.load_cursor(conn, news.SPEC)
    fake_api.add_news(10)
    fake_api.fail_next(500, times=10)
    result = _pass(conn, client, page_size=100)
    assert result.status == "failed"
    assert "HTTP 500" in result.error
    assert store.load_cursor(conn, news.SPEC) == cursor
    assert _run_row(conn, result.run_id)["status"] == "failed"


def test_a_failure_after_stored_pages_is_partial_and_loses_nothing(conn, client, fake_api) -> None:
    _pass(conn, client, page_size=50, first_run_pages=1)
    fake_api.add_news(120)
    fake_api.delay_next(0)  # page 0 goes through...
    fake_api.fail_next(500, times=3)  # ...then every attempt at page 1 fails
    partial = _pass(conn, client, page_size=50, max_pages=5)
    assert (partial.status, partial.inserted) == ("partial", 50)
    recovered = _pass(conn, client, page_size=50, max_pages=5)
    assert recovered.status == "ok"
    assert _count(conn, "trading.news_headlines") == 170


def test_a_refused_token_fails_at_once_without_retries(conn, fake_api) -> None:
    bad = ApiClient(base_url=fake_api.url, token="wrong-token", max_retries=3, sleep=lambda _: None)
    result = run_once(NEWS, _config(), conn=conn, client=bad)
    bad.close()
    assert result.status == "failed" and result.auth_failed
    assert result.requests == 1
    assert "VVV_UW_TOKEN" in result.error
    assert "wrong-token" not in result.error


def test_run_result_fields_match_the_runs_row(conn, client) -> None:
    result = _pass(conn, client)
    row = _run_row(conn, result.run_id)
    for field in ("status", "requests", "fetched", "inserted", "duplicates", "rejects", "error"):
        assert row[field] == getattr(result, field), field
    assert attrs.asdict(result)["collector"] == "news"


def test_a_bug_in_a_collector_fails_the_run_not_the_process(conn, client) -> None:
    def broken_build(raw, values, extra, partition):
        raise RuntimeError("parser bug")

    result = run_once(attrs.evolve(NEWS, build=broken_build), _config(), conn=conn, client=client)
    assert result.status == "failed"
    assert result.error == "unexpected RuntimeError: parser bug"
    assert _run_row(conn, result.run_id)["status"] == "failed"
