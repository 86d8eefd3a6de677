"""Options flow end to end: the fake API (either reading of its time bounds) -> runner -> PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FLOW_PATH, FakeApi
from vvv.collectors import COLLECTORS, options_flow
from vvv.config import CollectorConfig
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

FLOW = COLLECTORS["options_flow"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _config(**options) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=options_flow.Settings(**options))


@pytest.fixture(params=[True, False], ids=["inclusive-bounds", "exclusive-bounds"])
def api(request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, flow_count=900, bounds_inclusive=request.param) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    yield http
    http.close()


def _pass(conn, client, clock=LATER, **options):
    return run_once(FLOW, _config(**options), conn=conn, client=client, clock=lambda: clock)


def _stored(conn: psycopg.Connection) -> list[str]:
    ids = [r[0] for r in conn.execute("SELECT id FROM trading.options_flow_alerts")]
    conn.rollback()
    return ids


def _served(alerts: list[dict], since: datetime | None = None) -> set[str]:
    records, rejects = options_flow.COLLECTOR.parse({"data": alerts})
    assert rejects == []
    return {r.id for r in records if since is None or r.created_at >= since}


def test_the_first_pass_collects_the_last_hours_then_passes_store_exactly_what_was_served(conn, client, api) -> None:
    result = _pass(conn, client, clock=NOW, first_run_hours=1)
    assert result.status == "ok", result.error
    stored = _stored(conn)
    since = NOW - timedelta(hours=1)
    assert len(stored) == len(set(stored)) and set(stored) == _served(api.flow_alerts(), since)
    assert 0 < len(stored) < len(api.flow_alerts())
    for added in (0, 7, 199, 201, 450):
        api.add_flow(added)
        before = len(api.requests)
        result = _pass(conn, client)
        assert result.status == "ok", result.error
        stored = _stored(conn)
        assert len(stored) == len(set(stored))
        assert set(stored) == _served(api.flow_alerts(), since)
        assert len(api.requests) - before <= math.ceil(result.fetched / 200) + 1
    assert store.load_cursor(conn, FLOW.spec, "").newest == max(
        r.created_at for r in options_flow.COLLECTOR.parse({"data": api.flow_alerts()})[0])


def test_an_alert_published_late_within_the_lookback_is_collected(conn, client, api) -> None:
    _pass(conn, client, clock=NOW)
    newest = store.load_cursor(conn, FLOW.spec, "").newest
    late = api.add_flow(3, at=newest - timedelta(seconds=30))
    result = _pass(conn, client)
    assert result.status == "ok" and result.inserted == 3
    assert _served(late) <= set(_stored(conn))


def test_filters_go_into_every_request_and_the_api_applies_them(conn, client, api) -> None:
    filters = {"min_premium": 250000, "is_sweep": True, "rule_name": ["RepeatedHits", "FloorTradeLargeCap"],
               "issue_types": ["ETF", "Common Stock"], "ticker_symbol": "SPY,AAPL,QQQ", "max_ask_perc": 0.75}
    result = _pass(conn, client, clock=NOW, page_size=5, filters=filters)
    assert result.status == "ok", result.error
    flows = [r for r in api.requests if r.path == FLOW_PATH]
    assert len(flows) > 1
    for request in flows:
        pairs = list(request.pairs)
        assert ("min_premium", "250000") in pairs and ("is_sweep", "true") in pairs
        assert ("ticker_symbol", "SPY,AAPL,QQQ") in pairs and ("max_ask_perc", "0.75") in pairs
        assert [v for n, v in pairs if n == "rule_name[]"] == ["RepeatedHits", "FloorTradeLargeCap"]
        assert [v for n, v in pairs if n == "issue_types[]"] == ["ETF", "Common Stock"]
    rows = conn.execute(
        "SELECT ticker, total_premium, has_sweep, alert_rule FROM trading.options_flow_alerts").fetchall()
    conn.rollback()
    assert rows, "the fake's alerts should include some that pass these filters"
    for ticker, premium, sweep, rule in rows:
        assert ticker in ("SPY", "AAPL", "QQQ") and premium >= 250000 and sweep
        assert rule in ("RepeatedHits", "FloorTradeLargeCap")


def test_malformed_alerts_are_rejects_and_the_rest_is_stored(conn, client, api) -> None:
    api.malformed_items(every=10)
    result = _pass(conn, client, clock=NOW)
    assert result.status == "ok", result.error
    assert result.rejects > 0 and result.inserted == len(_stored(conn)) > 0
    reasons = [r[0] for r in conn.execute("SELECT reason FROM vvv.rejects WHERE run_id = %s", (result.run_id,))]
    conn.rollback()
    assert any("option_chain" in reason for reason in reasons)
