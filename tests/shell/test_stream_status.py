"""What an operator sees of the streams: `vvv status`, its JSON, the status page and /metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import run_vvv
from tests.shell.test_stream import Running, fake_socket, make_stream  # noqa: F401 (a fixture)
from tests.faults import wait_for
from vvv.ops import page, status
from vvv.ops.metrics import Metrics, Sources


def test_status_page_and_metrics_show_each_channel_with_its_gaps(db_url, conn, cli_env, fake_socket, tmp_path) -> None:
    stream = make_stream(db_url, fake_socket, None, ["price:SPY", "option_trades"], tmp_path)
    with Running(stream):
        assert wait_for(lambda: all(s["joined"] for s in stream.stats().values()), 10)
        fake_socket.drop()
        fake_socket.wait_joined("option_trades")
        fake_socket.publish("price:SPY", [{"close": "562.82", "time": 1726670327692, "vol": 6015555}])
        assert wait_for(lambda: stream.stats()["price:SPY"]["rows"] == 1, 10)
        metrics = Metrics([], Sources(streams=stream.stats)).render()[0].decode()
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM vvv.streams").fetchone()[0] == 2 or
                        conn.rollback(), 10)
        report = status.collect_status(conn, [], now=datetime.now(UTC))
        result = run_vvv("status", "--json", env=cli_env, cwd=tmp_path)
    assert 'vvv_stream_messages_total{channel="price:SPY"} 1.0' in metrics
    assert 'vvv_stream_reconnects_total{channel="option_trades"} 1.0' in metrics
    assert 'vvv_stream_lag_seconds{channel="price:SPY"}' in metrics
    trades = report["streams"]["option_trades"]
    assert trades["streaming"] and trades["reconnects"] == 1 and trades["gaps"] == 1
    assert len(trades["gaps_24h"]) == 1 and "the nightly tape of" in trades["gaps_24h"][0]
    text = status.render(report)
    assert "CHANNEL" in text and "gap: option_trades:" in text and "1006" in text
    html = page.render(report, hours=[], rows={}, runs={}, now=datetime.now(UTC))
    assert "<h2>Streams</h2>" in html and "the nightly tape of" in html
    assert '"streams"' in result.stdout and "gaps_24h" in result.stdout
