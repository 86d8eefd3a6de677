"""Rejects are kept once: each distinct raw item, as the API sent it, once per collector.

Overlapping passes read the same malformed item again and again; it stays one row, with
when it was first and last seen and the newest reason, and only a pass that sees it first
counts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, news
from vvv.config import CollectorConfig
from vvv.core.base import Reject
from vvv.io import migrate, store
from vvv.io.http import ApiClient
from vvv.run.runner import RunResult, run_once

NEWS = COLLECTORS["news"]
NOW = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[ApiClient]:
    api = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=2, read_timeout=2, sleep=lambda _: None)
    yield api
    api.close()


def _pass(conn: psycopg.Connection, client: ApiClient) -> RunResult:
    config = CollectorConfig(enabled=True, interval=120, extended_interval=300, closed_interval=1800,
                             stale_after=None, options=news.Settings(page_size=100))
    return run_once(NEWS, config, conn=conn, client=client)


def _rejects(conn: psycopg.Connection) -> list[tuple]:
    rows = conn.execute("SELECT raw, reason, run_id, rejected_at <= last_seen FROM vvv.rejects ORDER BY id").fetchall()
    conn.rollback()
    return rows


def _store_rejects(conn: psycopg.Connection, run_id: int, rejects: list[Reject]) -> store.BatchResult:
    return store.store_batch(conn, news.SPEC, run_id=run_id, records=[], rejects=rejects, received=len(rejects),
                             cursor=None)


def test_malformed_headlines_read_again_by_later_passes_are_kept_once(conn, client, fake_api) -> None:
    fake_api.malformed_items(every=10)
    first, second, third = _pass(conn, client), _pass(conn, client), _pass(conn, client)
    malformed = {json.dumps(item) for item in fake_api.served("news") if item not in fake_api.news}
    assert first.rejects == len(malformed) > 0
    assert {row[0] for row in _rejects(conn)} == malformed and len(_rejects(conn)) == len(malformed)
    assert (second.rejects, third.rejects) == (0, 0)
    runs = [r[0] for r in conn.execute("SELECT rejects FROM vvv.runs ORDER BY id")]
    assert runs == [first.rejects, 0, 0]
    assert {row[2] for row in _rejects(conn)} == {first.run_id}  # run_id: the run that saw it first


def test_a_reject_seen_again_keeps_its_first_sighting_and_moves_its_last(conn) -> None:
    raw = {"headline": None, "created_at": "2026-01-02T15:00:00Z", "source": "s"}
    first_run, later_run = store.start_run(conn, "news"), store.start_run(conn, "news")
    assert _store_rejects(conn, first_run, [Reject(raw, "headline: expected a string")]).rejects == 1
    (first,) = conn.execute("SELECT rejected_at, last_seen FROM vvv.rejects").fetchall()
    conn.rollback()
    assert _store_rejects(conn, later_run, [Reject(dict(raw), "headline: expected a string")]).rejects == 0
    (again,) = conn.execute("SELECT rejected_at, last_seen, run_id FROM vvv.rejects").fetchall()
    assert again[0] == first[0] and again[1] > first[1] and again[2] == first_run


def test_the_same_raw_item_rejected_for_a_new_reason_keeps_the_newest_reason(conn) -> None:
    raw = {"headline": 7}
    run_id = store.start_run(conn, "news")
    _store_rejects(conn, run_id, [Reject(raw, "an old reason")])
    assert _store_rejects(conn, run_id, [Reject(raw, "a new reason")]).rejects == 0
    assert [r[1] for r in _rejects(conn)] == ["a new reason"]


def test_one_raw_item_twice_in_a_page_is_one_reject(conn) -> None:
    run_id = store.start_run(conn, "news")
    result = _store_rejects(conn, run_id, [Reject([1], "not an object"), Reject([1], "not an object"),
                                           Reject([2], "not an object")])
    assert result.rejects == 2 and len(_rejects(conn)) == 2
    assert conn.execute("SELECT rejects FROM vvv.runs WHERE id = %s", (run_id,)).fetchone() == (2,)


def test_rejects_are_kept_per_collector(conn) -> None:
    for collector in ("news", "darkpool"):
        store.store_batch(conn, COLLECTORS[collector].spec, run_id=store.start_run(conn, collector), records=[],
                          rejects=[Reject("oops", "item is not a JSON object but str")], received=1, cursor=None)
    assert [r[0] for r in conn.execute("SELECT collector FROM vvv.rejects ORDER BY collector")] == ["darkpool", "news"]


def test_a_record_that_fails_validation_is_kept_as_the_raw_item_the_api_sent(conn, client, fake_api) -> None:
    """Not the parsed record rebuilt from its fields: that is not what the API said, and a
    re-read would not recognize it."""
    item = {"created_at": "2099-01-01 00:00:00+00:00", "headline": "From the future", "source": "Wire",
            "tags": ["a"], "surprise": 1}
    fake_api.add_raw_news(item)
    result = _pass(conn, client)
    assert result.rejects == 1
    ((raw, reason, _, _),) = _rejects(conn)
    assert json.loads(raw) == item and "in the future" in reason
    assert _pass(conn, client).rejects == 0 and len(_rejects(conn)) == 1


def test_the_migration_collapses_the_copies_already_stored(empty_db_url: str) -> None:
    """Before 005 every pass inserted its rejects again: one row per raw item remains, first seen kept."""
    migrations = migrate.discover(migrate.sql_dir())
    before = [m for m in migrations if migrate.migration_order(m.name) < migrate.migration_order("core/005")]
    with psycopg.connect(empty_db_url) as conn:
        migrate.migrate(conn, before)
        conn.execute("INSERT INTO vvv.runs (collector) SELECT 'news' FROM generate_series(1, 3)")
        for run_id, at, reason in [(1, "2026-01-01", "old"), (2, "2026-01-02", "newer"), (3, "2026-01-03", "newest")]:
            conn.execute("INSERT INTO vvv.rejects (collector, run_id, rejected_at, reason, raw) VALUES"
                         " ('news', %s, %s, %s, '{\"a\": 1}'), ('darkpool', %s, %s, 'dp', '{\"a\": 1}')",
                         (run_id, at, reason, run_id, at))
        conn.execute("INSERT INTO vvv.rejects (collector, run_id, reason, raw) VALUES ('news', 1, 'r', '[2]')")
        conn.commit()
        migrate.migrate(conn, migrations)
        rows = conn.execute("SELECT collector, raw, run_id, rejected_at::date::text, last_seen::date::text, reason"
                            " FROM vvv.rejects ORDER BY collector, raw").fetchall()
    assert rows == [
        ("darkpool", '{"a": 1}', 1, "2026-01-01", "2026-01-03", "dp"),
        ("news", '[2]', 1, rows[1][3], rows[1][3], "r"),
        ("news", '{"a": 1}', 1, "2026-01-01", "2026-01-03", "newest"),
    ]
