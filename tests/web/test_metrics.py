"""The metrics registry in-process, and the Grafana dashboard that reads it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from attrs import frozen
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT
from vvv.io.http import Budget
from vvv.ops.metrics import Freshness, Metrics, Sources

DASHBOARD = ROOT / "docs" / "grafana" / "vvv.json"
NOW = 1_800_000_000.0


@frozen
class _Result:
    collector: str
    status: str
    inserted: int
    duplicates: int
    rejects: int


@frozen
class _Usage:
    batches: int
    bytes: int


def _samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.render()[0].decode()) for s in family.samples}


def _metrics(**sources) -> Metrics:
    newest = datetime.fromtimestamp(NOW, UTC) - timedelta(seconds=90)
    defaults = dict(
        responses=lambda: {"200": 5, "429": 1},
        budget=lambda: Budget(per_minute_remaining=110, daily_count=1500, token_limit=20000),
        spool=lambda: _Usage(batches=2, bytes=2048),
        active=lambda: True,
        freshness=lambda: {"news": Freshness(newest_record_at=newest, last_success_at=newest)},
    )
    return Metrics(["news", "darkpool"], Sources(**{**defaults, **sources}), clock=lambda: NOW)


def test_counters_count_passes_and_gauges_read_the_sources() -> None:
    metrics = _metrics()
    metrics.observe(_Result("news", "ok", inserted=10, duplicates=3, rejects=1))
    metrics.observe(_Result("news", "partial", inserted=2, duplicates=0, rejects=0))
    metrics.observe_crash("darkpool")
    got = _samples(metrics)
    assert got[("vvv_passes_total", (("collector", "news"), ("outcome", "ok")))] == 1
    assert got[("vvv_passes_total", (("collector", "news"), ("outcome", "partial")))] == 1
    assert got[("vvv_passes_total", (("collector", "darkpool"), ("outcome", "failed")))] == 1
    assert got[("vvv_passes_total", (("collector", "darkpool"), ("outcome", "ok")))] == 0, "every series from the start"
    assert got[("vvv_rows_inserted_total", (("collector", "news"),))] == 12
    assert got[("vvv_duplicates_total", (("collector", "news"),))] == 3
    assert got[("vvv_rejects_total", (("collector", "news"),))] == 1
    assert got[("vvv_api_requests_total", (("status", "429"),))] == 1
    assert got[("vvv_api_minute_requests_remaining", ())] == 110
    assert got[("vvv_api_daily_requests_remaining", ())] == 18500
    assert got[("vvv_newest_record_age_seconds", (("collector", "news"),))] == 90
    assert got[("vvv_last_success_timestamp_seconds", (("collector", "news"),))] == NOW - 90
    assert got[("vvv_spool_batches", ())] == 2 and got[("vvv_spool_bytes", ())] == 2048
    assert got[("vvv_active", ())] == 1 and got[("vvv_database_up", ())] == 1
    assert ("process_cpu_seconds_total", ()) in got


def test_a_failing_source_leaves_its_gauges_out_and_never_fails_the_scrape() -> None:
    def broken():
        raise RuntimeError("down")

    got = _samples(_metrics(responses=broken, budget=broken, spool=lambda: None, active=broken, freshness=broken))
    assert got[("vvv_database_up", ())] == 0
    assert got[("vvv_spool_batches", ())] == 0
    assert not any(name in ("vvv_api_minute_requests_remaining", "vvv_active") for name, _ in got)


def test_two_services_in_one_process_keep_separate_registries() -> None:
    first, second = _metrics(), _metrics()
    first.observe(_Result("news", "ok", inserted=1, duplicates=0, rejects=0))
    assert _samples(second)[("vvv_rows_inserted_total", (("collector", "news"),))] == 0


def test_the_grafana_dashboard_reads_only_metrics_vvv_serves() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    served = {name.removesuffix("_total") for name, _ in _samples(_metrics())} | {
        name for name, _ in _samples(_metrics())}
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\b((?:vvv|process)_[a-z_]+)\b", expr)}
    assert used and used <= served, f"the dashboard uses metrics vvv does not serve: {sorted(used - served)}"
    assert {"vvv_passes_total", "vvv_rows_inserted_total", "vvv_newest_record_age_seconds",
            "vvv_api_daily_requests_remaining"} <= used
    assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS"
    sources = {json.dumps(p["datasource"]) for p in dashboard["panels"]}
    assert sources == {json.dumps({"type": "prometheus", "uid": "${DS_PROMETHEUS}"})}
