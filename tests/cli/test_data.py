"""`vvv psql`, `vvv sql`, `vvv db url` and `vvv export`: the collected data at hand, as a user reaches it."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.conftest import run_vvv
from tests.prints import DARKPOOL_DAILY, PRINTS, insert_prints


def _embedded(cli_env: dict) -> dict:
    return {k: v for k, v in cli_env.items() if k != "VVV_DATABASE_URL"}


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM trading.darkpool_trades").fetchone()[0]


def test_psql_runs_a_command_on_the_configured_database(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    result = run_vvv("psql", "-At", "-c", "select count(*) from trading.darkpool_trades", env=cli_env, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, str(len(PRINTS))), result.stderr


def test_psql_passes_its_exit_code_through(cli_env: dict, tmp_path: Path) -> None:
    result = run_vvv("psql", "-v", "ON_ERROR_STOP=1", "-c", "select nope", env=cli_env, cwd=tmp_path)
    assert result.returncode != 0
    assert 'column "nope" does not exist' in result.stderr


def test_psql_and_sql_on_the_embedded_default(cli_env: dict, tmp_path: Path) -> None:
    env = _embedded(cli_env)
    assert run_vvv("migrate", env=env, cwd=tmp_path, timeout=120).returncode == 0
    psql = run_vvv("psql", "-At", "-c", "select count(*) from trading.darkpool_daily", env=env, cwd=tmp_path,
                   timeout=120)
    assert (psql.returncode, psql.stdout.strip()) == (0, "0"), psql.stderr
    result = run_vvv("sql", "select 6 * 7 as answer", "--json", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == [{"answer": 42}]


def test_sql_prints_an_aligned_table(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    result = run_vvv("sql", "SELECT ticker, day, prints, vwap FROM trading.darkpool_daily ORDER BY 1, 2",
                     env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [c.strip() for c in lines[0].split("|")] == ["ticker", "day", "prints", "vwap"]
    assert set(lines[1]) == {"-", "+"}
    assert [c.strip() for c in lines[3].split("|")] == ["SPY", "2026-03-02", "3", "500.3400"]
    assert lines[-1] == "(3 rows)"
    assert len({len(line) for line in lines[:2]}) == 1  # the header and the rule line up


def test_sql_json_and_csv_keep_the_values_exact(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    query = "SELECT ticker, day, notional, vwap FROM trading.darkpool_daily ORDER BY 1, 2"
    report = json.loads(run_vvv("sql", query, "--json", env=cli_env, cwd=tmp_path).stdout)
    assert report["ok"] is True and report["columns"] == ["ticker", "day", "notional", "vwap"]
    got = {(r["ticker"], r["day"]): (Decimal(r["notional"]), Decimal(r["vwap"])) for r in report["rows"]}
    assert got == {key: figures[2:] for key, figures in DARKPOOL_DAILY.items()}
    text = run_vvv("sql", query, "--csv", env=cli_env, cwd=tmp_path).stdout
    rows = list(csv.DictReader(text.splitlines()))
    assert [(r["ticker"], r["day"], r["vwap"]) for r in rows] == [
        ("QQQ", "2026-03-02", "400.1235"), ("SPY", "2026-03-02", "500.3400"), ("SPY", "2026-03-03", "502.5000")]


def test_sql_binds_params_and_a_lone_percent_stays_literal(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    query = ("SELECT count(*) AS n FROM trading.darkpool_trades WHERE ticker = %(ticker)s AND size >= %(size)s"
             " AND ticker LIKE 'S%'")
    result = run_vvv("sql", query, "--param", "ticker=SPY", "--param", "size=200", "--json", env=cli_env, cwd=tmp_path)
    assert json.loads(result.stdout)["rows"] == [{"n": 3}], result.stderr
    sneaky = run_vvv("sql", "SELECT %(t)s AS t", "--param", "t=x'; DROP TABLE trading.darkpool_trades; --",
                     "--json", env=cli_env, cwd=tmp_path)
    assert json.loads(sneaky.stdout)["rows"] == [{"t": "x'; DROP TABLE trading.darkpool_trades; --"}]
    assert _count(db_url) == len(PRINTS)


@pytest.mark.parametrize("args", [["SELECT %(a)s"], ["SELECT 1", "--param", "a=1"], ["SELECT 1", "--param", "a"]])
def test_sql_a_param_that_does_not_match_is_a_usage_error(cli_env: dict, tmp_path: Path, args: list[str]) -> None:
    result = run_vvv("sql", *args, "--json", env=cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False


@pytest.mark.parametrize("statement", [
    "DELETE FROM trading.darkpool_trades",
    "COMMIT; DELETE FROM trading.darkpool_trades",
    "WITH gone AS (DELETE FROM trading.darkpool_trades RETURNING 1) SELECT count(*) FROM gone",
])
def test_sql_refuses_a_statement_that_writes(cli_env: dict, db_url: str, tmp_path: Path, statement: str) -> None:
    insert_prints(db_url)
    result = run_vvv("sql", statement, "--json", env=cli_env, cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and "database error" in report["error"]
    assert "Traceback" not in result.stderr
    assert _count(db_url) == len(PRINTS)


def test_sql_write_names_the_read_only_transaction(cli_env: dict, tmp_path: Path) -> None:
    result = run_vvv("sql", "CREATE TABLE trading.mine (x int)", env=cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert "read-only transaction" in result.stderr


def test_db_url_redacts_the_password_unless_asked(cli_env: dict, tmp_path: Path) -> None:
    env = dict(cli_env, VVV_DATABASE_URL="postgresql://reader:hunter2@db.example:5432/market")
    assert run_vvv("db", "url", env=env, cwd=tmp_path).stdout.strip() == "postgresql://reader:***@db.example:5432/market"
    shown = run_vvv("db", "url", "--show-password", env=env, cwd=tmp_path).stdout.strip()
    assert shown == "postgresql://reader:hunter2@db.example:5432/market"
    report = json.loads(run_vvv("db", "url", "--json", env=env, cwd=tmp_path).stdout)
    assert report == {"ok": True, "url": "postgresql://reader:***@db.example:5432/market", "tcp_url": None,
                      "embedded": False}


def test_db_url_of_a_key_value_string_is_a_uri(cli_env: dict, tmp_path: Path) -> None:
    env = dict(cli_env, VVV_DATABASE_URL="host=/run/pg dbname=market user=reader password=hunter2 port=5433")
    url = run_vvv("db", "url", env=env, cwd=tmp_path).stdout.strip()
    assert url == "postgresql://reader:***@/market?host=/run/pg&port=5433"


def test_db_url_of_the_embedded_server_is_its_socket_and_works(cli_env: dict, tmp_path: Path) -> None:
    env = _embedded(cli_env)
    url = run_vvv("db", "url", env=env, cwd=tmp_path, timeout=120).stdout.strip()
    assert url.startswith("postgresql://postgres@/") and f"host={tmp_path / 'data' / 'pg'}" in url  # no password
    assert run_vvv("migrate", env=env, cwd=tmp_path, timeout=120).returncode == 0  # keeps the server up a moment
    with psycopg.connect(_start_embedded(tmp_path / "data")) as conn:
        assert conn.execute("SELECT current_setting('listen_addresses')").fetchone()[0] == ""


def _start_embedded(data_dir: Path) -> str:
    from vvv.io import embedded

    return embedded.start(data_dir)


def _exported(env: dict, cwd: Path, *args: str) -> dict:
    result = run_vvv("export", *args, "--json", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _stored(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM trading.darkpool_trades ORDER BY tracking_id").fetchall()


def test_export_csv_reads_back_equal_to_the_rows(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    report = _exported(cli_env, tmp_path, "--collector", "darkpool", "--format", "csv", "--out", "prints.csv")
    assert report["files"] == [{"path": "prints.csv", "rows": len(PRINTS)}]
    with (tmp_path / "prints.csv").open(newline="") as file:
        rows = sorted(csv.DictReader(file), key=lambda r: int(r["tracking_id"]))
    stored = _stored(db_url)
    assert [r["tracking_id"] for r in rows] == [str(s["tracking_id"]) for s in stored]
    for row, want in zip(rows, stored):
        assert Decimal(row["price"]) == want["price"]
        assert int(row["size"]) == want["size"]
        assert datetime.fromisoformat(row["executed_at"]) == want["executed_at"]
        assert row["executed_at"].endswith("+00")  # written in UTC
        assert row["canceled"] == {True: "t", False: "f", None: ""}[want["canceled"]]
        assert json.loads(row["extra"]) == want["extra"]


def test_export_jsonl_keeps_decimals_exact_and_times_in_utc(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    _exported(cli_env, tmp_path, "--table", "trading.darkpool_trades", "--format", "jsonl", "--out", "p.jsonl")
    rows = sorted((json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()),
                  key=lambda r: r["tracking_id"])
    stored = _stored(db_url)
    assert [Decimal(r["price"]) for r in rows] == [s["price"] for s in stored]
    assert [datetime.fromisoformat(r["executed_at"]) for r in rows] == [s["executed_at"] for s in stored]
    assert all(r["executed_at"].endswith("+00:00") for r in rows)
    assert rows[0]["extra"] == {"issue_type": "ETF"}


def test_export_parquet_has_the_columns_real_types(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    insert_prints(db_url)
    _exported(cli_env, tmp_path, "--collector", "darkpool", "--format", "parquet", "--out", "p.parquet")
    table = pq.read_table(tmp_path / "p.parquet")
    assert pa.types.is_decimal(table.schema.field("price").type)
    assert table.schema.field("executed_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("size").type == pa.int64()
    assert table.schema.field("canceled").type == pa.bool_()
    rows, stored = sorted(table.to_pylist(), key=lambda r: r["tracking_id"]), _stored(db_url)
    for row, want in zip(rows, stored, strict=True):
        assert row["price"] == want["price"] and row["executed_at"] == want["executed_at"]
        assert row["executed_at"].tzinfo is not None and row["executed_at"].utcoffset().total_seconds() == 0
        assert (row["tracking_id"], row["size"], row["canceled"]) == (want["tracking_id"], want["size"], want["canceled"])
        assert json.loads(row["extra"]) == want["extra"]


def test_export_a_view_to_parquet_keeps_its_numbers(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    insert_prints(db_url)
    _exported(cli_env, tmp_path, "--table", "trading.darkpool_daily", "--format", "parquet", "--out", "d.parquet")
    rows = pq.read_table(tmp_path / "d.parquet").to_pylist()
    got = {(r["ticker"], r["day"].isoformat()): (r["prints"], r["shares"], r["notional"], r["vwap"]) for r in rows}
    assert got == DARKPOOL_DAILY


def test_export_by_day_writes_one_file_per_new_york_day(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    report = _exported(cli_env, tmp_path, "--collector", "darkpool", "--format", "csv", "--out", "days", "--by-day")
    files = {Path(f["path"]).name: f["rows"] for f in report["files"]}
    # print 4 (01:30 UTC on the 3rd) is 20:30 New York on the 2nd
    assert files == {"trading.darkpool_trades-2026-03-02.csv": 5, "trading.darkpool_trades-2026-03-03.csv": 1}
    lines = (tmp_path / "days" / "trading.darkpool_trades-2026-03-03.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("5,")


def test_export_from_to_are_new_york_days(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    report = _exported(cli_env, tmp_path, "--collector", "darkpool", "--from", "2026-03-03", "--to", "2026-03-03",
                       "--format", "jsonl", "--out", "one.jsonl")
    assert report["files"][0]["rows"] == 1


@pytest.mark.parametrize("table", ["public.secrets", "pg_catalog.pg_authid", "trading.nope", "trading.x;drop",
                                   "darkpool_trades"])
def test_export_of_a_table_outside_trading_and_vvv_is_exit_2(cli_env: dict, tmp_path: Path, table: str) -> None:
    result = run_vvv("export", "--table", table, "--format", "csv", "--out", "x.csv", "--json", env=cli_env,
                     cwd=tmp_path)
    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False
    assert not (tmp_path / "x.csv").exists()


def test_export_parquet_without_pyarrow_names_the_extra(cli_env: dict, tmp_path: Path) -> None:
    hidden = tmp_path / "no-pyarrow"
    (hidden / "pyarrow").mkdir(parents=True)
    (hidden / "pyarrow" / "__init__.py").write_text("raise ImportError('No module named pyarrow')\n")
    env = dict(cli_env, PYTHONPATH=str(hidden))
    result = run_vvv("export", "--collector", "news", "--format", "parquet", "--out", "n.parquet", env=env,
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "vvv[parquet]" in result.stderr and "pyarrow" in result.stderr


def test_export_times_in_utc_even_with_another_session_zone(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    insert_prints(db_url)
    env = dict(cli_env, PGTZ="America/New_York")
    _exported(env, tmp_path, "--collector", "darkpool", "--format", "csv", "--out", "p.csv")
    first = min(csv.DictReader((tmp_path / "p.csv").open()), key=lambda r: int(r["tracking_id"]))
    assert first["executed_at"] == "2026-03-02 14:30:00+00"
    assert datetime.fromisoformat(first["executed_at"]) == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_db_url_names_the_loopback_port_when_listen_port_is_set(cli_env: dict, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "vvv.toml").write_text(f"[database]\nlisten_port = {port}\n")
    env = _embedded(cli_env)
    report = json.loads(run_vvv("db", "url", "--json", env=env, cwd=tmp_path, timeout=120).stdout)
    assert report["tcp_url"] == f"postgresql://postgres:***@127.0.0.1:{port}/postgres"
    assert f"port={port}" in report["url"]  # the socket is named after the port
    password = (tmp_path / "data" / "pg-password").read_text().strip()
    shown = run_vvv("db", "url", "--show-password", env=env, cwd=tmp_path, timeout=120).stdout.splitlines()
    assert shown[1] == f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"


@pytest.mark.parametrize("value", ['"5433"', "70000", "true"])
def test_a_bad_listen_port_exits_2_naming_it(cli_env: dict, tmp_path: Path, value: str) -> None:
    (tmp_path / "vvv.toml").write_text(f"[database]\nlisten_port = {value}\n")
    result = run_vvv("db", "url", env=_embedded(cli_env), cwd=tmp_path)
    assert result.returncode == 2
    assert "listen_port" in result.stderr


def test_export_shows_a_progress_line_on_a_terminal(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    with psycopg.connect(db_url) as conn:  # enough rows for a few batches, and a second of work on a slow box
        conn.execute("INSERT INTO trading.darkpool_trades (tracking_id, executed_at, ticker, price, size)"
                     " SELECT g, timestamptz '2026-03-02 14:30Z' + g * interval '1 ms', 'SPY', 500, 1"
                     " FROM generate_series(1, 200000) g")
    master, slave = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "vvv", "export", "--collector", "darkpool", "--format", "jsonl",
                           "--out", "p.jsonl"], env=cli_env, cwd=tmp_path, stderr=slave, stdout=subprocess.PIPE,
                          text=True, timeout=120, check=False)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.returncode == 0
    assert "wrote 200000 rows" in proc.stdout
    assert b"\rexporting: " in shown and b"rows" in shown


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_outlasts_the_statement_timeout(cli_env: dict, db_url: str, tmp_path: Path, fmt: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE VIEW trading.slow AS SELECT 1 AS x FROM pg_sleep(1.5)")
    (tmp_path / "vvv.toml").write_text('[database]\nstatement_timeout = "1s"\n')
    report = _exported(cli_env, tmp_path, "--table", "trading.slow", "--format", fmt, "--out", f"slow.{fmt}")
    assert report["files"][0]["rows"] == 1
