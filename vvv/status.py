"""`vvv status`: what each collector did lately, read from vvv.runs and the data tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from vvv.collectors.base import Spec

_LAST_RUN = """
SELECT id, status, started_at, finished_at, inserted, duplicates, rejects, error
FROM vvv.runs WHERE collector = %s ORDER BY started_at DESC, id DESC LIMIT 1
"""
_LAST_DAY = """
SELECT coalesce(sum(inserted), 0), coalesce(sum(rejects), 0), count(*) FILTER (WHERE status <> 'ok')
FROM vvv.runs WHERE collector = %s AND started_at > now() - interval '24 hours'
"""
_BUDGET = """
SELECT api_budget, finished_at FROM vvv.runs
WHERE api_budget IS NOT NULL ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1
"""


def collect_status(conn: psycopg.Connection, specs: Iterable[Spec], *, now: datetime) -> dict[str, Any]:
    """The status as plain JSON-ready data: one entry per collector plus the API budget."""
    collectors = {spec.name: _collector_status(conn, spec, now) for spec in specs}
    budget = conn.execute(_BUDGET).fetchone()
    conn.rollback()
    return {
        "collectors": collectors,
        "api_budget": None if budget is None else {**budget[0], "reported_at": _iso(budget[1])},
    }


def _collector_status(conn: psycopg.Connection, spec: Spec, now: datetime) -> dict[str, Any]:
    last = conn.execute(_LAST_RUN, (spec.name,)).fetchone()
    rows_24h, rejects_24h, unsuccessful_24h = conn.execute(_LAST_DAY, (spec.name,)).fetchone()
    newest = conn.execute(
        sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(spec.time_column), sql.Identifier(*spec.table.split(".")))
    ).fetchone()[0]
    return {
        "last_run": None
        if last is None
        else {
            "id": last[0],
            "status": last[1],
            "started_at": _iso(last[2]),
            "finished_at": _iso(last[3]),
            "inserted": last[4],
            "duplicates": last[5],
            "rejects": last[6],
            "error": last[7],
        },
        "rows_24h": int(rows_24h),
        "rejects_24h": int(rejects_24h),
        "unsuccessful_runs_24h": unsuccessful_24h,
        "newest_record_at": _iso(newest),
        "lag_seconds": None if newest is None else round((now - newest).total_seconds()),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def render(report: dict[str, Any]) -> str:
    """The status for a terminal: a block per collector, then the API budget."""
    lines = []
    for name, entry in report["collectors"].items():
        last = entry["last_run"]
        if last is None:
            lines.append(f"{name}: never ran")
            continue
        lines.append(f"{name}: last run {last['id']} {last['status']} at {last['started_at']}")
        lines.append(f"  last run: {last['inserted']} new, {last['duplicates']} duplicates, {last['rejects']} rejected")
        if last["error"]:
            lines.append(f"  error: {last['error']}")
        lines.append(
            f"  last 24 h: {entry['rows_24h']} rows, {entry['rejects_24h']} rejected,"
            f" {entry['unsuccessful_runs_24h']} runs not ok"
        )
        lag = entry["lag_seconds"]
        lines.append(f"  newest record: {entry['newest_record_at'] or 'none'}" + ("" if lag is None else f" ({_age(lag)} ago)"))
    budget = report["api_budget"]
    if budget is None:
        lines.append("API budget: not reported yet")
    else:
        lines.append(
            f"API budget (at {budget['reported_at']}): {_known(budget.get('per_minute_remaining'))} requests left this"
            f" minute, {_known(budget.get('daily_count'))} used today of {_known(budget.get('token_limit'))}"
        )
    return "\n".join(lines)


def _known(value: Any) -> str:
    return "?" if value is None else str(value)


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds}s"
