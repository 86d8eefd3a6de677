"""The full options tape against the fake tape and the real PostgreSQL: the download, the load,
the swap, and what is left when any of it fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.tape import FakeTape, Knobs, row_id
from vvv.io import download
from vvv.run import tape

DAY = date(2026, 9, 15)  # a Tuesday, in the 49-column era
OLD_DAY = date(2026, 8, 17)  # a Monday, in the 40-column era


@pytest.fixture
def fake() -> Iterator[FakeTape]:
    with FakeTape(token=TOKEN) as served:
        yield served


def _load(db_url: str, fake: FakeTape, day: date, data_dir: Path, **options) -> tape.Loaded:
    return tape.fetch_and_load(db_url, day, base_url=fake.base_url, token=TOKEN, data_dir=data_dir, **options)


def _count(conn: psycopg.Connection, day: date) -> int:
    low = datetime.combine(day, time(), tzinfo=tape.calendar.NY)
    found = conn.execute("SELECT count(*) FROM trading.option_trades WHERE executed_at >= %s AND executed_at < %s",
                         (low, low + timedelta(days=1))).fetchone()[0]
    conn.rollback()
    return found


def _load_row(conn: psycopg.Connection, day: date) -> dict:
    row = conn.execute("SELECT status, rows, rejects, http_status, api_answer, error, loaded_at FROM vvv.tape_loads"
                       " WHERE day = %s", (day,)).fetchone()
    conn.rollback()
    return dict(zip(("status", "rows", "rejects", "http_status", "api_answer", "error", "loaded_at"), row, strict=True))


def test_a_49_column_day_is_loaded_typed_into_its_partition(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=120, layout=49)
    loaded = _load(db_url, fake, DAY, tmp_path)
    assert (loaded.rows, loaded.rejects, loaded.replaced) == (120, 0, False)
    assert _count(conn, DAY) == 120
    spx = conn.execute("SELECT size, tags, canceled, underlying_price, nbbo_bid_size, nbbo_ask_exchange, expiry, extra"
                       " FROM trading.option_trades WHERE id = %s", (row_id(DAY, 5),)).fetchone()
    assert spx == (6, ["ask_side", "bullish"], False, None, 12, "XPHL", DAY + timedelta(days=3), {})
    partition = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                             " WHERE i.inhparent = 'trading.option_trades'::regclass").fetchall()
    assert partition == [("option_trades_20260915",)]
    assert _load_row(conn, DAY)["status"] == "ok" and _load_row(conn, DAY)["rows"] == 120
    assert not list((tmp_path / "tape").iterdir()), "keep_files = false: the ZIP is deleted after the load"


def test_a_40_column_day_leaves_the_new_columns_empty(conn, db_url, fake, tmp_path):
    fake.days[OLD_DAY] = Knobs(rows=30, layout=40)
    _load(db_url, fake, OLD_DAY, tmp_path, keep_files=True)
    assert _count(conn, OLD_DAY) == 30
    assert conn.execute("SELECT count(*) FROM trading.option_trades WHERE exchange_id IS NOT NULL").fetchone()[0] == 0
    assert (tmp_path / "tape" / f"{OLD_DAY}-option_trades.zip").is_file(), "keep_files = true keeps the ZIP"


def test_the_redirect_is_followed_once_and_never_carries_the_token(conn, db_url, fake, tmp_path):
    _load(db_url, fake, DAY, tmp_path)
    api = [headers for server, _, headers in fake.requests if server == "api"]
    files = [headers for server, _, headers in fake.requests if server == "files"]
    assert len(api) == 1 and api[0]["authorization"] == f"Bearer {TOKEN}"
    assert len(files) == 1 and "authorization" not in files[0]
    assert not any(TOKEN in value for headers in files for value in headers.values())


def test_a_second_redirect_is_not_followed(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(redirect_again=True)
    with pytest.raises(tape.TapeFailed, match="one redirect only"):
        _load(db_url, fake, DAY, tmp_path)
    assert [p for s, p, _ in fake.requests if s == "files"] == [f"/tapes/{DAY}.zip?X-Signature=presigned-{DAY}"]


@pytest.mark.parametrize("location", ["http://example.com/tape.zip", "ftp://127.0.0.1/tape.zip", None])
def test_a_redirect_to_plain_http_elsewhere_is_refused(location):
    with pytest.raises(download.DownloadFailed):
        download._redirect_target("https://api.unusualwhales.com/api/x", location)


def _reload_fails(conn, db_url, fake, tmp_path, knobs: Knobs, match: str, *, then=lambda: None, **options) -> dict:
    """A good day loaded, then (after `then()`) a load of `knobs` that fails: the day, as a reader
    sees it, is unchanged."""
    fake.days[DAY] = Knobs(rows=100)
    _load(db_url, fake, DAY, tmp_path)
    fake.days[DAY] = knobs
    then()
    with pytest.raises(tape.TapeFailed, match=match):
        _load(db_url, fake, DAY, tmp_path, **options)
    assert _count(conn, DAY) == 100
    assert conn.execute("SELECT to_regclass('trading.option_trades_load_20260915')").fetchone()[0] is None
    assert not list((tmp_path / "tape").iterdir()), "no file is left, whole or partial"
    return _load_row(conn, DAY)


def test_a_cut_download_leaves_the_day_as_it_was(conn, db_url, fake, tmp_path):
    row = _reload_fails(conn, db_url, fake, tmp_path, Knobs(rows=3000, cut=True, version=1), "cut")
    assert row["status"] == "pending", "a cut download is tried again"


def test_a_zip_that_does_not_verify_leaves_the_day_as_it_was(conn, db_url, fake, tmp_path):
    row = _reload_fails(conn, db_url, fake, tmp_path, Knobs(rows=300, bad_crc=True, version=1), "does not verify.*CRC")
    assert row["status"] == "failed" and row["loaded_at"] is not None, "the day keeps its earlier load"


def test_a_file_that_is_no_zip_fails_clearly(conn, tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"<html>Access denied</html>")
    with pytest.raises(tape.TapeFailed, match="does not verify"):
        tape.load_file(conn, DAY, path)


def test_a_row_count_that_does_not_match_fails_the_day(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=50, split_row=True)
    with pytest.raises(tape.TapeFailed, match="row count does not match"):
        _load(db_url, fake, DAY, tmp_path)
    assert _count(conn, DAY) == 0


def test_a_reload_replaces_the_day_exactly_once(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=400)
    _load(db_url, fake, DAY, tmp_path)
    fake.days[DAY] = Knobs(rows=400)
    again = _load(db_url, fake, DAY, tmp_path)
    assert again.replaced and _count(conn, DAY) == 400
    fake.days[DAY] = Knobs(rows=250, version=2)
    _load(db_url, fake, DAY, tmp_path)
    assert _count(conn, DAY) == 250
    assert conn.execute("SELECT count(*) FROM trading.option_trades WHERE id = %s", (row_id(DAY, 1, 2),)).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM trading.option_trades WHERE id = %s", (row_id(DAY, 1),)).fetchone()[0] == 0


def test_the_tape_replaces_what_the_stream_stored_that_day(conn, db_url, fake, tmp_path):
    conn.execute("SELECT vvv.option_trades_partition(%s)", (DAY,))
    conn.execute("INSERT INTO trading.option_trades (id, executed_at, underlying_symbol, option_chain_id)"
                 " VALUES (%s, '2026-09-15 14:00:00+00', 'SPY', 'SPY260918C00500000')", (row_id(DAY, 9999),))
    conn.commit()
    fake.days[DAY] = Knobs(rows=60)
    assert _load(db_url, fake, DAY, tmp_path).replaced
    assert _count(conn, DAY) == 60
    conn.execute("SELECT vvv.option_trades_partition(%s)", (DAY,))  # the stream after the swap: it is there
    conn.commit()


def test_a_reader_sees_the_old_day_or_the_new_one_never_half(db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=3000)
    _load(db_url, fake, DAY, tmp_path)
    fake.days[DAY] = Knobs(rows=5000, version=1)
    fake.zip_path(DAY)  # made before the reader starts, so that the load itself is what the reader overlaps
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        with psycopg.connect(db_url, autocommit=True) as reader:
            while not stop.is_set():
                seen.add(_count(reader, DAY))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        _load(db_url, fake, DAY, tmp_path)
    finally:
        stop.set()
        reader.join()
    assert seen <= {3000, 5000} and 3000 in seen
    with psycopg.connect(db_url) as check:
        assert _count(check, DAY) == 5000


@pytest.mark.parametrize(("status", "body", "words", "retried"), [
    (404, '{"message":"Not found"}', "not published", "pending"),
    (422, '{"code":"missing_access","message":"Your plan does not include this"}', "Advanced plan", "failed"),
    (422, '{"message":"Market closed"}', "market was closed", "failed"),
    (403, '{"message":"Historical data beyond your plan"}', "older than the plan's history", "failed"),
])
def test_the_apis_refusals_are_told_clearly_and_kept(conn, db_url, fake, tmp_path, status, body, words, retried):
    fake.days[DAY] = Knobs(status=status, body=body)
    with pytest.raises(tape.TapeFailed) as failed:
        _load(db_url, fake, DAY, tmp_path)
    assert words in str(failed.value) and str(status) in str(failed.value)
    row = _load_row(conn, DAY)
    assert (row["status"], row["http_status"]) == (retried, status)
    assert row["api_answer"] == body and row["loaded_at"] is None


def test_malformed_lines_go_to_rejects_with_their_line_numbers(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=100, malformed=(3, 4, 77))
    loaded = _load(db_url, fake, DAY, tmp_path)
    assert (loaded.rows, loaded.rejects) == (97, 3)
    assert _count(conn, DAY) == 97
    rejects = conn.execute("SELECT reason, raw::jsonb FROM vvv.rejects WHERE collector = 'tape' ORDER BY id").fetchall()
    assert [raw["line"] for _, raw in rejects] == [4, 5, 78]  # the header is line 1
    assert "line 4: missing data" in rejects[0][0] and "12x" in rejects[1][0]
    assert rejects[0][1]["csv"].startswith(str(row_id(DAY, 3)))
    assert _load_row(conn, DAY)["rejects"] == 3


def test_unknown_columns_go_to_extra(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=10, unknown_column=True)
    _load(db_url, fake, DAY, tmp_path)
    extras = dict(conn.execute("SELECT id, extra FROM trading.option_trades").fetchall())
    assert extras[row_id(DAY, 1)] == {"venue_flag": "lit"} and extras[row_id(DAY, 2)] == {}


def test_retention_drops_whole_partitions(conn, db_url, fake, tmp_path):
    days = [date(2026, 9, 14), DAY, date(2026, 9, 16)]
    for day in days:
        fake.days[day] = Knobs(rows=20)
        _load(db_url, fake, day, tmp_path)
    assert tape.drop_before(conn, date(2026, 9, 16)) == days[:2]
    assert [_count(conn, d) for d in days] == [0, 0, 20]
    assert tape.drop_before(conn, date(2026, 9, 16)) == []


def test_market_days_only():
    assert tape.market_days(date(2026, 11, 26), date(2026, 11, 30)) == [date(2026, 11, 27), date(2026, 11, 30)]


AT = time(19, 30)


def _ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tape.calendar.NY).astimezone(UTC)


def test_the_nightly_job_is_due_after_the_tape_is_out_on_market_days_only():
    friday, saturday = date(2026, 9, 18), date(2026, 9, 19)
    assert tape.due_days(_ny(friday, 19, 29), at=AT, loads={date(2026, 9, 16): _ok(), date(2026, 9, 17): _ok()}) == []
    loads = {date(2026, 9, 16): _ok(), date(2026, 9, 17): _ok()}
    assert tape.due_days(_ny(friday, 19, 30), at=AT, loads=loads) == [friday]
    loads[friday] = _ok()
    assert tape.due_days(_ny(saturday, 20), at=AT, loads=loads) == []
    assert tape.next_due(_ny(saturday, 20), at=AT, loads=loads) == _ny(date(2026, 9, 21), 19, 30)


def test_a_tape_not_published_yet_is_asked_again_later():
    friday = date(2026, 9, 18)
    loads = {date(2026, 9, 16): _ok(), date(2026, 9, 17): _ok(),
             friday: tape.LoadState(status="pending", started_at=_ny(friday, 19, 30))}
    assert tape.due_days(_ny(friday, 19, 45), at=AT, loads=loads) == []
    assert tape.next_due(_ny(friday, 19, 45), at=AT, loads=loads) == _ny(friday, 20)
    assert tape.due_days(_ny(friday, 20), at=AT, loads=loads) == [friday]
    loads[friday] = tape.LoadState(status="failed", started_at=_ny(friday, 19, 30))
    assert tape.due_days(_ny(friday, 23), at=AT, loads=loads) == [], "a refusal for good is not asked again"


def test_missed_days_are_caught_up_oldest_first():
    monday = date(2026, 9, 21)
    assert tape.due_days(_ny(monday, 21), at=AT, loads={}) == [date(2026, 9, 17), date(2026, 9, 18), monday]


def _ok() -> tape.LoadState:
    return tape.LoadState(status="ok", started_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_nightly_job_runs_in_vvv_run_and_shows_in_status_metrics_and_page(db_url, fake, tmp_path):
    from vvv.config import TapeConfig
    from vvv.io.http import ApiClient
    from vvv.ops import status as status_
    from vvv.run.service import Service

    friday = date(2026, 9, 18)
    clock = lambda: _ny(friday, 19, 31)  # noqa: E731
    for day in (date(2026, 9, 16), date(2026, 9, 17)):
        fake.days[day] = Knobs(status=403, body='{"message":"beyond your history"}')
    fake.days[friday] = Knobs(rows=75)
    config = TapeConfig(enabled=True, retention_days=400)
    job = tape.NightlyTape(url=db_url, base_url=fake.base_url, token=TOKEN, data_dir=tmp_path, config=config,
                           clock=clock)
    client = ApiClient(base_url=fake.base_url, token=TOKEN, sleep=lambda _: None)
    service = Service(url=db_url, collectors={}, client=client, statement_timeout_s=10, runs_retention_s=86400,
                      clock=clock, tape=job)
    loop = threading.Thread(target=service.run, kwargs={"handle_signals": False})
    loop.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while (job.loaded, job.failed) != (1, 2) and datetime.now(UTC) < deadline:
            threading.Event().wait(0.1)
        while job.running and datetime.now(UTC) < deadline:
            threading.Event().wait(0.1)
        state = service.schedule_state()["tape"]
        metrics = service.metrics.render()[0].decode()
    finally:
        service.stop()
        loop.join(timeout=15)
    assert (job.loaded, job.failed) == (1, 2)
    assert state["next_due"] == _ny(date(2026, 9, 21), 19, 30).isoformat()
    assert "vvv_tape_last_rows 75.0" in metrics and 'vvv_tape_loads_total{outcome="failed"} 2.0' in metrics
    with psycopg.connect(db_url) as conn:
        report = status_.collect_status(conn, [], now=clock(), tape=config)
    assert report["tape"]["last_loaded"]["day"] == "2026-09-18" and report["tape"]["last_loaded"]["rows"] == 75
    assert [f["http_status"] for f in report["tape"]["failures"]] == [403, 403]
    assert any("older than the plan's history" in p for p in report["problems"])
    from vvv.ops import page

    html = page.render(report, hours=[], rows={}, runs={}, now=clock())
    assert "Options tape" in html and "2026-09-18" in html
    assert "tape: not scheduled, last loaded 2026-09-18: 75 rows" in status_.render(report)


def _cli_env(cli_env: dict[str, str], fake: FakeTape) -> dict[str, str]:
    return {**cli_env, "VVV_UW_BASE_URL": fake.base_url}


def test_vvv_tape_loads_a_day_and_a_range_resumes(cli_env, fake, tmp_path):
    from tests.conftest import run_vvv

    env = _cli_env(cli_env, fake)
    fake.days[date(2026, 9, 17)] = Knobs(rows=40)
    done = run_vvv("tape", "--date", "2026-09-17", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tape 2026-09-17: 40 rows loaded, 0 rejected" in done.stdout
    both = run_vvv("tape", "--from", "2026-09-17", "--to", "2026-09-20", "--json", env=env, cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    import json

    result = json.loads(both.stdout)
    assert [d["day"] for d in result["days"]] == ["2026-09-18"], "the loaded day and the weekend cost nothing"
    assert [p for s, p, _ in fake.requests if s == "api"] == [f"{'/api/option-trades/full-tape/'}2026-09-17",
                                                             "/api/option-trades/full-tape/2026-09-18"]


def test_vvv_tape_of_a_holiday_or_weekend_asks_nothing(cli_env, fake, tmp_path):
    from tests.conftest import run_vvv

    env = _cli_env(cli_env, fake)
    holiday = run_vvv("tape", "--date", "2026-11-26", env=env, cwd=tmp_path)
    assert holiday.returncode == 2 and "not a market day (Thanksgiving" in holiday.stderr
    weekend = run_vvv("tape", "--from", "2026-09-19", "--to", "2026-09-20", env=env, cwd=tmp_path)
    assert weekend.returncode == 0 and "nothing to load" in weekend.stdout
    assert fake.requests == []


def test_vvv_tape_says_what_the_api_answered_and_exits_1(cli_env, fake, tmp_path):
    from tests.conftest import run_vvv

    fake.days[date(2026, 9, 17)] = Knobs(status=422, body='{"code":"missing_access"}')
    failed = run_vvv("tape", "--date", "2026-09-17", env=_cli_env(cli_env, fake), cwd=tmp_path)
    assert failed.returncode == 1
    assert "the API answered 422: the plan lacks the full tape (missing_access)" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_a_key_the_tape_repeats_is_kept_once_the_cancel_winning(conn, db_url, fake, tmp_path):
    fake.days[DAY] = Knobs(rows=40, repeated=True)
    loaded = _load(db_url, fake, DAY, tmp_path)
    assert (loaded.rows, loaded.rejects) == (40, 1)
    assert conn.execute("SELECT canceled FROM trading.option_trades WHERE id = %s", (row_id(DAY, 40),)).fetchall() == [(True,)]
    reason, raw = conn.execute("SELECT reason, raw::jsonb FROM vvv.rejects WHERE collector = 'tape'").fetchone()
    assert "same key" in reason and raw["row"]["canceled"] is False


def test_a_load_stopped_halfway_leaves_the_day_as_it_was(conn, db_url, fake, tmp_path, monkeypatch):
    monkeypatch.setattr(tape, "BLOCK", 16 << 10)  # many blocks, so that the stop comes between two
    asked = iter(range(10**6))
    row = _reload_fails(conn, db_url, fake, tmp_path, Knobs(rows=3000, version=1), "interrupted",
                        stopping=lambda: next(asked) >= 3)
    assert row["status"] == "pending"


def test_a_database_error_in_the_copy_leaves_the_day_as_it_was(conn, db_url, fake, tmp_path, monkeypatch):
    def broken(*_, **__):
        raise psycopg.errors.DiskFull("could not extend file: No space left on device")

    row = _reload_fails(conn, db_url, fake, tmp_path, Knobs(rows=200, version=1), "No space left",
                        then=lambda: monkeypatch.setattr(tape, "_copy_block", broken))
    assert row["status"] == "pending"


def test_the_tape_loads_as_the_owner_and_the_collector_may_not_swap_or_drop(db_url, fake, tmp_path):
    from tests.shell.test_roles import DENIED, _attempt, as_role, install_roles

    install_roles(db_url)
    fake.days[DAY] = Knobs(rows=30)
    assert _load(as_role(db_url, "vvv_owner"), fake, DAY, tmp_path).rows == 30
    assert _attempt(db_url, "vvv_collector", "SELECT vvv.option_trades_swap('2026-09-15')") == DENIED.__name__
    assert _attempt(db_url, "vvv_collector", "SELECT vvv.option_trades_drop_before('2030-01-01')") == DENIED.__name__
    with pytest.raises(tape.TapeFailed, match="permission denied"):
        _load(as_role(db_url, "vvv_collector"), fake, DAY, tmp_path)
    with psycopg.connect(db_url) as conn:
        assert _count(conn, DAY) == 30


def test_the_progress_line_shows_bytes_rows_rate_and_eta_on_a_terminal():
    import io

    out = io.StringIO()
    meter = tape.Meter(enabled=True, out=out)
    meter.phase("tape 2026-09-15: downloading")
    meter.shown = float("-inf")  # due for a redraw now
    meter.bytes(50 * 2**20, 200 * 2**20)
    meter.phase("tape 2026-09-15: loading")
    meter.shown = float("-inf")
    meter.rows(1_000_000, 100 * 2**20, 400 * 2**20)
    meter.done()
    first, second = out.getvalue().strip("\r\n").split("\r")[-2:]
    assert "downloading: 50.0 of 200.0 MiB (" in first and "MiB/s, ETA " in first
    assert "loading: 1,000,000 rows, 100 of 400 MiB of CSV (" in second and "rows/s, ETA " in second
    assert out.getvalue().endswith("\n")


def test_the_status_says_nothing_of_a_tape_that_is_off_and_never_loaded(conn):
    from vvv.config import TapeConfig
    from vvv.ops import page
    from vvv.ops import status as status_

    report = status_.collect_status(conn, [], now=datetime.now(UTC), tape=TapeConfig())
    assert report["tape"]["state"] == "disabled" and report["tape"]["last_loaded"] is None
    assert "tape" not in status_.render(report)
    assert "Options tape" not in page.render(report, hours=[], rows={}, runs={}, now=datetime.now(UTC))
