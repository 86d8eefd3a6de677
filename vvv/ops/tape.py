"""What `vvv status`, /metrics and the status page say about the full options tape.

Read from vvv.tape_loads (one row per day: its last load or attempt) and, for the next due
time, from the active `vvv run`'s published schedule. A failure is shown with the API's own
answer (404 not published, 422 closed or missing_access, 403 beyond the plan's history).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from html import escape
from typing import Any

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vvv.core import calendar

FAILURE_DAYS = 7  # a day whose tape failed this recently is a problem `vvv status` reports

_LAST_OK = """
SELECT day, rows, rejects, bytes, loaded_at FROM vvv.tape_loads WHERE loaded_at IS NOT NULL
ORDER BY day DESC LIMIT 1
"""
_FAILURES = """
SELECT day, status, http_status, api_answer, error, attempts, finished_at FROM vvv.tape_loads
WHERE status IN ('failed', 'pending') ORDER BY day DESC LIMIT 10
"""


def report(conn: psycopg.Connection, config: Any, *, now: datetime, scheduled: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tape's part of the status: settings, the last day loaded, the next due time, failures, problems."""
    if conn.execute("SELECT to_regclass('vvv.tape_loads')").fetchone()[0] is None:
        conn.rollback()
        return {"enabled": config.enabled, "state": "not migrated", "last_loaded": None, "next_due": None,
                "failures": [], "problems": []}
    last = conn.execute(_LAST_OK).fetchone()
    failures = [dict(zip(("day", "status", "http_status", "api_answer", "error", "attempts", "finished_at"), row,
                         strict=True)) for row in conn.execute(_FAILURES).fetchall()]
    conn.rollback()
    if last is not None:
        failures = [f for f in failures if f["day"] >= last[0] or f["status"] == "failed"]
    recent = now.astimezone(calendar.NY).date() - timedelta(days=FAILURE_DAYS)
    problems = [f"tape {f['day']}: {f['error']}" for f in failures
                if config.enabled and f["status"] == "failed" and f["day"] >= recent]
    state = "disabled" if not config.enabled else "not scheduled" if scheduled is None else (
        "loading" if scheduled.get("running") else "waiting")
    return {
        "enabled": config.enabled,
        "at": config.at,
        "retention_days": config.retention_days,
        "state": state,
        "last_loaded": None if last is None else {
            "day": last[0].isoformat(), "rows": last[1], "rejects": last[2], "bytes": last[3],
            "loaded_at": last[4].isoformat()},
        "next_due": None if scheduled is None else scheduled.get("next_due"),
        "failures": [{**f, "day": f["day"].isoformat(),
                      "finished_at": None if f["finished_at"] is None else f["finished_at"].isoformat()}
                     for f in failures],
        "problems": problems,
    }


def render(tape: Mapping[str, Any] | None) -> list[str]:
    """Lines for `vvv status`; none when the tape is off and was never loaded."""
    if not _shown(tape):
        return []
    last = tape.get("last_loaded")
    loaded = ("none loaded yet" if not last else
              f"last loaded {last['day']}: {last['rows']:,} rows, {last['rejects']} rejected"
              f" (at {last['loaded_at'][:19].replace('T', ' ')} UTC)")
    due = tape.get("next_due")
    lines = [f"tape: {tape['state']}, {loaded}; next due {'-' if not due else due[:16].replace('T', ' ') + ' UTC'}"]
    lines += [f"tape {f['day']}: {f['status']}: {f['error']}" for f in tape.get("failures", [])]
    return lines


def section(tape: Mapping[str, Any] | None) -> str:
    """The status page's panel; none when the tape is off and was never loaded."""
    if not _shown(tape):
        return ""
    last = tape.get("last_loaded") or {}
    facts = [("State", tape.get("state")), ("Last day loaded", last.get("day", "none")),
             ("Rows", f"{last['rows']:,}" if last else "-"), ("Rejected", last.get("rejects", "-")),
             ("Loaded at", (last.get("loaded_at") or "-")[:19].replace("T", " ")),
             ("Next due (UTC)", (tape.get("next_due") or "-")[:16].replace("T", " "))]
    rows = "".join(f'<tr><th>{escape(k)}</th><td class="num">{escape(str(v))}</td></tr>' for k, v in facts)
    failures = "".join(f"<li>{escape(str(f['day']))}: {escape(str(f['status']))}: {escape(str(f['error']))}</li>"
                       for f in tape.get("failures", []))
    more = f'<p class="error">Failures:</p><ul class="error">{failures}</ul>' if failures else ""
    return (f'<section><h2>Options tape</h2><div class="panel" id="tape"><table>{rows}</table>{more}</div>'
            "</section>")


def _shown(tape: Mapping[str, Any] | None) -> bool:
    return bool(tape) and bool(tape.get("enabled") or tape.get("last_loaded") or tape.get("failures"))


class Gauges:
    """The nightly job's figures at scrape time: loads by outcome, the last day's rows, when next due."""

    def __init__(self, job: Any) -> None:
        self._job = job

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        job = self._job
        loads = CounterMetricFamily("vvv_tape_loads", "Nightly tape loads that ended, by outcome.", labels=["outcome"])
        loads.add_metric(["ok"], job.loaded)
        loads.add_metric(["failed"], job.failed)
        yield loads
        yield GaugeMetricFamily("vvv_tape_running", "1 while a tape is downloaded or loaded.", value=int(job.running))
        last = job.last
        if last is not None:
            day = datetime.combine(last.day, datetime.min.time(), tzinfo=calendar.NY)
            yield GaugeMetricFamily("vvv_tape_last_day_timestamp_seconds", "The New York day of the last tape"
                                    " loaded, as the Unix time of its midnight.", value=day.timestamp())
            yield GaugeMetricFamily("vvv_tape_last_rows", "Rows of the last tape loaded.", value=last.rows)
        due = job.state().get("next_due")
        if due:
            yield GaugeMetricFamily("vvv_tape_next_due_timestamp_seconds", "When the nightly job next asks for a"
                                    " tape (Unix time).", value=datetime.fromisoformat(due).timestamp())
