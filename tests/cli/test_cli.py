"""`vvv` as an operator runs it: exit codes, messages, --json, and secrets kept out of sight."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import vvv
from tests.conftest import DSN_PASSWORD, TOKEN, run_vvv
from tests.fakes.api import FakeApi
from vvv import __version__
from vvv.collectors import COLLECTORS
from vvv.io import migrate

COMMANDS = ["once", "run", "backfill", "migrate", "check", "status", "collectors", "calendar", "psql", "sql", "db",
            "export"]


def test_version(tmp_path: Path) -> None:
    result = run_vvv("--version", env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, f"vvv {__version__}")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command: str, tmp_path: Path) -> None:
    result = run_vvv(command, "--help", env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert result.returncode == 0
    assert f"usage: vvv {command}" in result.stdout
    assert len(result.stdout.split("\n\n")[1]) > 40  # a description, not just the usage line


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    assert run_vvv(env={"PATH": os.environ["PATH"]}, cwd=tmp_path).returncode == 2


def test_once_without_a_token_exits_2_naming_the_setting(cli_env: dict, tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env.items() if k != "VVV_UW_TOKEN"}
    result = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "VVV_UW_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_collector_exits_2(cli_env: dict, tmp_path: Path) -> None:
    result = run_vvv("once", "--collector", "nope", env=cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "nope" in result.stderr and "news" in result.stderr


def test_bad_config_file_exits_2_naming_the_key(cli_env: dict, tmp_path: Path) -> None:
    (tmp_path / "vvv.toml").write_text('[collectors.news]\ninterval = "soon"\n')
    result = run_vvv("collectors", env=cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "collectors.news.interval" in result.stderr


def test_unreachable_database_is_one_line_without_traceback(cli_env: dict, tmp_path: Path) -> None:
    env = dict(cli_env, VVV_DATABASE_URL=f"postgresql://vvv:{DSN_PASSWORD}@127.0.0.1:1/vvv?connect_timeout=2")
    result = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot connect to the database" in lines[0]
    assert DSN_PASSWORD not in result.stderr


def test_once_collects_then_a_second_run_counts_duplicates(cli_env: dict, tmp_path: Path) -> None:
    first = run_vvv("once", "--collector", "news", env=cli_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "news: ok" in first.stdout and "250 new" in first.stdout
    second = run_vvv("once", "--collector", "news", "--json", env=cli_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)  # stdout is exactly one JSON object
    assert report["ok"] is True
    assert report["inserted"] == 0
    assert report["duplicates"] == report["fetched"] > 0


def test_a_failing_api_exits_1_with_the_error(cli_env: dict, fake_api: FakeApi, tmp_path: Path) -> None:
    fake_api.fail_next(401)
    result = run_vvv("once", "--collector", "news", "--json", env=cli_env, cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and "token" in report["error"]


def test_status_shows_the_last_run(cli_env: dict, tmp_path: Path) -> None:
    # news alone: a collector without data would be stale (exit 1) whenever the market is open
    (tmp_path / "vvv.toml").write_text("".join(
        f"[collectors.{name}]\nenabled = false\n" for name in COLLECTORS if name != "news"))
    run_vvv("once", "--collector", "news", env=cli_env, cwd=tmp_path)
    text = run_vvv("status", env=cli_env, cwd=tmp_path)
    assert text.returncode == 0
    header, row = text.stdout.splitlines()[:2]
    assert header.split()[:2] == ["COLLECTOR", "STATE"]
    assert row.split()[0] == "news" and " ok " in row
    report = json.loads(run_vvv("status", "--json", env=cli_env, cwd=tmp_path).stdout)
    news = report["collectors"]["news"]
    assert news["last_run"]["status"] == "ok"
    assert news["rows_24h"] == 250
    assert news["lag_seconds"] is not None
    assert report["api_budget"]["per_minute_remaining"] is not None


def test_check_passes_then_names_a_dropped_column(cli_env: dict, db_url: str, tmp_path: Path) -> None:
    assert run_vvv("check", env=cli_env, cwd=tmp_path).returncode == 0
    with psycopg.connect(db_url) as conn:
        conn.execute("ALTER TABLE trading.news_headlines DROP COLUMN sentiment")
    result = run_vvv("check", env=cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert "trading.news_headlines.sentiment" in result.stdout
    report = json.loads(run_vvv("check", "--json", env=cli_env, cwd=tmp_path).stdout)
    assert report["ok"] is False and any("sentiment" in p for p in report["problems"])


def test_migrate_dry_run_then_migrate(cli_env: dict, empty_db_url: str, tmp_path: Path) -> None:
    env = dict(cli_env, VVV_DATABASE_URL=empty_db_url)
    names = [m.name for m in migrate.discover(migrate.sql_dir())]
    dry = json.loads(run_vvv("migrate", "--dry-run", "--json", env=env, cwd=tmp_path).stdout)
    assert dry["migrations"] == names
    applied = run_vvv("migrate", env=env, cwd=tmp_path)
    assert applied.returncode == 0 and all(n in applied.stdout for n in names)
    assert "up to date" in run_vvv("migrate", env=env, cwd=tmp_path).stdout


def test_a_changed_migration_stops_the_next_start(cli_env: dict, tmp_path: Path) -> None:
    """Run a copy of the package whose news migration was edited after it was applied."""
    package = tmp_path / "pkg"
    shutil.copytree(Path(vvv.__file__).parent, package / "vvv", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(migrate.sql_dir(), package / "vvv" / "sql")
    edited = package / "vvv" / "sql" / "news" / "001_news_headlines.sql"
    edited.write_text(edited.read_text() + "-- changed\n")
    env = dict(cli_env, PYTHONPATH=str(package))
    result = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "news/001_news_headlines.sql" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_token_never_appears_in_output_or_logs(cli_env: dict, fake_api: FakeApi, tmp_path: Path) -> None:
    env = dict(cli_env, VVV_LOG_LEVEL="TRACE")
    fake_api.fail_next(503)
    outputs = []
    for args in (["once", "--collector", "news"], ["once", "--collector", "news", "--json"], ["status", "--json"],
                 ["status"], ["collectors", "--json"], ["check"]):
        result = run_vvv(*args, env=env, cwd=tmp_path)
        outputs += [result.stdout, result.stderr]
    for fmt in ("json", "text"):
        result = run_vvv("once", "--collector", "news", env=dict(env, VVV_LOG_FORMAT=fmt), cwd=tmp_path)
        outputs += [result.stdout, result.stderr]
    assert all(TOKEN not in text for text in outputs)
    assert any("retrying" in text for text in outputs)  # the logs did talk about the requests


def test_token_file_is_read_and_stripped(cli_env: dict, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    token_file.chmod(0o600)
    env = {k: v for k, v in cli_env.items() if k != "VVV_UW_TOKEN"} | {"VVV_UW_TOKEN_FILE": str(token_file)}
    result = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_json_log_lines_carry_collector_and_run(cli_env: dict, tmp_path: Path) -> None:
    result = run_vvv("once", "--collector", "news", env=dict(cli_env, VVV_LOG_FORMAT="json"), cwd=tmp_path)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    pass_lines = [line for line in lines if line["message"].startswith("pass ")]
    assert len(pass_lines) == 2
    assert all(line["collector"] == "news" and isinstance(line["run_id"], int) for line in pass_lines)


def test_collectors_lists_news_with_its_schedule(cli_env: dict, tmp_path: Path) -> None:
    report = json.loads(run_vvv("collectors", "--json", env=cli_env, cwd=tmp_path).stdout)
    assert [c["name"] for c in report["collectors"]] == list(COLLECTORS)  # the registry's order
    assert {"news", "darkpool", "darkpool_recent", "insider_trades", "congress_trades"} <= set(COLLECTORS)
    (news,) = [c for c in report["collectors"] if c["name"] == "news"]
    assert news["table"] == "trading.news_headlines" and news["enabled"] is True
    assert news["interval_s"] == 120


def test_embedded_database_when_no_url_is_set(cli_env: dict, tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env.items() if k != "VVV_DATABASE_URL"}
    first = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()
    status = json.loads(run_vvv("status", "--json", env=env, cwd=tmp_path, timeout=120).stdout)
    assert status["collectors"]["news"]["rows_24h"] == 250


def test_two_commands_share_one_embedded_database(cli_env: dict, tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env.items() if k != "VVV_DATABASE_URL"}
    command = [sys.executable, "-m", "vvv", "once", "--collector", "news", "--json"]
    procs = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(r["inserted"] for r in reports) == 250
    status = json.loads(run_vvv("status", "--json", env=env, cwd=tmp_path, timeout=120).stdout)
    assert status["collectors"]["news"]["last_run"]["status"] == "ok"


def test_calendar_prints_sessions_with_early_closes(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    text = run_vvv("calendar", "--from", "2026-11-25", "--to", "2026-11-27", env=env, cwd=tmp_path)
    assert text.returncode == 0
    lines = text.stdout.splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["2026-11-25", "2026-11-27"]  # Thanksgiving left out
    assert "13:00" in lines[1] and "early close" in lines[1]
    report = json.loads(run_vvv("calendar", "--from", "2026-07-02", "--to", "2026-07-06", "--json",
                                env=env, cwd=tmp_path).stdout)
    assert [s["day"] for s in report["sessions"]] == ["2026-07-02", "2026-07-06"]  # July 3 observes the 4th


def test_calendar_rejects_a_bad_range(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    assert run_vvv("calendar", "--from", "2026-02-30", "--to", "2026-03-01", env=env, cwd=tmp_path).returncode == 2
    backwards = run_vvv("calendar", "--from", "2026-03-02", "--to", "2026-03-01", env=env, cwd=tmp_path)
    assert backwards.returncode == 2 and "--to" in backwards.stderr


def test_plain_http_to_a_remote_api_exits_2(cli_env: dict, tmp_path: Path) -> None:
    env = dict(cli_env, VVV_UW_BASE_URL="http://api.example.com")
    result = run_vvv("once", "--collector", "news", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "VVV_UW_BASE_URL" in result.stderr


def test_a_world_readable_token_file_is_named_with_the_fix(cli_env: dict, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o644)
    env = {k: v for k, v in cli_env.items() if k != "VVV_UW_TOKEN"} | {"VVV_UW_TOKEN_FILE": str(token_file)}
    result = run_vvv("collectors", env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert f"chmod 600 {token_file}" in result.stderr


@pytest.mark.parametrize("bad", ["../../etc", "SPY?x=1"])
def test_a_ticker_that_could_steer_the_request_exits_2_naming_it(cli_env: dict, tmp_path: Path, bad: str) -> None:
    cli = run_vvv("once", "--collector", "darkpool", "--ticker", bad, env=cli_env, cwd=tmp_path)
    assert cli.returncode == 2 and bad in cli.stderr and "--ticker" in cli.stderr
    (tmp_path / "vvv.toml").write_text(f'[collectors.darkpool]\ntickers = ["SPY", "{bad}"]\n')
    configured = run_vvv("once", "--collector", "darkpool", env=cli_env, cwd=tmp_path)
    assert configured.returncode == 2 and bad in configured.stderr and "collectors.darkpool" in configured.stderr


def test_once_darkpool_for_one_ticker(cli_env: dict, fake_api: FakeApi, tmp_path: Path) -> None:
    result = run_vvv("once", "--collector", "darkpool", "--ticker", "spy", "--json", env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    served = {int(p["tracking_id"]) for p in fake_api.darkpool("SPY") if isinstance(p, dict)}
    assert report["inserted"] == len(served) > 0
    assert all(r.query.get("date") for r in fake_api.requests if "/darkpool/" in r.path)
    assert {r.path for r in fake_api.requests if "/darkpool/" in r.path} == {"/api/darkpool/SPY"}


def test_backfill_from_the_command_line(cli_env: dict, fake_api: FakeApi, tmp_path: Path) -> None:
    args = ["backfill", "--collector", "darkpool", "--from", "2026-11-25", "--to", "2026-11-27", "--ticker", "SPY"]
    result = run_vvv(*args, env=cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2/2 day-tickers done" in result.stdout  # Thanksgiving (Nov 26) is no market day
    assert {r.query.get("date") for r in fake_api.requests} == {"2026-11-25", "2026-11-27"}
    again = run_vvv(*args, env=cli_env, cwd=tmp_path)
    assert again.returncode == 0 and "(2 already" in again.stdout


def test_backfill_needs_a_collector_that_supports_it(cli_env: dict, tmp_path: Path) -> None:
    result = run_vvv("backfill", "--collector", "news", "--from", "2026-11-02", env=cli_env, cwd=tmp_path)
    assert result.returncode == 2 and "backfill" in result.stderr


@pytest.mark.parametrize("flags", [["--from", "2999-01-04"], ["--from", "2026-11-02", "--to", "2999-01-04"]])
def test_backfill_of_a_future_day_is_a_usage_error_naming_it(cli_env: dict, fake_api: FakeApi, tmp_path: Path,
                                                             flags: list[str]) -> None:
    result = run_vvv("backfill", "--collector", "darkpool", "--ticker", "SPY", *flags, env=cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "2999-01-04 is in the future" in result.stderr and "Traceback" not in result.stderr
    assert fake_api.requests == []


def test_a_string_where_a_number_belongs_exits_2_naming_the_key(cli_env: dict, tmp_path: Path) -> None:
    (tmp_path / "vvv.toml").write_text('[collectors.darkpool]\npage_size = "500"\n')
    result = run_vvv("collectors", env=cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "vvv.toml: collectors.darkpool.page_size: expected an integer, got '500'" in result.stderr
