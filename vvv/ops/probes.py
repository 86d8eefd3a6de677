"""The database reads behind the monitoring endpoints, each on a short-lived connection.

They run in the HTTP server's threads, never in the scheduler's, with a short connect and
statement timeout: a slow or absent database makes a page slow by seconds at most, and a
scrape never holds up a pass. Every query reads vvv.runs through its (collector,
started_at) index or a data table through its time index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg

from vvv.core.base import Spec
from vvv.errors import one_line
from vvv.io import store
from vvv.ops.metrics import Freshness

TIMEOUT_S = 3
HOURS = 48
STRIP_RUNS = 40

@contextmanager
def connection(url: str, *, timeout_s: int = TIMEOUT_S) -> Iterator[psycopg.Connection]:
    """A connection for one request; raises store.DatabaseUnavailable when there is none to be had."""
    conn = store.connect(url, statement_timeout_s=timeout_s, connect_timeout_s=max(2, timeout_s))
    try:
        yield conn
    finally:
        conn.close()


def ping(url: str, *, timeout_s: int = TIMEOUT_S) -> str | None:
    """None when the database answers `SELECT 1`, else why not, in one line."""
    try:
        with connection(url, timeout_s=timeout_s) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, store.DatabaseUnavailable) as error:
        return f"the database does not answer: {one_line(error)}"
    return None


def freshness(url: str, specs: Sequence[Spec]) -> dict[str, Freshness]:
    """Per collector: its newest record's time and when its last ok pass finished."""
    found = {}
    with connection(url) as conn:
        for spec in specs:
            newest = store.newest_record_at(conn, spec)
            found[spec.name] = Freshness(newest_record_at=newest, last_success_at=store.last_success(conn, spec.name))
    return found


def hourly_rows(conn: psycopg.Connection, names: Sequence[str], *, now: datetime,
                hours: int = HOURS) -> tuple[list[datetime], dict[str, list[int | None]]]:
    """Rows stored per hour per collector over the last `hours` (by the hour each pass started), oldest first.

    An hour without any pass is None (a gap), an hour with passes that stored nothing is 0.
    """
    last = now.replace(minute=0, second=0, microsecond=0)
    slots = [last - timedelta(hours=hours - 1 - i) for i in range(hours)]
    index = {slot: i for i, slot in enumerate(slots)}
    series: dict[str, list[int | None]] = {name: [None] * hours for name in names}
    for name, hour, inserted in store.hourly_inserted(conn, names, slots[0]):
        i = index.get(hour.astimezone(now.tzinfo))
        if i is not None and name in series:
            series[name][i] = int(inserted)
    return slots, series


def recent_runs(conn: psycopg.Connection, names: Sequence[str], *, limit: int = STRIP_RUNS) -> dict[str, list[dict[str, Any]]]:
    """The last `limit` runs of each collector, oldest first."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for name, status, started, finished, inserted, error in store.recent_runs(conn, names, limit=limit):
        runs[name].append({"status": status, "started_at": started, "finished_at": finished,
                           "inserted": inserted, "error": error})
    for entries in runs.values():
        entries.reverse()
    return runs
