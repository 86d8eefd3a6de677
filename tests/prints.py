"""A known set of dark pool prints and flow alerts, with the figures computed by hand."""

from __future__ import annotations

from decimal import Decimal

import psycopg

# (tracking_id, executed_at UTC, ticker, price, size, canceled)
PRINTS = [
    (1, "2026-03-02 14:30:00+00", "SPY", "500.10", 100, False),
    (2, "2026-03-02 15:00:00+00", "SPY", "500.20", 300, False),
    (3, "2026-03-02 16:00:00+00", "SPY", "999.00", 1000, True),  # canceled: in no figure
    (4, "2026-03-03 01:30:00+00", "SPY", "501.00", 100, None),  # 20:30 New York on the 2nd
    (5, "2026-03-03 15:00:00+00", "SPY", "502.50", 200, False),
    (6, "2026-03-02 14:31:00.123456+00", "QQQ", "400.123456", 7, False),
]
# ticker, New York day -> prints, shares, notional, vwap (by hand: sum(price*size), / shares, 4 places)
DARKPOOL_DAILY = {
    ("QQQ", "2026-03-02"): (1, 7, Decimal("2800.864192"), Decimal("400.1235")),
    ("SPY", "2026-03-02"): (3, 500, Decimal("250170.00"), Decimal("500.3400")),  # 50010 + 150060 + 50100
    ("SPY", "2026-03-03"): (1, 200, Decimal("100500.00"), Decimal("502.5000")),
}

# (id, created_at UTC, underlying, option_type, total_premium, has_sweep)
ALERTS = [
    ("a1", "2026-03-02 14:35:00+00", "AAPL", "call", "150000.50", True),
    ("a2", "2026-03-02 15:35:00+00", "AAPL", "call", "50000", False),
    ("a3", "2026-03-02 16:35:00+00", "AAPL", "put", "70000.25", True),
    ("a4", "2026-03-03 02:00:00+00", "AAPL", "put", None, None),  # 21:00 New York on the 2nd
    ("a5", "2026-03-03 14:35:00+00", "TSLA", "call", "99999.99", False),
]
# underlying, day -> alerts, call_alerts, put_alerts, call_premium, put_premium, sweeps, sweep_premium
OPTIONS_FLOW_DAILY = {
    ("AAPL", "2026-03-02"): (4, 2, 2, Decimal("200000.50"), Decimal("70000.25"), 2, Decimal("220000.75")),
    ("TSLA", "2026-03-03"): (1, 1, 0, Decimal("99999.99"), Decimal("0"), 0, Decimal("0")),
}


def insert_prints(url: str) -> None:
    with psycopg.connect(url) as conn:
        for tracking_id, at, ticker, price, size, canceled in PRINTS:
            conn.execute(
                "INSERT INTO trading.darkpool_trades (tracking_id, executed_at, ticker, price, size, canceled, extra)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                (tracking_id, at, ticker, Decimal(price), size, canceled, '{"issue_type": "ETF"}'),
            )


def insert_alerts(url: str) -> None:
    with psycopg.connect(url) as conn:
        for alert_id, at, underlying, kind, premium, sweep in ALERTS:
            conn.execute(
                "INSERT INTO trading.options_flow_alerts (id, created_at, option_chain, alert_rule, underlying,"
                " expiry, option_type, strike, total_premium, has_sweep)"
                " VALUES (%s, %s, %s, 'RepeatedHits', %s, '2026-06-19', %s, 100, %s, %s)",
                (alert_id, at, f"{underlying}260619{kind[0].upper()}00100000", underlying, kind,
                 None if premium is None else Decimal(premium), sweep),
            )
