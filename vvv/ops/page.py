"""The status page at `/`: server-rendered HTML, a pure function of the status data.

A card per collector, a chart of rows stored per hour, a strip of recent run outcomes and
the API budget. No script and nothing fetched from elsewhere: the CSS is inline, the
charts are inline SVG, and a meta refresh reloads it. Every string from the database or
the API goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from vvv import __version__
from vvv.ops import charts, tape

REFRESH_S = 30
_KNOWN = {"ok", "collectors", "instances", "api_budget", "problems", "spool", "streams", "tape"}

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#f3f4f6}
header{background:#1f2937;color:#fff;padding:.8rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:baseline}
header h1{font-size:1.2rem;margin:0}
header .meta{color:#cbd5e1;font-size:.85rem}
main{max-width:72rem;margin:0 auto;padding:1rem}
section{margin:0 0 1.2rem}
h2{font-size:1rem;margin:0 0 .5rem;color:#374151}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.8rem}
.card{background:#fff;border-radius:8px;padding:.8rem;border-top:5px solid #9ca3af;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card.ok{border-top-color:#2e9d4f}.card.partial{border-top-color:#e0a100}.card.failed,.card.problem{border-top-color:#d0352b}
.card h3{margin:0 0 .4rem;font-size:1.05rem;display:flex;justify-content:space-between;gap:.5rem}
.badge{font-size:.75rem;font-weight:600;padding:.1rem .45rem;border-radius:999px;background:#e5e7eb;color:#374151;white-space:nowrap}
.badge.ok{background:#d1fae5;color:#065f46}.badge.partial{background:#fef3c7;color:#92400e}
.badge.failed,.badge.problem{background:#fee2e2;color:#991b1b}
dl{display:grid;grid-template-columns:auto 1fr;gap:.15rem .8rem;margin:0 0 .5rem;font-size:.9rem}
dt{color:#6b7280}dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.error{font-size:.8rem;color:#991b1b;overflow-wrap:anywhere;margin:.3rem 0}
.strip{max-width:100%;height:auto}
.panel{background:#fff;border-radius:8px;padding:.8rem;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow-x:auto}
.chart{width:100%;min-width:34rem;height:auto;display:block}
.scroll{overflow-x:auto;direction:rtl}.scroll>*{direction:ltr}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.85rem;margin-top:.4rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
table{border-collapse:collapse;font-size:.9rem;width:100%}
td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.problems{background:#fee2e2;color:#7f1d1d;border-radius:8px;padding:.6rem 1rem}
.problems ul{margin:.2rem 0;padding-left:1.2rem}
footer{font-size:.8rem;color:#6b7280;padding:0 1rem 1.5rem;text-align:center}
footer a{color:#374151}
@media (max-width:30rem){main{padding:.6rem}.cards{grid-template-columns:1fr}}
"""


def render(
    report: Mapping[str, Any],
    *,
    hours: Sequence[datetime],
    rows: Mapping[str, Sequence[int | None]],
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    now: datetime,
    instance: str = "",
) -> str:
    """The whole page, for the collectors in `report["collectors"]` in their order."""
    collectors = report.get("collectors") or {}
    body = [
        _problems(report.get("problems") or []),
        '<section><h2>Collectors</h2><div class="cards">',
        *(_card(name, entry, runs.get(name, ()), now) for name, entry in collectors.items()),
        "</div></section>",
        _chart(hours, {name: rows.get(name, ()) for name in collectors}),
        tape.section(report.get("tape")),
        _budget(report.get("api_budget"), report.get("spool"), now),
        _instances(report.get("instances") or []),
        _streams(report.get("streams") or {}),
        _others(report),
    ]
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        '<link rel="icon" href="data:,">'
        f"<title>vvv status</title><style>{_CSS}</style></head><body>"
        f'<header><h1>vvv status</h1><span class="meta">{escape(instance)} · {_clock(now)} UTC'
        f" · refreshes every {REFRESH_S} s</span></header>"
        f"<main>{''.join(body)}</main>"
        f'<footer>vvv {escape(__version__)} · <a href="/api/status">/api/status</a> · <a href="/metrics">/metrics</a>'
        ' · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></footer>'
        "</body></html>\n"
    )


def _problems(problems: Sequence[Any]) -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{escape(str(p))}</li>" for p in problems)
    return f'<section class="problems" role="alert"><strong>Problems</strong><ul>{items}</ul></section>'


def _card(name: str, entry: Mapping[str, Any], runs: Sequence[Mapping[str, Any]], now: datetime) -> str:
    last = entry.get("last_run") or {}
    outcome = str(last.get("status") or "never ran")
    tone = "problem" if entry.get("problems") else outcome if outcome in ("ok", "partial", "failed") else ""
    state = str(entry.get("state") or "")
    lag = entry.get("lag_seconds")
    facts = [
        ("State", state or "-"),
        ("Last run", f"{outcome}, {_ago(last.get('started_at'), now)}" if last else "never"),
        ("Rows last run", _number(last.get("inserted")) if last else "-"),
        ("Rows last 24 h", _number(entry.get("rows_24h"))),
        ("Lag (newest record)", "-" if lag is None else _age(lag) if lag >= 0 else f"{_age(-lag)} ahead"),
        ("Rejects 24 h", _number(entry.get("rejects_24h"))),
        ("Next run", _until(entry.get("next_due"), now)),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    error = f'<p class="error">{escape(str(last["error"]))}</p>' if last.get("error") else ""
    strip = charts.outcome_strip([(str(r.get("status")), _run_caption(r)) for r in runs])
    return (
        f'<article class="card {escape(tone)}" data-collector="{escape(name)}">'
        f'<h3>{escape(name)} <span class="badge {escape(tone)}">{escape(outcome)}</span></h3>'
        f"<dl>{rows}</dl>{error}"
        f'<div title="recent runs, oldest first">{strip}</div></article>'
    )


def _run_caption(run: Mapping[str, Any]) -> str:
    started = run.get("started_at")
    when = _clock(started) if isinstance(started, datetime) else str(started)
    caption = f"{when} UTC: {run.get('status')}, {_number(run.get('inserted'))} rows"
    return f"{caption}: {run['error']}" if run.get("error") else caption


def _chart(hours: Sequence[datetime], rows: Mapping[str, Sequence[int | None]]) -> str:
    labels = [f"{h:%H}:00" for h in hours]
    svg = charts.stacked_bars(rows, labels=labels, title="Rows stored per hour per collector, last 48 hours (UTC)")
    legend = "".join(
        f'<span><span class="swatch" style="background:{charts.colour(i)}"></span>{escape(name)}'
        f" ({_number(sum(v or 0 for v in values))})</span>"
        for i, (name, values) in enumerate(rows.items())
    )
    first = f"from {_clock(hours[0])} UTC" if hours else ""
    return (f'<section><h2>Rows stored per hour, last {len(hours)} hours {escape(first)}</h2>'
            f'<div class="panel" id="rows-chart"><div class="scroll" title="the latest hours are on the right">{svg}</div>'
            f'<div class="legend">{legend}</div></div></section>')


def _budget(budget: Mapping[str, Any] | None, spool: Any, now: datetime) -> str:
    spooled = ""
    if isinstance(spool, Mapping):
        spooled = (f"<p>Outage spool: {escape(_number(spool.get('batches')))} batches,"
                   f" {escape(_number(spool.get('bytes')))} bytes waiting for the database.</p>")
    if not budget:
        table = "<p>Not reported yet: the API reports it with every response.</p>"
    else:
        used, limit = budget.get("daily_count"), budget.get("token_limit")
        left = limit - used if isinstance(used, int) and isinstance(limit, int) else None
        facts = [
            ("Requests left this minute", _number(budget.get("per_minute_remaining"))),
            ("Requests today", _number(used)),
            ("Daily limit", _number(limit)),
            ("Left today", _number(left)),
            ("As of", _ago(budget.get("reported_at"), now)),
        ]
        if budget.get("paused_until"):
            facts.append(("Paused (daily budget spent) until", f"{_until(budget['paused_until'], now)}"))
        table = "<table>" + "".join(f'<tr><th>{escape(k)}</th><td class="num">{escape(v)}</td></tr>'
                                    for k, v in facts) + "</table>"
    return f'<section><h2>API budget</h2><div class="panel" id="budget">{table}{spooled}</div></section>'


def _instances(instances: Sequence[Mapping[str, Any]]) -> str:
    if not instances:
        rows = '<tr><td colspan="3">no vvv run has reported in the last minute</td></tr>'
    else:
        rows = "".join(f"<tr><td>{escape(str(i.get('name')))}</td><td>{escape(str(i.get('role')))}</td>"
                       f"<td>since {escape(str(i.get('started_at'))[:19].replace('T', ' '))}</td></tr>"
                       for i in instances)
    return f'<section><h2>Instances</h2><div class="panel"><table>{rows}</table></div></section>'


def _streams(streams: Mapping[str, Any]) -> str:
    """The socket's channels: counters, lag, and each gap of the last 24 h."""
    if not streams:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("channel", "state", "messages", "rows", "batches", "reconnects", "gaps",
                                             "gap fills", "lag"))
    rows = []
    for channel, entry in streams.items():
        state = "refused" if entry.get("refused") else ("streaming" if entry.get("streaming") else "not streaming")
        lag = entry.get("lag_seconds")
        cells = [channel, state, *(_number(entry.get(k)) for k in ("messages", "rows", "batches", "reconnects", "gaps",
                                                                   "gap_fills")), "-" if lag is None else f"{lag:.1f} s"]
        rows.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    gaps = "".join(f"<li>{escape(channel)}: {escape(gap)}</li>" for channel, entry in streams.items()
                   for gap in entry.get("gaps_24h") or ())
    listed = f"<ul>{gaps}</ul>" if gaps else ""
    return (f'<section><h2>Streams</h2><div class="panel"><table><tr>{head}</tr>{"".join(rows)}</table>'
            f"{listed}</div></section>")


def _others(report: Mapping[str, Any]) -> str:
    """Fields of the status this page has no special place for yet, shown as they are."""
    extra = {k: v for k, v in report.items() if k not in _KNOWN}
    if not extra:
        return ""
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_plain(v))}</td></tr>" for k, v in extra.items())
    return f'<section><h2>More</h2><div class="panel"><table>{rows}</table></div></section>'


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(map(_plain, value)) or "-"
    return "-" if value is None else str(value)


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "-" if value is None else str(value)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _ago(value: Any, now: datetime) -> str:
    when = _parse(value)
    if when is None or when.tzinfo is None:
        return "-" if value is None else str(value)
    return f"{_age(round((now - when).total_seconds()))} ago"


def _until(value: Any, now: datetime) -> str:
    when = _parse(value)
    if when is None or when.tzinfo is None:
        return "off" if value is None else str(value)
    seconds = round((when - now).total_seconds())
    return "due now" if seconds <= 0 else f"in {_age(seconds)} ({_clock(when)[11:16]} UTC)"


def _age(seconds: int | float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


def _clock(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")
