"""`vvv status`: what each collector did lately and what the scheduler will do next.

Read from vvv.runs, vvv.instances and the data tables. `problems` lists what a monitoring
check should page about: an enabled collector whose last run failed or stopped at a page
it cannot read, or whose newest record is older than its `stale_after` during the regular session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import psycopg
from psycopg import sql

from vvv.collectors import COLLECTORS
from vvv.config import CollectorConfig
from vvv.core import calendar
from vvv.core.base import HALT_MARK, Spec
from vvv.core.partitions import ticker_of
from vvv.io import store
from vvv.io.http import Budget, daily_pause
from vvv.io.spool import Spool

INSTANCE_ALIVE_S = 60  # an instance publishes every 10 s; silent this long, it is gone

def collect_status(
    conn: psycopg.Connection,
    collectors: Iterable[tuple[Spec, CollectorConfig]],
    *,
    now: datetime,
    spool: Spool | None = None,
    daily_reserve: int = 0,
    tape: Any = None,
) -> dict[str, Any]:
    """The status as JSON-ready data: per collector, the live instances, the API budget, the spool, the problems."""
    instances = _instances(conn, now)
    schedule = next((i["schedule"] for i in instances if i["role"] == "active"), {})
    entries = {spec.name: _collector_status(conn, spec, config, now, schedule.get(spec.name)) for spec, config in collectors}
    budget = store.last_reported_budget(conn)
    conn.rollback()
    api_budget = None if budget is None else _api_budget(budget[0], budget[1], daily_reserve, now)
    problems = [problem for entry in entries.values() for problem in entry["problems"]]
    if api_budget is not None and api_budget["paused_until"] is not None:
        problems.append(f"API daily budget spent ({api_budget['daily_count']} of {api_budget['token_limit']},"
                        f" reserve {daily_reserve}): no requests until {_clock(api_budget['paused_until'])} UTC")
    spooled = spool_status(spool)
    streams = stream_status(conn, now)
    if tape is not None:
        from vvv.ops import tape as tape_status

        tape = tape_status.report(conn, tape, now=now, scheduled=schedule.get("tape"))
        problems += tape["problems"]
    return {
        "collectors": entries,
        "instances": [{k: v for k, v in i.items() if k != "schedule"} for i in instances],
        "api_budget": api_budget,
        "spool": spooled,
        "streams": streams,
        **({} if tape is None else {"tape": tape}),
        "problems": [*problems, *_spool_problems(spooled), *(p for s in streams.values() for p in s["problems"])],
    }


STREAM_ALIVE_S = 30  # a stream publishes every 5 s; silent this long, it is not streaming
_STREAMS = """
SELECT channel, instance, updated_at, state FROM vvv.streams ORDER BY channel
"""
_STREAM_RUNS = """
SELECT DISTINCT ON (collector) collector, id, status, started_at, fetched, inserted, error,
       (SELECT string_agg(notes, '; ' ORDER BY started_at) FROM vvv.runs g
        WHERE g.collector = r.collector AND g.started_at > %(now)s - interval '24 hours' AND g.notes IS NOT NULL)
FROM vvv.runs r WHERE collector LIKE 'stream:%%' AND started_at > %(now)s - interval '24 hours'
ORDER BY collector, started_at DESC, id DESC
"""


def stream_status(conn: psycopg.Connection, now: datetime) -> dict[str, Any]:
    """Per socket channel streamed in the last 24 h: live or not, its counters, lag, and the gaps of its runs."""
    if conn.execute("SELECT to_regclass('vvv.streams')").fetchone()[0] is None:
        conn.rollback()
        return {}
    live = {row[0]: row[1:] for row in conn.execute(_STREAMS).fetchall()}
    runs = {row[0].removeprefix("stream:"): row[1:] for row in conn.execute(_STREAM_RUNS, {"now": now}).fetchall()}
    conn.rollback()
    found = {}
    for channel in sorted(live.keys() | runs.keys()):
        instance, updated, state = live.get(channel, (None, None, {}))
        run_id, status, started, fetched, inserted, error, notes = runs.get(channel, (None,) * 7)
        streaming = updated is not None and (now - updated).total_seconds() < STREAM_ALIVE_S
        gaps = [note for note in (notes or "").split("; ") if note.startswith("gap ")]
        entry = {"streaming": streaming, "instance": instance, "updated_at": _iso(updated), **(state or {}),
                 "last_run": None if run_id is None else {"id": run_id, "status": status, "started_at": _iso(started),
                                                          "messages": fetched, "inserted": inserted, "error": error},
                 "gaps_24h": gaps}
        entry["problems"] = [f"stream {channel}: {error}"] if error else []
        found[channel] = entry
    return found


def offline_status(error: str, spool: Spool | None) -> dict[str, Any]:
    """What can be said while the database is unreachable: that, and what waits in the spool."""
    spooled = spool_status(spool)
    return {"collectors": {}, "instances": [], "api_budget": None, "spool": spooled, "database_error": error,
            "problems": [error, *_spool_problems(spooled)]}


def spool_status(spool: Spool | None) -> dict[str, Any] | None:
    if spool is None:
        return None
    usage, full = spool.usage(), spool.disk_full_since()
    return {"batches": usage.batches, "bytes": usage.bytes, "max_bytes": spool.max_bytes,
            "directory": str(spool.directory),
            "disk_full_at": None if full is None else datetime.fromtimestamp(full, UTC).isoformat()}


def _spool_problems(spool: dict[str, Any] | None) -> list[str]:
    if not spool:
        return []
    found = []
    if spool.get("disk_full_at"):
        found.append(f"the disk of the spool {spool['directory']} is full (since {_clock(spool['disk_full_at'])} UTC):"
                     " with the database unreachable, vvv stopped fetching; free space there")
    if spool["batches"]:
        found.append(f"{spool['batches']} batches ({spool['bytes'] / 2**20:.1f} MiB of"
                     f" {spool['max_bytes'] / 2**20:.0f} MiB) wait in the spool {spool['directory']}:"
                     " the database was unreachable; the next pass stores them")
    return found


def _api_budget(reported: dict[str, Any], at: datetime | None, reserve: int, now: datetime) -> dict[str, Any]:
    paused = daily_pause(Budget(**{k: reported.get(k) for k in attrs.fields_dict(Budget)}), at, reserve, now)
    return {**reported, "reported_at": _iso(at), "paused_until": _iso(paused)}


def _instances(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    rows = store.live_instances(conn, now - timedelta(seconds=INSTANCE_ALIVE_S))
    return [
        {"name": name, "role": role, "started_at": _iso(started), "heartbeat_at": _iso(beat), "schedule": schedule}
        for name, role, started, beat, schedule in rows
    ]


def _collector_status(
    conn: psycopg.Connection, spec: Spec, config: CollectorConfig, now: datetime, scheduled: dict[str, Any] | None
) -> dict[str, Any]:
    last = store.last_run(conn, spec.name)
    rows_24h, revised_24h, rejects_24h, unsuccessful_24h = store.last_day_totals(conn, spec.name, now)
    newest = store.newest_record_at(conn, spec)
    entry = {
        "enabled": config.enabled,
        "state": _state(config, scheduled),
        "next_due": None if scheduled is None else scheduled.get("next_due"),
        "last_run": None if last is None else dict(zip(
            ("id", "status", "started_at", "finished_at", "inserted", "revised", "duplicates", "rejects", "error"),
            (last[0], last[1], _iso(last[2]), _iso(last[3]), *last[4:]), strict=True,
        )),
        "rows_24h": int(rows_24h),
        "revised_24h": int(revised_24h),  # stored records replaced by a new version the API served
        "rejects_24h": int(rejects_24h),
        "unsuccessful_runs_24h": unsuccessful_24h,
        "newest_record_at": _iso(newest),
        "lag_seconds": None if newest is None else round((now - newest).total_seconds()),
    }
    entry["problems"] = _problems(spec.name, config, entry, now)
    entry["problems"] += _silent_tickers(conn, spec, config, now)
    return entry


def _state(config: CollectorConfig, scheduled: dict[str, Any] | None) -> str:
    if not config.enabled:
        return "disabled"
    if scheduled is None:
        return "not scheduled"  # no `vvv run` is active, or it does not run this collector
    return "running" if scheduled.get("running") else "waiting"


def _problems(name: str, config: CollectorConfig, entry: dict[str, Any], now: datetime) -> list[str]:
    if not config.enabled:
        return []
    found = []
    last = entry["last_run"]
    if last is not None and last["status"] == "failed":
        found.append(f"{name}: last run {last['id']} failed: {last['error']}")
    elif last is not None and HALT_MARK in (last["error"] or ""):  # stuck at a page it cannot read
        found.append(f"{name}: last run {last['id']} is stuck: {last['error']}")
    lag = entry["lag_seconds"]
    if config.stale_after is not None and calendar.phase(now) == "regular" and (lag is None or lag > config.stale_after):
        age = "no records" if lag is None else f"newest record is {_age(lag)} old"
        found.append(f"{name}: stale during the regular session: {age} (stale_after {_age(config.stale_after)})")
    return found


SILENT_DAYS = 5  # market days of collection without a single record before a ticker looks misspelled
_CANDIDATE_DAYS = 15  # how far back (in market days) to look for those days of collection
_SILENT = """
SELECT watch.scope FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS watch(scope, ticker, n)
WHERE EXISTS (SELECT 1 FROM vvv.cursors WHERE collector = %s AND scope = watch.scope)
  AND NOT EXISTS (SELECT 1 FROM {table} WHERE ticker = watch.ticker AND {time} >= %s)
ORDER BY watch.n
"""


def _silent_tickers(conn: psycopg.Connection, spec: Spec, config: CollectorConfig, now: datetime) -> list[str]:
    """Watchlist tickers with no record over the last SILENT_DAYS market days the collector ran:
    a ticker the API spells otherwise (`BRK-B` for `BRK.B`) returns nothing, and looks "ok" forever.

    Two queries whatever the watchlist: one probe of vvv.runs per candidate day, one probe of
    the (ticker, time) index per ticker. Only tickers with a cursor count (they have been collected).
    """
    collector = COLLECTORS.get(spec.name)
    if not config.enabled or collector is None or collector.partitions is None or "ticker" not in spec.column_names:
        return []
    days = _market_days_before(now, _CANDIDATE_DAYS)
    starts = [datetime.combine(day, datetime.min.time(), tzinfo=calendar.NY) for day in days]
    ends = [now, *starts[:-1]]  # a day's runs are those until the next market day begins (its weekend too)
    collected = store.collected_days(conn, spec.name, starts, ends, limit=SILENT_DAYS)
    if len(collected) < SILENT_DAYS:
        conn.rollback()
        return []
    query = sql.SQL(_SILENT).format(table=sql.Identifier(*spec.table.split(".")), time=sql.Identifier(spec.time_column))
    scopes = collector.partitions_of(config.options)  # a ticker, or crossed with more ("SPY/1m")
    silent = conn.execute(query, (list(scopes), [ticker_of(s) for s in scopes], spec.name, collected[-1])).fetchall()
    conn.rollback()
    noun = getattr(collector.strategy, "noun", "records")  # a sweep names its records ("prints")
    return [f"{spec.name}: {ticker} has returned no {noun} in {SILENT_DAYS} market days of collection;"
            " is it spelled as the API spells it?" for (ticker,) in silent]


def _market_days_before(now: datetime, count: int) -> list[date]:
    """The last `count` market days up to `now` (New York), newest first."""
    days = [calendar.last_trading_day(now.astimezone(calendar.NY).date())]
    while len(days) < count:
        days.append(calendar.previous_trading_day(days[-1]))
    return days


def render(report: dict[str, Any]) -> str:
    """The status for a terminal: a row per collector, then instances, budget and problems."""
    header = ("COLLECTOR", "STATE", "LAST RUN (UTC)", "OUTCOME", "ROWS LAST/24H", "REVISED 24H", "NEWEST AGE",
              "REJECTS 24H", "NEXT DUE (UTC)")
    rows = [header]
    for name, entry in report["collectors"].items():
        last = entry["last_run"] or {}
        rows.append((
            name,
            entry["state"],
            _clock(last.get("started_at")),
            last.get("status", "never ran"),
            f"{last.get('inserted', 0)}/{entry['rows_24h']}",
            str(entry["revised_24h"]),
            "-" if entry["lag_seconds"] is None else _age(entry["lag_seconds"]),
            str(entry["rejects_24h"]),
            _clock(entry["next_due"]),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    instances = report["instances"]
    lines.append("instances: " + (", ".join(f"{i['name']} {i['role']}" for i in instances) or "no vvv run is running"))
    lines.append("API budget: " + _budget(report["api_budget"]))
    spool = report.get("spool")
    if spool is not None:
        lines.append(f"spool: {spool['batches']} batches, {spool['bytes'] / 2**20:.1f} MiB of"
                     f" {spool['max_bytes'] / 2**20:.0f} MiB ({spool['directory']})")
    lines.extend(_render_streams(report.get("streams") or {}))
    from vvv.ops import tape

    lines.extend(tape.render(report.get("tape")))
    lines.extend(f"problem: {p}" for p in report["problems"])
    return "\n".join(lines)


def _render_streams(streams: dict[str, Any]) -> list[str]:
    """The socket's channels: a row each, then each gap of the last 24 h."""
    if not streams:
        return []
    rows = [("CHANNEL", "STATE", "MESSAGES", "ROWS", "BATCHES", "RECONNECTS", "GAPS", "GAP FILLS", "LAG")]
    for channel, entry in streams.items():
        state = "refused" if entry.get("refused") else ("streaming" if entry["streaming"] else "not streaming")
        lag = entry.get("lag_seconds")
        rows.append((channel, state, str(entry.get("messages", "-")), str(entry.get("rows", "-")),
                     str(entry.get("batches", "-")), str(entry.get("reconnects", "-")), str(entry.get("gaps", "-")),
                     str(entry.get("gap_fills", "-")), "-" if lag is None else f"{lag:.1f}s"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["", *("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)]
    lines += [f"gap: {channel}: {gap.removeprefix('gap ')}" for channel, entry in streams.items()
              for gap in entry["gaps_24h"]]
    return lines


def _budget(budget: dict[str, Any] | None) -> str:
    if budget is None:
        return "not reported yet"
    return (
        f"{_known(budget.get('per_minute_remaining'))} requests left this minute,"
        f" {_known(budget.get('daily_count'))} used today of {_known(budget.get('token_limit'))}"
        f" (as of {_clock(budget['reported_at'])})"
    )


def _clock(iso: str | None) -> str:
    return "-" if iso is None else iso[:19].replace("T", " ")


def _known(value: Any) -> str:
    return "?" if value is None else str(value)


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds}s"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
