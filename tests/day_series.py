"""What the runner tests of the per-day series collectors (`DaySeries`: ohlc, spot exposures, net
premium ticks) share: a pass against the fake at a given clock, and the rows stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.config import CollectorConfig
from vvv.core.base import Collector
from vvv.io.http import ApiClient
from vvv.run.runner import RunResult, run_once


def run_pass(collector: Collector, api: FakeApi, conn: psycopg.Connection, at: datetime, **options: Any) -> RunResult:
    """One pass with the clock (the fake's and vvv's) at `at`, its requests counted on the fake."""
    api.now = at
    config = CollectorConfig(enabled=True, interval=60, extended_interval=60, closed_interval=3600, stale_after=None,
                             options=collector.spec.settings(**options))
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None, max_retries=1)
    try:
        return run_once(collector, config, conn=conn, client=client, clock=lambda: at)
    finally:
        client.close()


def rows(conn: psycopg.Connection, query: str, *args: Any) -> list[tuple[Any, ...]]:
    found = conn.execute(query, args).fetchall()
    conn.rollback()
    return found


def revisions(conn: psycopg.Connection, collector: str) -> list[dict[str, Any]]:
    return [old for (old,) in rows(conn, "SELECT old_row FROM vvv.revisions WHERE collector = %s", collector)]
