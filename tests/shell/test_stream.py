"""The stream against the fake socket, the fake REST API and the real PostgreSQL: drops, refusals,
an outage of the database, a restart; every item exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from tests.conftest import TOKEN, run_vvv
from tests.faults import DatabaseProxy, wait_for
from tests.fakes.socket import FakeSocket
from vvv import config as vvv_config
from vvv.config import StreamConfig
from vvv.io.http import ApiClient
from vvv.io.socket import Backoff
from vvv.io.spool import Spool
from vvv.run.stream import GapFiller, Stream

FAST = {"backoff": Backoff(first=0.05, cap=0.2, healthy_after=60), "idle_s": 0.02}


@pytest.fixture
def fake_socket() -> Iterator[FakeSocket]:
    with FakeSocket(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def client(fake_api) -> Iterator[ApiClient]:
    api = ApiClient(base_url=fake_api.url, token=TOKEN, max_retries=2, sleep=lambda _: None)
    yield api
    api.close()


def socket_alert(item: dict[str, Any]) -> dict[str, Any]:
    """A REST alert of the fake API as the socket sends it: rule_name, epoch-ms times, floats, no expiry/strike/type."""
    ms = int(datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")).timestamp() * 1000)
    payload = {k: v for k, v in item.items() if k not in ("alert_rule", "created_at", "expiry", "type", "strike")}
    for money in ("price", "underlying_price", "total_premium", "total_ask_side_prem", "total_bid_side_prem",
                  "volume_oi_ratio"):
        if payload.get(money) is not None:
            payload[money] = float(payload[money])
    return {**payload, "rule_name": item["alert_rule"], "start_time": ms - 5, "end_time": ms, "executed_at": ms,
            "trade_ids": ["ff06a88c-797e-4577-9c69-7154c1972b79"], "url": ""}


def new_alerts(fake_api, n: int) -> list[dict[str, Any]]:
    """n new alerts on the REST feed that carry the provider's id (as every socket alert does)."""
    found: list[dict[str, Any]] = []
    while len(found) < n:
        found += [a for a in fake_api.add_flow(1) if a.get("id")]
    return found


def make_stream(db_url: str, fake_socket: FakeSocket, client: ApiClient | None, channels: list[str],
                tmp_path, **overrides: Any) -> Stream:
    conf = StreamConfig(channels=tuple(channels), url=fake_socket.url, batch_ms=30, **overrides)
    collectors = vvv_config.load({"HOME": str(tmp_path)}, cwd=tmp_path).collectors
    filler = None if client is None else GapFiller(url=db_url, statement_timeout_s=30, client=client,
                                                   collectors=collectors, lookback_s=300, instance="test")
    return Stream(url=db_url, statement_timeout_s=30, token=TOKEN, config=conf, spool=Spool(tmp_path / "spool",
                  max_bytes=2**30), filler=filler, instance="test", socket_options=FAST)


class Running:
    """A stream on a thread of its own, stopped at the end of the `with`."""

    def __init__(self, stream: Stream) -> None:
        self.stream, self.stop, self.error = stream, threading.Event(), None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.stream.run(self.stop.is_set)
        except BaseException as error:  # handed to the test
            self.error = error

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def ids_in(conn: psycopg.Connection, table: str, column: str = "id") -> list[str]:
    rows = conn.execute(f"SELECT {column}::text FROM {table}").fetchall()
    conn.commit()
    return [r[0] for r in rows]


def stored(conn: psycopg.Connection, ids: list[str]) -> dict[str, int]:
    """How many rows of trading.options_flow_alerts each id has (its key: at most one, so: present or not)."""
    rows = conn.execute("SELECT id, count(*) FROM trading.options_flow_alerts WHERE id = ANY(%s) GROUP BY id",
                        (ids,)).fetchall()
    conn.commit()
    return dict(rows)


def test_a_drop_mid_stream_with_alerts_served_meanwhile_only_by_rest_ends_with_every_alert_exactly_once(
        db_url, conn, fake_api, fake_socket, client, tmp_path) -> None:
    stream = make_stream(db_url, fake_socket, client, ["flow-alerts"], tmp_path)
    with Running(stream) as running:
        assert wait_for(lambda: stream.stats()["flow-alerts"]["joined"], 10)
        before = new_alerts(fake_api, 6)
        fake_socket.publish("flow-alerts", [socket_alert(a) for a in before])
        assert wait_for(lambda: len(stored(conn, [a["id"] for a in before])) == 6, 10)
        fake_socket.drop()  # the vendor-side reset: no close frame
        during = new_alerts(fake_api, 7)
        lost = fake_socket.publish("flow-alerts", [socket_alert(a) for a in during])  # nobody joined: gone
        fake_socket.wait_joined("flow-alerts")
        after = new_alerts(fake_api, 5)
        fake_socket.publish("flow-alerts", [socket_alert(a) for a in after])
        every = [a["id"] for a in before + during + after]
        assert wait_for(lambda: len(stored(conn, every)) == len(every), 20)
        assert wait_for(lambda: stream.stats()["flow-alerts"]["gap_fills"] == 1, 20)
    assert running.error is None
    counts = stored(conn, every)
    assert counts == {i: 1 for i in every}
    total = conn.execute("SELECT count(*), count(DISTINCT (option_chain, alert_rule, date_trunc('milliseconds', "
                         "created_at))) FROM trading.options_flow_alerts WHERE id = ANY(%s)", (every,)).fetchone()
    assert total[0] == total[1] == len(every)  # REST and stream never made two rows of one alert
    stats = stream.stats()["flow-alerts"]
    assert lost == 0 and stats["reconnects"] == 1 and stats["gaps"] == 1 and stats["messages"] == 11
    notes = conn.execute("SELECT notes FROM vvv.runs WHERE collector = 'stream:flow-alerts'").fetchone()[0]
    assert "connection lost without a close frame (1006)" in notes and "filled from the REST twin" in notes


def test_a_refused_join_is_reported_and_the_other_channels_go_on(db_url, conn, fake_api, fake_socket, client,
                                                                   tmp_path) -> None:
    fake_socket.refused.add("news")
    stream = make_stream(db_url, fake_socket, client, ["flow-alerts", "news"], tmp_path)
    with Running(stream):
        fake_socket.wait_joined("flow-alerts")
        alerts = new_alerts(fake_api, 4)
        fake_socket.publish("flow-alerts", [socket_alert(a) for a in alerts])
        assert wait_for(lambda: len(stored(conn, [a["id"] for a in alerts])) == 4, 10)
        assert wait_for(lambda: stream.stats()["news"]["gap_fills"] == 1, 20)  # news comes from REST meanwhile
    stats = stream.stats()
    assert stats["news"]["refused"] is not None and not stats["news"]["joined"]
    assert stats["flow-alerts"]["rows"] == 4
    run = conn.execute("SELECT status, error FROM vvv.runs WHERE collector = 'stream:news'").fetchone()
    assert run[0] == "failed" and "refused the join of news" in run[1]
    assert conn.execute("SELECT count(*) FROM trading.news_headlines").fetchone()[0] > 0


def test_batches_go_to_the_spool_while_the_database_is_away_and_are_stored_once_it_is_back(
        db_url, conn, fake_socket, tmp_path) -> None:
    proxy = DatabaseProxy(db_url)
    try:
        stream = make_stream(proxy.url, fake_socket, None, ["price:SPY"], tmp_path)
        with Running(stream):
            fake_socket.wait_joined("price:SPY")
            fake_socket.publish("price:SPY", [{"close": "562.82", "time": 1726670327692 + i, "vol": 6015555 + i}
                                              for i in range(3)])
            assert wait_for(lambda: stream.stats()["price:SPY"]["rows"] == 3, 10)
            proxy.down()
            fake_socket.publish("price:SPY", [{"close": f"563.{i}", "time": 1726670400000 + i, "vol": 1}
                                              for i in range(5)])
            assert wait_for(lambda: stream.stats()["price:SPY"]["spooled"] >= 1, 10)
            assert list((tmp_path / "spool").glob("*.spool"))
            proxy.up()
            fake_socket.publish("price:SPY", [{"close": "564", "time": 1726670500000, "vol": 2}])
            assert wait_for(lambda: conn.execute("SELECT count(*) FROM trading.stock_prices").fetchone()[0] == 9, 15)
    finally:
        proxy.close()
    assert not list((tmp_path / "spool").glob("*.spool"))
    prices = conn.execute("SELECT ticker, count(*), count(DISTINCT time) FROM trading.stock_prices GROUP BY 1").fetchall()
    assert prices == [("SPY", 9, 9)]


def test_a_restart_is_a_gap_too_recorded_for_option_trades_with_the_day_the_tape_replaces(
        db_url, conn, fake_socket, tmp_path) -> None:
    trade = {"id": "01a02054-442d-7622-ade3-9aed1c92a583", "underlying_symbol": "QQQ", "option_symbol":
             "QQQ260820P00710000", "price": "0.61", "underlying_price": "", "size": 1}
    now_ms = int(datetime.now().timestamp() * 1000)
    for attempt, suffix in enumerate(("a583", "a584")):
        stream = make_stream(db_url, fake_socket, None, ["option_trades"], tmp_path)
        with Running(stream):
            fake_socket.wait_joined("option_trades")
            fake_socket.publish("option_trades", [{**trade, "id": trade["id"][:-4] + suffix,
                                                   "executed_at": now_ms + attempt, "created_at": now_ms}])
            assert wait_for(lambda: stream.stats()["option_trades"]["rows"] == 1, 10)
    rows = conn.execute("SELECT count(*), count(underlying_price) FROM trading.option_trades").fetchone()
    assert rows == (2, 0)  # "" on an index option's underlying_price is null
    notes = [r[0] for r in conn.execute("SELECT notes FROM vvv.runs WHERE collector = 'stream:option_trades'"
                                        " ORDER BY id").fetchall()]
    assert notes[0] is None
    assert "vvv was not streaming" in notes[1] and "the nightly tape of" in notes[1]


def test_a_token_without_socket_access_exits_2_naming_the_plan_and_the_token(cli_env, fake_socket, tmp_path) -> None:
    fake_socket.refuse_upgrade = 401
    env = {**cli_env, "VVV_UW_SOCKET_URL": fake_socket.url}
    result = run_vvv("stream", "--channel", "flow-alerts", "--for", "20s", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "HTTP 401" in result.stderr and "Advanced plan" in result.stderr and "VVV_UW_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_socket.attempts == 1  # no retry mends a token


def test_vvv_stream_for_a_duration_stores_what_came_and_exits_0(cli_env, conn, fake_socket, tmp_path) -> None:
    env = {**cli_env, "VVV_UW_SOCKET_URL": fake_socket.url}
    done: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: done.update(result=run_vvv(
        "stream", "--channel", "gex:SPY", "--for", "4s", env=env, cwd=tmp_path)))
    thread.start()
    fake_socket.wait_joined("gex:SPY", timeout=30)
    fake_socket.publish("gex:SPY", [{"ticker": "SPY", "timestamp": 1726670396000, "price": "562.86",
                                     "gamma_per_one_percent_move_oi": "-262444980.31",
                                     "delta_per_one_percent_move_oi": ""}])
    thread.join(60)
    result = done["result"]
    assert result.returncode == 0, result.stderr
    assert "?token=***" in result.stderr and TOKEN not in result.stderr
    assert fake_socket.user_agents[0].startswith("vvv/")
    row = conn.execute("SELECT ticker, price, delta_per_one_percent_move_oi FROM trading.gex").fetchone()
    assert row[0] == "SPY" and str(row[1]) == "562.86" and row[2] is None


def test_vvv_run_streams_the_configured_channels_beside_the_collectors(cli_env, conn, fake_socket, tmp_path) -> None:
    import signal
    import subprocess
    import sys

    config = tmp_path / "vvv.toml"
    config.write_text('[stream]\nchannels = ["price:SPY"]\n\n[collectors.darkpool]\nenabled = false\n')
    env = {**cli_env, "VVV_UW_SOCKET_URL": fake_socket.url, "VVV_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        fake_socket.wait_joined("price:SPY", timeout=60)
        fake_socket.publish("price:SPY", [{"close": "562.82", "time": 1726670327692, "vol": 6015555}])
        assert wait_for(lambda: conn.execute("SELECT count(*) FROM trading.stock_prices").fetchone()[0] == 1
                        or conn.rollback(), 20)
        runs = conn.execute("SELECT count(*) FROM vvv.runs WHERE collector = 'news'").fetchone()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr[-2000:]
    assert runs >= 1  # the collectors ran meanwhile
    assert fake_socket.upgrades == 1  # one socket for the token
    status = conn.execute("SELECT status FROM vvv.runs WHERE collector = 'stream:price:SPY'").fetchone()[0]
    assert status == "ok"


def test_the_firehoses_rows_arrive_typed_and_a_bad_trade_is_a_reject_not_a_lost_batch(db_url, conn, fake_socket,
                                                                                        tmp_path) -> None:
    import json as _json
    from decimal import Decimal
    from pathlib import Path

    samples = Path("/work/shared/uw-api/socket-samples")
    if not samples.is_dir():
        pytest.skip("the socket samples are not on this machine")
    frame = _json.loads((samples / "option_trades_live_frame_QQQ_2026-08-20.json").read_text())[1]
    now_ms = int(datetime.now().timestamp() * 1000)
    good = {**frame, "executed_at": now_ms, "created_at": now_ms, "tags": ["bid_side", 'a "quoted", tag'],
            "new_field": {"x": 1}}
    bad = {**frame, "id": frame["id"][:-1] + "f", "executed_at": now_ms, "strike": "7l0"}
    stream = make_stream(db_url, fake_socket, None, ["option_trades"], tmp_path)
    with Running(stream):
        fake_socket.wait_joined("option_trades")
        fake_socket.publish("option_trades", [good, bad])
        assert wait_for(lambda: stream.stats()["option_trades"]["batches"] >= 1, 10)
    row = conn.execute("SELECT strike, delta, tags, report_flags, extra, underlying_price, option_chain_id,"
                       " upstream_condition_detail FROM trading.option_trades").fetchall()
    assert row == [(Decimal("710"), Decimal(frame["delta"]), ["bid_side", 'a "quoted", tag'], [],
                    {"new_field": {"x": 1}}, Decimal("710.71"), "QQQ260820P00710000", "auto")]
    reject = conn.execute("SELECT collector, reason FROM vvv.rejects").fetchall()
    assert reject == [("option_trades", "expected a number, got '7l0'")]


def test_vvv_stream_refuses_an_unknown_channel_or_none_with_exit_2_naming_it(cli_env, tmp_path) -> None:
    unknown = run_vvv("stream", "--channel", "price", env=cli_env, cwd=tmp_path)
    assert unknown.returncode == 2 and "--channel: channel 'price' needs a ticker: price:TICKER" in unknown.stderr
    none = run_vvv("stream", env=cli_env, cwd=tmp_path)
    assert none.returncode == 2 and "[stream] channels" in none.stderr
    assert "Traceback" not in unknown.stderr + none.stderr


def test_a_second_vvv_stream_against_one_database_opens_no_socket_and_says_why(cli_env, db_url, fake_socket,
                                                                               tmp_path) -> None:
    from vvv.run.stream import SOCKET_LOCK

    env = {**cli_env, "VVV_UW_SOCKET_URL": fake_socket.url}
    with psycopg.connect(db_url, autocommit=True) as holder:  # the first one's lock
        holder.execute("SELECT pg_advisory_lock(%s)", (SOCKET_LOCK,))
        result = run_vvv("stream", "--channel", "news", "--for", "10s", env=env, cwd=tmp_path)
    assert result.returncode == 1 and "one socket per token" in result.stderr
    assert fake_socket.attempts == 0
