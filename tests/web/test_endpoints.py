"""The monitoring endpoints of a running `vvv run` (subprocess, fake API, real database)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pgserver
import pytest

from tests.conftest import run_vvv
from tests.faults import wait_for as _wait_for
from tests.shell.test_service import _fast_config
from tests.web.running import vvv_run, wait_ready
from vvv.collectors import COLLECTORS

METRICS = (
    "vvv_passes_total", "vvv_rows_inserted_total", "vvv_duplicates_total", "vvv_rejects_total",
    "vvv_api_requests_total", "vvv_api_minute_requests_remaining", "vvv_api_daily_requests_remaining",
    "vvv_newest_record_age_seconds", "vvv_last_success_timestamp_seconds", "vvv_spool_bytes",
    "vvv_spool_batches", "vvv_active", "vvv_build_info", "process_cpu_seconds_total",
    "process_resident_memory_bytes",
)


def _news_only(tmp_path: Path) -> None:
    _fast_config(tmp_path)
    with (tmp_path / "vvv.toml").open("a") as toml:
        for name in (n for n in COLLECTORS if n != "news"):
            toml.write(f"[collectors.{name}]\nenabled = false\n")


def test_endpoints_answer_with_their_content_types_and_metrics_move(cli_env: dict, tmp_path: Path) -> None:
    _news_only(tmp_path)
    with vvv_run(cli_env, tmp_path) as run:
        wait_ready(run)
        first = run.wait_for_metric("vvv_passes_total", 1, collector="news", outcome="ok")
        assert run.wait_for_metric("vvv_rows_inserted_total", 250, collector="news") == 250
        assert run.wait_for_metric("vvv_api_requests_total", 1, status="200") >= 1
        assert run.wait_for_metric("vvv_passes_total", first + 2, collector="news", outcome="ok") >= first + 2
        assert run.wait_for_metric("vvv_duplicates_total", 1, collector="news") >= 1

        metrics = run.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        for name in METRICS:
            assert f"\n{name}" in metrics.text, f"{name} missing from /metrics"
        assert run.metric("vvv_active") == 1
        assert run.metric("vvv_newest_record_age_seconds", collector="news") >= 0
        assert run.metric("vvv_spool_batches") == 0

        health = run.get("/healthz")
        assert (health.status_code, health.headers["content-type"]) == (200, "application/json")
        assert health.json()["ok"] is True and health.json()["database"] == "ok"
        ready = run.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"ok": True, "migrated": True, "role": "active"}

        served = run.get("/api/status")
        assert served.status_code == 200 and served.headers["content-type"] == "application/json"
        printed = run_vvv("status", "--json", env=cli_env, cwd=tmp_path)
        expected = json.loads(printed.stdout)
        assert set(served.json()) == set(expected)
        assert served.json()["collectors"]["news"]["rows_24h"] == expected["collectors"]["news"]["rows_24h"] == 250
        assert set(served.json()["collectors"]) == {"news"}, "the collectors this vvv run runs"

        page = run.get("/")
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert 'data-collector="news"' in page.text and 'id="rows-chart"' in page.text
        assert 'class="bar"' in page.text, "the chart has bars after passes that stored rows"
        assert "default-src 'none'" in page.headers["content-security-policy"]

        missing = run.get("/no/such/page")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/plain")
    assert run.proc.returncode == 0, run.log.read_text()[-3000:]


def test_a_token_guards_every_endpoint_when_listening_beyond_loopback(cli_env: dict, tmp_path: Path) -> None:
    _news_only(tmp_path)
    secret = "monitor-secret-51c3"
    refused = run_vvv("run", env=dict(cli_env, VVV_MONITOR_ADDRESS="0.0.0.0"), cwd=tmp_path)
    assert refused.returncode == 2
    assert "monitor.address" in refused.stderr and "token" in refused.stderr

    env = dict(cli_env, VVV_MONITOR_ADDRESS="0.0.0.0", VVV_MONITOR_TOKEN=secret)
    with vvv_run(env, tmp_path) as run:
        local = run.base.replace("0.0.0.0", "127.0.0.1")
        run.base = local
        for path in ("/", "/metrics", "/healthz", "/readyz", "/api/status"):
            denied = run.get(path)
            assert denied.status_code == 401 and "Basic" in denied.headers["www-authenticate"], path
        assert run.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert run.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        basic = base64.b64encode(f"anyone:{secret}".encode()).decode()
        assert run.get("/healthz", headers={"Authorization": f"Basic {basic}"}).status_code in (200, 503)
        log = run.log.read_text()
        assert "with the access token" in log
    assert secret not in run.log.read_text()


def test_healthz_turns_503_when_the_database_stops(cli_env: dict, tmp_path: Path) -> None:
    """vvv against a PostgreSQL of this test's own, stopped halfway."""
    _news_only(tmp_path)
    server = pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    try:
        env = dict(cli_env, VVV_DATABASE_URL=server.get_uri())
        with vvv_run(env, tmp_path) as run:
            wait_ready(run)
            assert run.get("/healthz").status_code == 200
            server.cleanup()
            assert _wait_for(lambda: run.get("/healthz").status_code == 503, timeout=20)
            body = run.get("/healthz").json()
            assert body["ok"] is False and body["database"] == "unavailable"
            assert "database" in body["reason"]
            assert _wait_for(lambda: run.metric("vvv_database_up") == 0, timeout=20), "metrics say the database is down"
            assert run.get("/api/status").status_code == 503
            assert run.get("/").status_code == 503
            assert _wait_for(lambda: run.get("/readyz").status_code == 503, timeout=20), "a lost lock is not ready"
    finally:
        server.cleanup()


@pytest.mark.parametrize("env, key", [
    ({"VVV_MONITOR_PORT": "nine"}, "VVV_MONITOR_PORT"),
    ({"VVV_MONITOR_PORT": "70000"}, "monitor.port"),
    ({"VVV_MONITOR_ADDRESS": "192.0.2.1"}, "monitor.address"),
    ({"VVV_MONITOR_TOKEN_FILE": "/no/such/token"}, "monitor.token_file"),
])
def test_monitor_settings_errors_name_the_key(cli_env: dict, tmp_path: Path, env: dict, key: str) -> None:
    result = run_vvv("status", env=dict(cli_env, **env), cwd=tmp_path)
    assert result.returncode == 2 and key in result.stderr, result.stderr
