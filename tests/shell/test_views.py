"""The views of sql/views/ give the hand-computed figures for a known set of rows."""

from __future__ import annotations

import psycopg

from tests.prints import (
    DARKPOOL_DAILY,
    OPTIONS_FLOW_DAILY,
    insert_alerts,
    insert_prints,
)


def test_darkpool_daily_counts_new_york_days_and_leaves_canceled_prints_out(db_url: str) -> None:
    insert_prints(db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT ticker, day::text, prints, shares, notional, vwap FROM trading.darkpool_daily ORDER BY 1, 2"
        ).fetchall()
    assert {(r[0], r[1]): tuple(r[2:]) for r in rows} == DARKPOOL_DAILY


def test_options_flow_daily_splits_premium_by_calls_and_puts_and_counts_sweeps(db_url: str) -> None:
    insert_alerts(db_url)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT underlying, day::text, alerts, call_alerts, put_alerts, call_premium, put_premium, sweeps,"
            " sweep_premium FROM trading.options_flow_daily ORDER BY 1, 2"
        ).fetchall()
    assert {(r[0], r[1]): tuple(r[2:]) for r in rows} == OPTIONS_FLOW_DAILY


def test_news_by_ticker_has_one_row_per_ticker_named(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO trading.news_headlines (id, created_at, headline, source, tickers) VALUES"
            " ('n1', '2026-03-02 14:00+00', 'Chips rally', 'wire', ARRAY['NVDA', 'AMD']),"
            " ('n2', '2026-03-02 15:00+00', 'Fed speaks', 'wire', NULL)"
        )
        rows = conn.execute("SELECT ticker, headline FROM trading.news_by_ticker ORDER BY ticker").fetchall()
    assert rows == [("AMD", "Chips rally"), ("NVDA", "Chips rally")]


def test_economic_upcoming_starts_today_in_new_york(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO trading.economic_events (id, event, time) VALUES"
            " ('e1', 'CPI', now() - interval '3 days'), ('e2', 'FOMC', now() + interval '2 days')"
        )
        rows = conn.execute("SELECT event FROM trading.economic_upcoming").fetchall()
    assert rows == [("FOMC",)]
