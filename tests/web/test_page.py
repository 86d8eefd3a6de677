"""The status page as a pure function of the status data: every card, the chart, nothing unescaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vvv.ops import page, web

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
HOURS = [NOW.replace(minute=0) - timedelta(hours=47 - i) for i in range(48)]
EVIL = '<script>alert("x")</script>'


def _entry(**changes) -> dict:
    entry = {
        "enabled": True, "state": "waiting", "next_due": (NOW + timedelta(seconds=40)).isoformat(),
        "last_run": {"id": 7, "status": "ok", "started_at": (NOW - timedelta(minutes=1)).isoformat(),
                     "finished_at": NOW.isoformat(), "inserted": 12, "duplicates": 0, "rejects": 0, "error": None},
        "rows_24h": 1234, "rejects_24h": 2, "unsuccessful_runs_24h": 0,
        "newest_record_at": NOW.isoformat(), "lag_seconds": 65, "problems": [],
    }
    return {**entry, **changes}


def _report() -> dict:
    failed = _entry(last_run={"id": 8, "status": "failed", "started_at": NOW.isoformat(), "finished_at": None,
                              "inserted": 0, "duplicates": 0, "rejects": 0, "error": EVIL},
                    problems=[f"darkpool: last run 8 failed: {EVIL}"])
    return {
        "ok": False,
        "collectors": {"news": _entry(), "darkpool": failed},
        "instances": [{"name": "vm:1", "role": "active", "started_at": NOW.isoformat(), "heartbeat_at": NOW.isoformat()}],
        "api_budget": {"per_minute_remaining": 100, "daily_count": 2000, "token_limit": 20000,
                       "reported_at": NOW.isoformat()},
        "problems": [f"darkpool: last run 8 failed: {EVIL}"],
        "spool": {"batches": 3, "bytes": 4096, "note": EVIL},
        "database_error": EVIL,
    }


def _html() -> str:
    rows = {"news": [None] * 40 + [5, 0, 7, None, 9, 9, 9, 9], "darkpool": [3] * 48}
    runs = {"news": [{"status": "ok", "started_at": NOW, "inserted": 5, "error": None}],
            "darkpool": [{"status": "failed", "started_at": NOW, "inserted": 0, "error": EVIL}]}
    return page.render(_report(), hours=HOURS, rows=rows, runs=runs, now=NOW, instance="vm:1")


def test_a_card_per_collector_a_chart_a_strip_and_the_budget() -> None:
    html = _html()
    assert 'data-collector="news"' in html and 'data-collector="darkpool"' in html
    assert 'id="rows-chart"' in html and html.count('class="bar"') == 48 + 6
    assert html.count('class="run run-') == 2
    assert "18,000" in html, "requests left today: the limit minus those used"
    assert "1,234" in html and "1.1 m" in html and "in 40 s" in html


def test_the_page_refreshes_itself_fits_a_phone_and_loads_nothing_from_elsewhere() -> None:
    html = _html()
    assert '<meta http-equiv="refresh"' in html and 'name="viewport"' in html
    for external in ("http://", "https://", "<script", "src="):
        assert external not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), external


def test_every_string_from_the_database_is_escaped_and_unknown_fields_still_shown() -> None:
    html = _html()
    assert EVIL not in html and "&lt;script&gt;" in html
    assert "Outage spool: 3 batches" in html and "4,096 bytes" in html
    assert "database_error" in html, "a field this page does not know yet is shown as it is"


def test_an_empty_report_renders() -> None:
    html = page.render({"collectors": {}, "instances": [], "api_budget": None, "problems": []},
                       hours=[], rows={}, runs={}, now=NOW)
    assert "Not reported yet" in html and "no data yet" in html


def test_a_token_is_accepted_as_bearer_or_basic_password_only() -> None:
    import base64

    basic = base64.b64encode(b"me:s3cret").decode()
    assert web.authorized(None, None) and web.authorized("anything", "")
    assert web.authorized("Bearer s3cret", "s3cret") and web.authorized(f"Basic {basic}", "s3cret")
    assert not web.authorized(None, "s3cret") and not web.authorized("Bearer nope", "s3cret")
    assert not web.authorized("Basic !!!", "s3cret") and not web.authorized("s3cret", "s3cret")
