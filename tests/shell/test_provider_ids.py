"""The provider's own ids: flow alerts are keyed by the API's `id` when it sends one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, options_flow
from vvv.config import CollectorConfig
from vvv.io import migrate
from vvv.io.http import ApiClient
from vvv.ops import check
from vvv.run.runner import RunResult, run_once

FLOW = COLLECTORS["options_flow"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, flow_count=300) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    yield http
    http.close()


def _pass(conn: psycopg.Connection, client: ApiClient) -> RunResult:
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                             options=options_flow.Settings(first_run_hours=4))
    return run_once(FLOW, config, conn=conn, client=client, clock=lambda: NOW + timedelta(minutes=10))


def test_the_fake_serves_the_live_ids_on_most_alerts_and_omits_id_on_some(api) -> None:
    alerts = api.flow_alerts()
    with_id = [a for a in alerts if "id" in a]
    assert len(alerts) * 0.8 <= len(with_id) < len(alerts)
    assert len({a["id"] for a in with_id}) == len(with_id)
    assert all(isinstance(a["rule_id"], str) and len(a["rule_id"]) == 36 for a in alerts)


def test_two_alerts_sharing_chain_rule_and_instant_but_not_id_are_two_rows(conn, client, api) -> None:
    index = next(i for i, alert in enumerate(api.flow_alerts()) if "id" in alert)
    original = api.flow_alerts()[index]
    twin = api.twin_flow_alert(index)
    result = _pass(conn, client)
    assert result.status == "ok", result.error
    rows = conn.execute("SELECT id, rule_id FROM trading.options_flow_alerts WHERE option_chain = %s"
                        " AND alert_rule = %s ORDER BY id", (original["option_chain"], original["alert_rule"])).fetchall()
    assert {row[0] for row in rows} >= {original["id"], twin["id"]}
    assert {row[1] for row in rows} == {original["rule_id"]}
    assert conn.execute("SELECT count(*) FROM trading.options_flow_alerts WHERE extra ? 'id' OR extra ? 'rule_id'"
                        ).fetchone() == (0,)


def test_an_alert_without_an_id_is_keyed_by_the_hash(conn, client, api) -> None:
    _pass(conn, client)
    without = [a for a in api.flow_alerts() if "id" not in a]
    (record,), _ = options_flow.COLLECTOR.parse({"data": [without[0]]})
    assert conn.execute("SELECT count(*) FROM trading.options_flow_alerts WHERE id = %s",
                        (record.id,)).fetchone() == (1,)
    assert len(record.id) == 64


def test_the_migration_moves_the_ids_from_extra_to_the_key_and_rule_id_column(empty_db_url: str) -> None:
    migrations = migrate.discover(migrate.sql_dir())
    before = [m for m in migrations if m.name != "options_flow/002_provider_id.sql"]
    with psycopg.connect(empty_db_url) as conn:
        migrate.migrate(conn, before)
        for hashed, extra in [("h1", '{"id": "u-1", "rule_id": "r-1", "iv_start": "0.1"}'),
                              ("h2", '{"rule_id": "r-2"}'), ("h3", '{}'), ("h4", '{"id": "h3"}')]:
            conn.execute("INSERT INTO trading.options_flow_alerts (id, created_at, option_chain, alert_rule,"
                         " underlying, expiry, option_type, strike, extra) VALUES (%s, now(), 'AAPL260320C00150000',"
                         " 'RepeatedHits', 'AAPL', '2026-03-20', 'call', 150, %s)", (hashed, extra))
        conn.commit()
        migrate.migrate(conn, migrations)
        rows = conn.execute("SELECT id, rule_id, extra FROM trading.options_flow_alerts ORDER BY id").fetchall()
        assert check.problems(conn, [c.spec for c in COLLECTORS.values()]) == []
    assert rows == [("h2", "r-2", {}), ("h3", None, {}), ("h4", None, {"id": "h3"}), ("u-1", "r-1", {"iv_start": "0.1"})]
