"""`vvv status` from the database: outcomes, staleness in market hours, instances, next due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from vvv.collectors import news
from vvv.config import CollectorConfig
from vvv.ops import status

NY = ZoneInfo("America/New_York")
REGULAR = datetime(2026, 3, 10, 12, 0, tzinfo=NY).astimezone(UTC)
SATURDAY = datetime(2026, 3, 14, 12, 0, tzinfo=NY).astimezone(UTC)


def _config(enabled: bool = True, stale_after: int | None = 3600) -> CollectorConfig:
    return CollectorConfig(enabled=enabled, interval=60, extended_interval=300, closed_interval=1800,
                           stale_after=stale_after, options=news.Settings())


def _run(conn: psycopg.Connection, *, started: datetime, status_: str, inserted: int = 0, error: str | None = None):
    conn.execute(
        "INSERT INTO vvv.runs (collector, started_at, finished_at, status, inserted, error)"
        " VALUES ('news', %s, %s, %s, %s, %s)",
        (started, started + timedelta(seconds=2), status_, inserted, error),
    )


def _headline(conn: psycopg.Connection, at: datetime) -> None:
    conn.execute(
        "INSERT INTO trading.news_headlines (id, created_at, headline, source) VALUES (%s, %s, 'h', 's')",
        (at.isoformat(), at),
    )


def _report(conn: psycopg.Connection, now: datetime, config: CollectorConfig | None = None) -> dict:
    conn.commit()
    return status.collect_status(conn, [(news.SPEC, config or _config())], now=now)


def report_problem(conn: psycopg.Connection, now: datetime, config: CollectorConfig | None = None) -> list[str]:
    return _report(conn, now, config)["problems"]


def test_fresh_data_and_a_good_run_have_no_problems(conn: psycopg.Connection) -> None:
    _run(conn, started=REGULAR - timedelta(minutes=1), status_="ok", inserted=5)
    _headline(conn, REGULAR - timedelta(minutes=2))
    report = _report(conn, REGULAR)
    entry = report["collectors"]["news"]
    assert report["problems"] == []
    assert (entry["last_run"]["status"], entry["rows_24h"], entry["lag_seconds"]) == ("ok", 5, 120)


def test_a_failed_last_run_is_a_problem(conn: psycopg.Connection) -> None:
    _run(conn, started=SATURDAY - timedelta(minutes=1), status_="failed", error="HTTP 500")
    assert report_problem(conn, SATURDAY) == ["news: last run 1 failed: HTTP 500"]


def test_stale_data_is_a_problem_only_during_the_regular_session(conn: psycopg.Connection) -> None:
    _headline(conn, REGULAR - timedelta(hours=3))
    (problem,) = report_problem(conn, REGULAR)
    assert "stale during the regular session" in problem
    assert report_problem(conn, SATURDAY) == []
    assert report_problem(conn, REGULAR, _config(stale_after=None)) == []
    assert report_problem(conn, REGULAR, _config(enabled=False)) == []


def test_live_instances_and_the_active_schedule_are_shown(conn: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    schedule = {"news": {"running": True, "next_due": "2026-03-10T17:01:00+00:00"}}
    conn.execute("INSERT INTO vvv.instances (name, role, schedule) VALUES ('a:1', 'active', %s)", (Jsonb(schedule),))
    conn.execute("INSERT INTO vvv.instances (name, role) VALUES ('b:2', 'standby')")
    conn.execute("INSERT INTO vvv.instances (name, role, heartbeat_at) VALUES ('c:3', 'active', now() - interval '1 hour')")
    report = _report(conn, now)
    assert [(i["name"], i["role"]) for i in report["instances"]] == [("a:1", "active"), ("b:2", "standby")]
    entry = report["collectors"]["news"]
    assert (entry["state"], entry["next_due"]) == ("running", "2026-03-10T17:01:00+00:00")
    text = status.render(report)
    assert "a:1 active" in text and "b:2 standby" in text and "2026-03-10 17:01:00" in text


def test_a_spent_daily_budget_is_a_problem_until_the_daily_reset(conn: psycopg.Connection) -> None:
    reported = REGULAR - timedelta(minutes=5)
    conn.execute(
        "INSERT INTO vvv.runs (collector, started_at, finished_at, status, api_budget) VALUES ('news', %s, %s, 'ok', %s)",
        (reported, reported, Jsonb({"daily_count": 19_600, "token_limit": 20_000, "per_minute_remaining": 50})),
    )
    conn.commit()
    chosen = [(news.SPEC, _config(stale_after=None))]
    spent = status.collect_status(conn, chosen, now=REGULAR, daily_reserve=500)
    assert spent["api_budget"]["paused_until"] == "2026-03-11T00:00:00+00:00"
    assert any("API daily budget spent (19600 of 20000, reserve 500)" in p for p in spent["problems"])
    assert not status.collect_status(conn, chosen, now=REGULAR, daily_reserve=100)["problems"]
    next_day = status.collect_status(conn, chosen, now=datetime(2026, 3, 11, 0, 1, tzinfo=UTC), daily_reserve=500)
    assert next_day["api_budget"]["paused_until"] is None


# Monday March 9 to Friday March 13, 2026: five market days; the report is read that Saturday.
WEEK = [datetime(2026, 3, day, 11, 0, tzinfo=NY).astimezone(UTC) for day in (9, 10, 11, 12, 13)]


def _darkpool_config(tickers: tuple[str, ...] = ("SPY", "BRK-B"), enabled: bool = True) -> CollectorConfig:
    from vvv.collectors import darkpool

    return CollectorConfig(enabled=enabled, interval=60, extended_interval=300, closed_interval=1800,
                           stale_after=None, options=darkpool.Settings(tickers=tickers))


def _collected(conn: psycopg.Connection, days: list[datetime], tickers: tuple[str, ...] = ("SPY", "BRK-B")) -> None:
    """Dark pool passes on `days`, each saving every ticker's cursor, as the runner does."""
    for at in days:
        conn.execute("INSERT INTO vvv.runs (collector, started_at, finished_at, status)"
                     " VALUES ('darkpool', %s, %s, 'ok')", (at, at + timedelta(seconds=5)))
    for ticker in tickers:
        conn.execute("INSERT INTO vvv.cursors (collector, scope, position) VALUES ('darkpool', %s, %s)"
                     " ON CONFLICT DO NOTHING", (ticker, Jsonb({"ticker": ticker})))


def _print(conn: psycopg.Connection, ticker: str, at: datetime, tracking_id: int) -> None:
    conn.execute("INSERT INTO trading.darkpool_trades (tracking_id, executed_at, ticker, price, size)"
                 " VALUES (%s, %s, %s, 1, 1)", (tracking_id, at, ticker))


def _darkpool_problems(conn: psycopg.Connection, config: CollectorConfig | None = None) -> list[str]:
    from vvv.collectors import darkpool

    conn.commit()
    return status.collect_status(conn, [(darkpool.SPEC, config or _darkpool_config())], now=SATURDAY)["problems"]


def test_a_watchlist_ticker_silent_for_five_market_days_of_collection_is_a_problem(conn: psycopg.Connection) -> None:
    _collected(conn, WEEK)
    _print(conn, "SPY", WEEK[2], 1)
    assert _darkpool_problems(conn) == [
        "darkpool: BRK-B has returned no prints in 5 market days of collection; is it spelled as the API spells it?"
    ]


def test_a_ticker_is_not_called_silent_before_five_market_days_of_collection(conn: psycopg.Connection) -> None:
    _collected(conn, WEEK[1:] + [WEEK[1] + timedelta(hours=3)])  # four market days, one of them twice
    assert _darkpool_problems(conn) == []


def test_a_ticker_with_a_print_in_those_days_or_never_collected_is_no_problem(conn: psycopg.Connection) -> None:
    _collected(conn, WEEK, tickers=("SPY",))  # BRK-B was added after the last pass: no cursor yet
    _print(conn, "SPY", WEEK[0], 1)
    assert _darkpool_problems(conn) == []
    assert _darkpool_problems(conn, _darkpool_config(enabled=False)) == []
    _collected(conn, [], tickers=("BRK-B",))
    _print(conn, "BRK-B", WEEK[0] + timedelta(minutes=1), 2)
    assert _darkpool_problems(conn) == []


def test_a_print_older_than_the_five_days_does_not_hide_the_silence(conn: psycopg.Connection) -> None:
    _collected(conn, [WEEK[0] - timedelta(days=3), *WEEK])  # the Friday before, then the week
    _print(conn, "BRK-B", WEEK[0] - timedelta(days=3), 1)  # its last print, a week ago
    _print(conn, "SPY", WEEK[4], 2)
    (problem,) = _darkpool_problems(conn)
    assert problem.startswith("darkpool: BRK-B has returned no prints in 5 market days")


def test_a_crossed_partition_is_silent_by_its_ticker(conn: psycopg.Connection) -> None:
    """ohlc's partitions are ticker and candle size ("SPY/1m"): their records are found by the ticker."""
    from vvv.collectors import ohlc

    for at in WEEK:
        conn.execute("INSERT INTO vvv.runs (collector, started_at, finished_at, status)"
                     " VALUES ('ohlc', %s, %s, 'ok')", (at, at + timedelta(seconds=5)))
    for scope in ("SPY/1m", "BRK-B/1m"):
        conn.execute("INSERT INTO vvv.cursors (collector, scope, position) VALUES ('ohlc', %s, '{}')", (scope,))
    conn.execute("INSERT INTO trading.ohlc (ticker, candle_size, start_time, end_time, open, high, low, close)"
                 " VALUES ('SPY', '1m', %s, %s, 1, 1, 1, 1)", (WEEK[2], WEEK[2] + timedelta(minutes=1)))
    conn.commit()
    config = CollectorConfig(enabled=True, interval=60, extended_interval=60, closed_interval=3600, stale_after=None,
                             options=ohlc.Settings(tickers=("SPY", "BRK-B")))
    assert status.collect_status(conn, [(ohlc.SPEC, config)], now=SATURDAY)["problems"] == [
        "ohlc: BRK-B/1m has returned no records in 5 market days of collection; is it spelled as the API spells it?"
    ]
