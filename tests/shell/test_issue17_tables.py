"""The tables of the issue 17 collectors: each migration gives its table the key the collector
relies on, typed columns, `extra` and `collected_at`; a second row with the same key conflicts."""

from __future__ import annotations

import psycopg
import pytest

KEYS = {  # table -> its primary key, the identity of issue 17
    "earnings": ["symbol", "report_date", "report_time"],
    "market_tide": ["timestamp", "interval"],
    "ohlc": ["ticker", "candle_size", "start_time"],
    "spot_exposures": ["ticker", "time"],
    "net_prem_ticks": ["ticker", "tape_time"],
    "insider_transactions": ["id"],
    "congress_trades": ["id"],
    "fda_events": ["ticker", "drug", "catalyst", "start_date"],
}
ROWS = {  # a minimal row of each
    "earnings": "(symbol, report_date, report_time) VALUES ('IVT', '2023-02-14', 'postmarket')",
    "market_tide": "(timestamp, interval, date) VALUES ('2023-09-08 09:30-04', '5m', '2023-09-08')",
    "ohlc": "(ticker, candle_size, start_time, end_time, open, high, low, close)"
            " VALUES ('AAPL', '1m', '2023-09-07 20:10Z', '2023-09-07 20:11Z', 1, 1, 1, 1)",
    "spot_exposures": "(ticker, time) VALUES ('SPX', '2023-12-13 05:00:41.481Z')",
    "net_prem_ticks": "(ticker, tape_time, date) VALUES ('SPY', '2025-03-21 19:58Z', '2025-03-21')",
    "insider_transactions": "(id, ticker, filing_date) VALUES ('2662b73d', 'META', '2024-12-12')",
    "congress_trades": "(id, filed_at_date) VALUES ('x', '2023-02-13')",
    "fda_events": "(ticker, drug, catalyst, start_date, end_date)"
                  " VALUES ('IOVA', 'Lifileucel', 'PDUFA Date', '2024-02-24', '2024-02-24')",
}


def _key(conn: psycopg.Connection, table: str) -> list[str]:
    return [name for (name,) in conn.execute(
        "SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        " WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY k.n", (f"trading.{table}",))]


@pytest.mark.parametrize("table", sorted(KEYS))
def test_each_table_is_keyed_by_its_identity_and_keeps_extra(conn: psycopg.Connection, table: str) -> None:
    assert _key(conn, table) == KEYS[table]
    conn.execute(f"INSERT INTO trading.{table} {ROWS[table]}")
    extra, collected = conn.execute(f"SELECT extra, collected_at FROM trading.{table}").fetchone()
    assert extra == {} and collected is not None
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(f"INSERT INTO trading.{table} {ROWS[table]}")


def test_market_tide_knows_its_two_intervals(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO trading.market_tide (timestamp, interval, date)"
                     " VALUES ('2023-09-08 09:30-04', '2m', '2023-09-08')")
