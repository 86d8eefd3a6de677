"""The benchmark behind README "Performance": vvv against the limit and its peers, on one machine.

Run through `scripts/bench` (which makes the venv and installs the `bench` extra). Serves
synthetic dark pool days from vvv's fake API on 127.0.0.1 and stores them in an embedded
PostgreSQL (pgserver) under a throw-away directory. Prints a table and writes build/bench.json.
Every figure is a median over `--runs` repetitions made in this one run; each contender runs
in a process of its own, so none shares the interpreter (or its lock) with the fake API.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fake API lives in the checkout's tests/

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
TICKER = "SPY"
VVV = [str(Path(sys.executable).parent / "vvv")]
TEMPLATE = "vvv_bench_template"


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a check in under 2 minutes")
    parser.add_argument("--prints", type=int, help="dark pool prints in the day (default 100000; quick 10000)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions per measure (default 3)")
    parser.add_argument("--passes", type=int, help="`vvv run` passes for the memory figure (default 1000; quick 60)")
    parser.add_argument("--history", type=int, help="rows stored for the history figure (default 10M; quick 300k)")
    parser.add_argument("--sample", type=int, default=5000, help="records for the row-by-row figure (default 5000)")
    parser.add_argument("--tape-rows", type=int, help="rows of the full tape's day (default 2M; quick 100k)")
    parser.add_argument("--only", default="startup,ingest,history,memory,export,tape,stream",
                        help="sections to run, comma separated (default all: startup,ingest,history,memory,export,"
                        "tape,stream)")
    parser.add_argument("--stream-seconds", type=int, help="seconds of each firehose of the stream section"
                        " (default 60; quick 15)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args.worker)
    args.prints = args.prints or (10_000 if args.quick else 100_000)
    args.passes = args.passes or (40 if args.quick else 1000)
    args.history = args.history or (300_000 if args.quick else 10_000_000)
    args.stream_seconds = args.stream_seconds or (15 if args.quick else 60)
    Bench(args).run()
    return 0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []
        self.work = Path(tempfile.mkdtemp(prefix="vvv-bench-"))
        self.served = 0
        self.started = time.perf_counter()

    def run(self) -> None:
        from loguru import logger

        from tests.fakes.api import FakeApi
        from vvv.io import embedded

        logger.remove()  # the migrations of the template would log; the figures are what this prints

        os.chmod(self.work, 0o755)  # as root, the embedded PostgreSQL runs as its own user
        try:
            self.server = embedded.start(self.work / "data")
            self._template()
            only = set(self.args.only.split(","))
            if "startup" in only:
                self._startup()
            big = FakeApi(token=TOKEN, darkpool_count=self.args.prints, per_minute_limit=10**7, daily_limit=10**9)
            with big:
                self.served = len(big.darkpool(TICKER))  # generate the day before anyone asks for it
                self._say(f"a day of {self.served:,} {TICKER} prints served at {big.url}")
                if "ingest" in only:
                    self._ingest(big)
            small = FakeApi(token=TOKEN, darkpool_count=2000, per_minute_limit=10**7, daily_limit=10**9)
            with small:
                small.darkpool(TICKER)
                if "history" in only:
                    self._history(small)
                if "memory" in only:
                    self._memory(small)
                if "export" in only:
                    self._export(small)
            if "stream" in only:
                self._stream()
            if "tape" in only:
                self._tape()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        self._report()

    # -- the ingest figures: vvv, the limit, row by row, dlt, the duplicate pass -----------------

    def _ingest(self, api: Any) -> None:
        runs, config = self.args.runs, self._config({"darkpool": {"tickers": [TICKER], "max_pages": 100_000}})
        firsts, dupes, requests = [], [], None
        for i in range(runs):
            db = self._fresh(f"vvv_bench_ingest_{i}")
            before = len(api.requests)
            first = self._vvv(["once", "--collector", "darkpool", "--json"], db, api, config)
            requests = requests or [(r.path, r.pairs) for r in api.requests[before:]]
            self._execute(db, "DELETE FROM vvv.cursors")  # the same day again: every print a duplicate
            dupe = self._vvv(["once", "--collector", "darkpool", "--json"], db, api, config)
            for run in (first, dupe):
                run["pass"] = self._pass_seconds(db, run["result"]["run_id"])
            firsts.append(first)
            dupes.append(dupe)
            self._drop(f"vvv_bench_ingest_{i}")
        stored = firsts[0]["result"]["inserted"]
        vvv_rate = _median([r["result"]["inserted"] / r["pass"] for r in firsts])
        self._row("vvv once: new day", vvv_rate, "records/s",
                  f"{stored:,} prints in {firsts[0]['result']['requests']} requests, a pass of"
                  f" {_median([r['pass'] for r in firsts]):.1f} s")
        wall = _median([r["wall"] for r in firsts])
        self._row("vvv once: new day, whole process", stored / wall, "records/s",
                  f"{wall:.1f} s wall: start-up, migration check and connection included")
        rss = _median([r["rss_mb"] for r in firsts])
        self._row("vvv once: peak RSS", rss, "MB", "of the whole process")
        dup_rate = _median([r["result"]["fetched"] / r["pass"] for r in dupes])
        self._row("vvv once: same day again (all duplicates)", dup_rate, "records/s",
                  f"{dupes[0]['result']['duplicates']:,} duplicates, {dupes[0]['result']['inserted']} new;"
                  f" a pass of {_median([r['pass'] for r in dupes]):.1f} s")
        job = {"url": api.url, "requests": requests, "sample": self.args.sample}
        limit = self._workers("limit", job)
        self._row("limit: fetch + decode + one binary COPY", limit["rate"], "records/s",
                  f"{limit['records']:,} records in {limit['wall']:.1f} s: {limit['fetch']:.1f} s fetching and"
                  f" decoding, {limit['wall'] - limit['fetch']:.1f} s in the COPY")
        rowwise = self._workers("rowwise", job)
        self._row("row by row INSERT ... ON CONFLICT", rowwise["rate"], "records/s",
                  f"a sample of {rowwise['records']:,}; one statement per record, a commit per page")
        ratio = vvv_rate / limit["rate"]
        self._row("vvv / limit", ratio, "x", "target >= 0.6")
        self._target("vvv end to end >= 0.6 x the limit", f"{ratio:.2f} x", ratio >= 0.6)
        try:
            dlt = self._workers("dlt", job)
        except RuntimeError as error:
            self._say(f"dlt: {error}")
            dlt = None
        if dlt is not None:
            self._row("dlt merge load", dlt["rate"], "records/s",
                      f"{dlt['records']:,} records; write_disposition=merge, primary_key=tracking_id")
            self._row("vvv / dlt", vvv_rate / dlt["rate"], "x", "target >= 3")
            self._target("vvv end to end >= 3 x dlt", f"{vvv_rate / dlt['rate']:.1f} x", vvv_rate / dlt["rate"] >= 3)
        self._target(f"peak RSS of a {self.served:,}-print pass < 150 MB", f"{rss:.0f} MB", rss < 150)

    def _workers(self, kind: str, job: dict[str, Any]) -> dict[str, Any]:
        """Run a contender `runs` times, each in a fresh database and a process of its own: the median run."""
        results = []
        for i in range(self.args.runs):
            name = f"vvv_bench_{kind}_{i}"
            db = self._fresh(name)
            results.append(self._worker_process(kind, {**job, "db": db, "work": str(self.work / name)}))
            self._drop(name)
        median = _median([r["rate"] for r in results])
        return next(r for r in results if r["rate"] == median) if len(results) % 2 else {**results[0], "rate": median}

    def _worker_process(self, kind: str, job: dict[str, Any]) -> dict[str, Any]:
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps({"kind": kind, **job})],
                              capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    # -- the socket's firehose: vvv stream against a minimal client, the same fake, this run ---------

    def _stream(self) -> None:
        seconds = self.args.stream_seconds
        templates = self.work / "option-trades.json"
        templates.write_text(json.dumps(_trade_templates()))
        best = self._stream_vvv("vvv_bench_stream_max", templates, seconds, rate=None, channels=["option_trades"])
        self._row("vvv stream: option_trades firehose, as fast as taken", best["rate"], "msg/s",
                  f"{best['rows']:,} trades stored in {best['span']:.0f} s; lag p99 {best['lag_p99']:.2f} s"
                  f" (the fake keeps ~10,000 queued); peak RSS {best['rss_mb']:.0f} MB")
        job = {"db": self._fresh("vvv_bench_stream_min"), "templates": str(templates), "seconds": seconds}
        minimal = self._worker_process("socket_copy", job)
        self._drop("vvv_bench_stream_min")
        self._row("minimal client: socket -> json -> COPY", minimal["rate"], "msg/s",
                  f"{minimal['rows']:,} trades in {minimal['span']:.0f} s: websockets, json.loads, a tuple, text COPY"
                  " into the table; no checks, no identity, no spool")
        ratio = best["rate"] / minimal["rate"]
        self._row("vvv stream / minimal client", ratio, "x", "target >= 0.7")
        self._target("vvv stream >= 0.7 x a minimal socket -> json -> COPY client", f"{ratio:.2f} x", ratio >= 0.7)
        paced = self._stream_vvv("vvv_bench_stream_paced", templates, seconds, rate=10_000,
                                 channels=["option_trades", "flow-alerts", "news", "off_lit_trades", "price:SPY",
                                           "gex:SPY"])
        self._row("vvv stream: 10,000 msg/s offered, every channel joined", paced["rate"], "msg/s",
                  f"{paced['rows']:,} stored in {paced['span']:.0f} s; lag p99 {paced['lag_p99']:.2f} s, max"
                  f" {paced['lag_max']:.2f} s (now - executed_at at the batch's commit)")
        self._row("vvv stream: peak RSS, every channel joined", paced["rss_mb"], "MB",
                  "RSS at a quarter, half and the end of the run: "
                  + ", ".join(f"{mb:.0f}" for mb in paced["rss_trend"]) + " MB")
        sustained = paced["rate"] >= 9_800 and paced["lag_max"] < 2.0
        self._target("option_trades >= 10,000 msg/s into PostgreSQL with lag < 2 s",
                     f"{paced['rate']:,.0f} msg/s, lag max {paced['lag_max']:.2f} s", sustained)
        self._target("stream RSS < 150 MB, every channel joined", f"{paced['rss_mb']:.0f} MB", paced["rss_mb"] < 150)

    def _stream_vvv(self, name: str, templates: Path, seconds: int, *, rate: int | None,
                    channels: list[str]) -> dict[str, Any]:
        """`vvv stream` for `seconds` against a fake socket process of its own: stored rate, lag, RSS."""
        db = self._fresh(name)
        fake = _fake_socket(templates, rate)
        try:
            env = {**self._env(db, _NoApi(), self._config({})), "VVV_UW_SOCKET_URL": fake["url"],
                   "VVV_LOG_LEVEL": "WARNING"}
            command = [*VVV, "stream", *(f"--channel={c}" for c in channels), "--for", f"{seconds}s"]
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            samples, started = [], time.perf_counter()
            while proc.poll() is None:
                samples.append((time.perf_counter() - started, _status_mb(proc.pid, "VmRSS") or 0.0))
                time.sleep(0.25)
            if proc.returncode != 0:
                raise RuntimeError(f"vvv stream exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        finally:
            fake["process"].kill()
            fake["process"].wait()
        import psycopg

        with psycopg.connect(db) as conn:
            rows, first, span, lag_p99 = conn.execute(  # the rate counts from the first batch's commit on
                "SELECT count(*), count(*) FILTER (WHERE collected_at = (SELECT min(collected_at) FROM"
                " trading.option_trades)), extract(epoch FROM max(collected_at) - min(collected_at)),"
                " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM collected_at - executed_at))"
                " FROM trading.option_trades").fetchone()
            state = conn.execute("SELECT state FROM vvv.streams WHERE channel = 'option_trades'").fetchone()[0]
        self._drop(name)
        rss = [mb for _, mb in samples if mb]
        trend = [rss[min(len(rss) - 1, int(len(rss) * q))] for q in (0.25, 0.5, 0.999)] if rss else [0.0]
        return {"rows": rows, "span": float(span or 0), "rate": (rows - first) / float(span or 1),
                "lag_p99": float(lag_p99 or 0),
                "lag_max": state.get("lag_max_seconds") or 0.0, "rss_mb": max(rss or [0.0]), "rss_trend": trend}

    # -- history independence ----------------------------------------------------------------

    def _history(self, api: Any) -> None:
        config = self._config({"darkpool": {"tickers": [TICKER]}})
        sizes = [10_000, self.args.history]
        durations = {}
        for size in sizes:
            name = f"vvv_bench_history_{size}"
            db = self._fresh(name)
            started = time.perf_counter()
            self._history_rows(db, size)
            self._say(f"{size:,} rows of history stored in {time.perf_counter() - started:.0f} s")
            self._vvv(["once", "--collector", "darkpool", "--json"], db, api, config)  # collect the day once
            scans = self._seq_scans(db)
            passes = [self._vvv(["once", "--collector", "darkpool", "--json"], db, api, config)
                      for _ in range(self.args.runs if self.args.quick else max(self.args.runs, 5))]
            time.sleep(0.7)  # statistics reach pg_stat_user_tables a moment after a backend is done
            scans = self._seq_scans(db) - scans
            pass_s = _median([self._pass_seconds(db, p["result"]["run_id"]) for p in passes])
            durations[size] = pass_s
            self._row(f"no-new-data pass, {size:,} rows stored", pass_s * 1000, "ms",
                      f"the pass as vvv.runs times it; process wall {_median([p['wall'] for p in passes]):.2f} s;"
                      f" {scans} sequential scans of the table")
            self._drop(name)
        ratio = durations[sizes[1]] / durations[sizes[0]]
        self._row(f"no-new-data pass: {sizes[1]:,} / {sizes[0]:,} rows", ratio, "x", "target <= 1.2")
        self._target(f"no-new-data pass with {sizes[1]:,} rows <= 1.2 x with 10,000", f"{ratio:.2f} x", ratio <= 1.2)

    def _history_rows(self, db: str, rows: int) -> None:
        """Other tickers' prints of earlier days, made by the server itself."""
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET maintenance_work_mem = '256MB'")
            step = 1_000_000
            for low in range(1, rows + 1, step):
                conn.execute(
                    "INSERT INTO trading.darkpool_trades (tracking_id, executed_at, ticker, price, size, premium, extra)"
                    " SELECT g, timestamptz '2019-01-02 14:30Z' + g * interval '1 second', 'H' || (g %% 997),"
                    " 10 + (g %% 5000) / 100.0, 100 + g %% 900, (10 + (g %% 5000) / 100.0) * 100, '{}'::jsonb"
                    " FROM generate_series(%s::bigint, %s::bigint) AS g", (low, min(rows, low + step - 1)))
            conn.execute("VACUUM ANALYZE trading.darkpool_trades")

    def _seq_scans(self, db: str) -> int:
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            return conn.execute("SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'trading.darkpool_trades'::regclass"
                                ).fetchone()[0]

    def _pass_seconds(self, db: str, run_id: int) -> float:
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute("SELECT extract(epoch FROM finished_at - started_at)::float FROM vvv.runs WHERE id = %s",
                                (run_id,)).fetchone()[0]

    # -- export: `vvv export --format csv` against psql's \\copy, and its memory in the table's size ------

    def _export(self, api: Any) -> None:
        from vvv.io import embedded

        config = self._config({})
        sizes = [100_000, 300_000] if self.args.quick else [1_000_000, 3_000_000]
        psql = str(embedded.psql(None))
        peaks = {}
        for size in sizes:
            name = f"vvv_bench_export_{size}"
            db = self._fresh(name)
            self._history_rows(db, size)
            out = self.work / "export.csv"
            runs = [self._vvv(["export", "--table", "trading.darkpool_trades", "--format", "csv", "--out", str(out),
                               "--json"], db, api, config) for _ in range(self.args.runs)]
            ours = _median([r["wall"] for r in runs])
            copy = _median([_timed([psql, "-X", "-q", "--dbname", db, "-c",
                                    f"\\copy trading.darkpool_trades TO '{out}' WITH (FORMAT csv, HEADER)"])
                            for _ in range(self.args.runs)])
            peaks[size] = max(r["rss_mb"] for r in runs)
            ratio = size / ours / (size / copy)
            self._row(f"export csv, {size:,} rows", size / ours, "rows/s",
                      f"psql \\copy {size / copy:,.0f} rows/s ({ratio:.2f} x); peak RSS {peaks[size]:.0f} MB")
            if size == sizes[-1]:
                self._target("`vvv export --format csv` >= 0.8 x psql's \\copy", f"{ratio:.2f} x", ratio >= 0.8)
            self._drop(name)
        growth = peaks[sizes[1]] / peaks[sizes[0]]
        self._row(f"export memory: {sizes[1]:,} / {sizes[0]:,} rows", growth, "x", "flat: target <= 1.2")
        self._target("export peak RSS flat in the table's size (<= 1.2 x)", f"{growth:.2f} x", growth <= 1.2)

    # -- memory over time: `vvv run` ---------------------------------------------------------

    def _memory(self, api: Any) -> None:
        """Every collector on a one-second interval: about four passes a second, so 1,000 passes take
        about four minutes (one collector alone would take 17). New items arrive every second."""
        every = {"interval": "1s", "extended_interval": "1s", "closed_interval": "1s"}
        config = self._config({"darkpool": {"tickers": [TICKER], **every}, "news": every, "options_flow": every,
                               "economic_calendar": every})
        db = self._fresh("vvv_bench_memory")
        env = self._env(db, api, config)
        proc = subprocess.Popen([*VVV, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        marks, want, started = {}, (10, self.args.passes), time.perf_counter()
        try:
            while len(marks) < len(want) and proc.poll() is None:
                time.sleep(0.25)
                api.add_darkpool(TICKER, 3)
                if int(time.perf_counter() * 4) % 4 == 0:
                    api.add_news(1)
                    api.add_flow(1)
                passes = self._scalar(db, "SELECT count(*) FROM vvv.runs WHERE finished_at IS NOT NULL")
                for mark in want:
                    if passes >= mark and mark not in marks:
                        marks[mark] = (_rss_mb(proc.pid), time.perf_counter() - started, passes)
                if time.perf_counter() - started > 1200:
                    raise RuntimeError(f"`vvv run` made only {passes} passes in 20 minutes")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        failed = self._scalar(db, "SELECT count(*) FROM vvv.runs WHERE status <> 'ok'")
        self._drop("vvv_bench_memory")
        if len(marks) < len(want):
            raise RuntimeError("`vvv run` exited before the passes were made")
        (rss10, _, _), (rss_n, seconds, _) = marks[want[0]], marks[want[1]]
        self._row("vvv run: RSS at pass 10", rss10, "MB", "4 collectors, 1 s intervals, new items every second")
        self._row(f"vvv run: RSS at pass {want[1]:,}", rss_n, "MB",
                  f"{seconds:.0f} s in; {failed} passes not ok")
        growth = rss_n - rss10
        self._row(f"vvv run: RSS growth, pass 10 to {want[1]:,}", growth, "MB", "target < 5")
        self._target(f"`vvv run` RSS growth from pass 10 to {want[1]:,} < 5 MB", f"{growth:+.1f} MB", growth < 5)

    # -- the full options tape: vvv's load against PostgreSQL's own COPY of the same file -----

    def _tape(self) -> None:
        """`vvv tape --date D` against curl + `unzip -p | psql COPY` + the same indexes, both over loopback
        from the fake tape (302 then the ZIP), each into a fresh database, alternately, in this one run."""
        from datetime import date

        from tests.fakes.tape import FakeTape, Knobs

        rows = self.args.tape_rows or (100_000 if self.args.quick else 2_000_000)
        day = date(2026, 9, 15)
        config = self._config({})
        with FakeTape(token=TOKEN) as fake:
            fake.days[day] = Knobs(rows=rows)
            made = time.perf_counter()
            path = fake.zip_path(day)
            import zipfile

            with zipfile.ZipFile(path) as archive:
                csv_bytes = archive.infolist()[0].file_size
            self._say(f"a tape of {rows:,} rows, 49 columns: {path.stat().st_size / 2**20:,.0f} MiB zipped,"
                      f" {csv_bytes / 2**20:,.0f} MiB of CSV (made in {time.perf_counter() - made:.0f} s)")
            ours, theirs, peaks = [], [], []
            for i in range(self.args.runs):
                db = self._fresh(f"vvv_bench_tape_{i}")
                run = self._vvv(["tape", "--date", day.isoformat(), "--json"], db, fake, config)
                loaded = run["result"]["days"][0]
                if loaded.get("rows") != rows:
                    raise RuntimeError(f"vvv tape loaded {loaded}, not {rows} rows")
                ours.append(run["wall"])
                peaks.append(run["rss_mb"])
                self._drop(f"vvv_bench_tape_{i}")
                db = self._fresh(f"vvv_bench_copy_{i}")
                theirs.append(self._copy_tape(db, fake, day, rows))
                self._drop(f"vvv_bench_copy_{i}")
        vvv_s, copy_s = _median(ours), _median(theirs)
        self._row("tape: vvv tape --date (download, COPY, indexes, swap)", rows / vvv_s, "rows/s",
                  f"{vvv_s:.1f} s for {rows:,} rows, {csv_bytes / 2**20 / vvv_s:,.0f} MiB of CSV a second")
        self._row("tape: curl + unzip -p | psql COPY + the same indexes", rows / copy_s, "rows/s",
                  f"{copy_s:.1f} s; into the same typed table, no swap, no rejects")
        ratio = copy_s / vvv_s
        self._row("tape: vvv's speed / PostgreSQL's COPY", ratio, "x", "target >= 0.8")
        ten = 10_000_000 * vvv_s / rows
        how = "measured" if rows == 10_000_000 else f"linear from {rows:,} rows (index builds grow a little faster)"
        self._row(f"tape: a 10M-row day, {'measured' if rows == 10_000_000 else 'extrapolated'}", ten, "s",
                  f"{how}; target < 240")
        peak = max(peaks)
        self._row("tape: vvv tape peak RSS", peak, "MB", "target < 150")
        self._target("tape load >= 0.8x PostgreSQL's own COPY (download included)", f"{ratio:.2f}x", ratio >= 0.8)
        self._target("a 10M-row tape day < 4 min", f"{ten:.0f} s ({how})", ten < 240)
        self._target("`vvv tape` RSS < 150 MB", f"{peak:.0f} MB", peak < 150)

    def _copy_tape(self, db: str, fake: Any, day: Any, rows: int) -> float:
        """PostgreSQL's own way: curl follows the 302, unzip -p streams the CSV into psql's COPY."""
        from vvv.io import embedded

        psql = str(embedded.psql(self.work / "data"))
        table = "trading.option_trades_copy"
        indexes = [f"CREATE UNIQUE INDEX ON {table} (id, executed_at, underlying_symbol)",
                   f"CREATE INDEX ON {table} (underlying_symbol, executed_at)",
                   f"CREATE INDEX ON {table} (option_chain_id, executed_at)"]
        self._execute(db, f"CREATE TABLE {table} (LIKE trading.option_trades INCLUDING DEFAULTS)")
        header = fake.zip_path(day)
        import zipfile

        with zipfile.ZipFile(header) as archive, archive.open(archive.infolist()[0]) as stream:
            columns = stream.readline().decode().strip()
        zip_path = self.work / "copy-tape.zip"
        url = f"{fake.base_url}/api/option-trades/full-tape/{day}"
        started = time.perf_counter()
        subprocess.run(["curl", "-sSfL", "-H", f"Authorization: Bearer {TOKEN}", "-o", str(zip_path), url], check=True)
        copy = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv, HEADER)"
        subprocess.run(f"unzip -p {zip_path} | {psql} -X -q -v ON_ERROR_STOP=1 -d \"$DB\" -c \"{copy}\"",
                       shell=True, check=True, env={**os.environ, "DB": db})
        for statement in indexes:
            subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c",
                            f"SET maintenance_work_mem = '256MB'; {statement}"], check=True)
        seconds = time.perf_counter() - started
        zip_path.unlink()
        copied = self._scalar(db, f"SELECT count(*) FROM {table}")
        if copied != rows:
            raise RuntimeError(f"PostgreSQL's COPY loaded {copied}, not {rows} rows")
        return seconds

    # -- start-up ----------------------------------------------------------------------------

    def _startup(self) -> None:
        runs = self.args.runs if self.args.quick else max(self.args.runs, 7)
        installed = _median([_timed([*VVV, "--version"]) for _ in range(runs)])
        self._row("installed vvv --version", installed * 1000, "ms", f"median of {runs}")
        self._row("installed vvv --help", _median([_timed([*VVV, "--help"]) for _ in range(runs)]) * 1000, "ms", "")
        self._target("`vvv --version` installed < 0.3 s", f"{installed:.2f} s", installed < 0.3)
        exe = ROOT / "dist" / "vvv"
        if exe.exists():
            self._row("dist/vvv size", exe.stat().st_size / 2**20, "MiB", "")
            self._row("dist/vvv --version", _median([_timed([str(exe), "--version"]) for _ in range(runs)]) * 1000,
                      "ms", "unpacks the bundle to /tmp first")
        else:
            self._say("no dist/vvv: run ./scripts/build for the executable's figures")

    # -- plumbing ----------------------------------------------------------------------------

    def _config(self, collectors: dict[str, dict[str, Any]]) -> Path:
        import attrs

        from vvv.config import ApiConfig

        lines = []
        if "requests_per_minute" in attrs.fields_dict(ApiConfig):  # the fake's limits are raised as far
            lines += ["[api]", "requests_per_minute = 1000000", ""]
        for name, options in collectors.items():
            lines.append(f"[collectors.{name}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
            lines.append("")
        path = self.work / f"vvv-{len(list(self.work.glob('vvv-*.toml')))}.toml"
        path.write_text("\n".join(lines))
        return path

    def _env(self, db: str, api: Any, config: Path) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work),
                "VVV_DATABASE_URL": db, "VVV_UW_BASE_URL": api.url, "VVV_UW_TOKEN": TOKEN,
                "VVV_DATA_DIR": str(self.work / "vvv"), "VVV_CONFIG": str(config), "VVV_MONITOR_PORT": "0"}

    def _vvv(self, command: list[str], db: str, api: Any, config: Path) -> dict[str, Any]:
        """`vvv COMMAND` in a process of its own: its JSON result, wall time and peak RSS."""
        started = time.perf_counter()
        peak = 0.0
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([*VVV, *command], env=self._env(db, api, config), stdout=out, stderr=err)
            # VmHWM, polled: the child's rusage would count the pages of this big process it was forked from.
            while proc.poll() is None:
                peak = max(peak, _status_mb(proc.pid, "VmHWM") or 0.0)
                time.sleep(0.02)
            wall = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if proc.returncode != 0:
            raise RuntimeError(f"vvv {' '.join(command)} exited {proc.returncode}: {stderr.decode()[-2000:]}")
        return {"result": json.loads(stdout), "wall": wall, "rss_mb": peak}

    def _template(self) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        from vvv.io import migrate

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            admin.execute(f"CREATE DATABASE {TEMPLATE}")
        with psycopg.connect(make_conninfo(self.server, dbname=TEMPLATE)) as conn:
            migrate.migrate(conn, migrate.discover(migrate.sql_dir()))

    def _fresh(self, name: str) -> str:
        import psycopg
        from psycopg.conninfo import make_conninfo

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return make_conninfo(self.server, dbname=name)

    def _drop(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _execute(self, db: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(statement)

    def _scalar(self, db: str, query: str) -> Any:
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            return conn.execute(query).fetchone()[0]

    def _row(self, measure: str, value: float, unit: str, note: str) -> None:
        self.rows.append({"measure": measure, "value": round(value, 3), "unit": unit, "note": note})
        self._say(f"{measure}: {_figure(value, unit)} {unit}  {note}")

    def _target(self, target: str, figure: str, met: bool) -> None:
        self.targets.append({"target": target, "figure": figure, "met": met})

    def _say(self, line: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.0f}s] {line}", file=sys.stderr, flush=True)

    def _report(self) -> None:
        machine = _machine()
        width = max(len(r["measure"]) for r in self.rows)
        print(f"\nvvv benchmark, {'quick' if self.args.quick else 'full'} run: medians of {self.args.runs} runs,"
              f" {self.served:,} prints; {machine['summary']}")
        print(f"{'measure':<{width}}  {'figure':>12}  note")
        for r in self.rows:
            print(f"{r['measure']:<{width}}  {_figure(r['value'], r['unit']):>9} {r['unit']:<9}  {r['note']}")
        print("\ntargets:")
        for t in self.targets:
            print(f"  {'met   ' if t['met'] else 'MISSED'}  {t['target']}: {t['figure']}")
        print(f"\n{time.perf_counter() - self.started:.0f} s in all; written to build/bench.json")
        (ROOT / "build").mkdir(exist_ok=True)
        (ROOT / "build" / "bench.json").write_text(json.dumps({
            "quick": self.args.quick, "runs": self.args.runs, "prints": self.served, "machine": machine,
            "commit": _commit(), "seconds": round(time.perf_counter() - self.started), "results": self.rows,
            "targets": self.targets}, indent=2) + "\n")


# -- the contenders that are not vvv, each run as `bench.py --worker JOB` ------------------------

_COLUMNS = ("tracking_id", "executed_at", "ticker", "price", "size", "premium", "volume", "nbbo_bid", "nbbo_ask",
            "nbbo_bid_quantity", "nbbo_ask_quantity", "market_center", "canceled", "ext_hour_sold_codes",
            "sale_cond_codes", "trade_code", "trade_settlement", "trf_executed_at", "created_at", "extra")
_TYPES = ("int8", "timestamptz", "text", "numeric", "int8", "numeric", "int8", "numeric", "numeric", "int8", "int8",
          "text", "bool", "text", "text", "text", "text", "timestamptz", "timestamptz", "jsonb")


def _worker(spec: str) -> int:
    job = json.loads(spec)
    kind = job.pop("kind")
    result = {"limit": _limit, "rowwise": _rowwise, "dlt": _dlt, "socket_copy": _socket_copy}[kind](job)
    print(json.dumps(result))
    return 0


def _pages(job: dict[str, Any]):
    """The responses to the very requests vvv made, decoded: one JSON decode per page."""
    import httpx

    with httpx.Client(base_url=job["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        for path, pairs in job["requests"]:
            response = client.get(path, params=[tuple(p) for p in pairs])
            response.raise_for_status()
            yield json.loads(response.content)["data"]


def _row_of(item: dict[str, Any]) -> tuple[Any, ...]:
    """An API item as typed column values, the least a binary COPY needs: no checks at all."""
    def time_(v):
        return None if v is None else datetime.fromisoformat(v)

    def number(v):
        return None if v is None else Decimal(v if isinstance(v, str) else str(v))

    def integer(v):
        return None if v is None else int(v)

    g = item.get
    extra = {k: v for k, v in item.items() if k not in _COLUMNS}
    return (int(item["tracking_id"]), time_(item["executed_at"]), item["ticker"], number(item["price"]),
            int(item["size"]), number(g("premium")), integer(g("volume")), number(g("nbbo_bid")), number(g("nbbo_ask")),
            integer(g("nbbo_bid_quantity")), integer(g("nbbo_ask_quantity")), g("market_center"), g("canceled"),
            g("ext_hour_sold_codes"), g("sale_cond_codes"), g("trade_code"), g("trade_settlement"),
            time_(g("trf_executed_at")), time_(g("created_at")), extra)


def _limit(job: dict[str, Any]) -> dict[str, Any]:
    import psycopg
    from psycopg.types.json import JsonbBinaryDumper

    with psycopg.connect(job["db"]) as conn:
        conn.adapters.register_dumper(dict, JsonbBinaryDumper)
        conn.execute("CREATE TABLE public.bench_limit (LIKE trading.darkpool_trades INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        rows = {}
        for page in _pages(job):
            for item in page:
                rows[item["tracking_id"]] = _row_of(item)  # pages overlap at their edges: one row per print
        fetched = time.perf_counter()
        with conn.cursor().copy(f"COPY public.bench_limit ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_TYPES)
            for row in rows.values():
                copy.write_row(row)
        conn.commit()
        wall = time.perf_counter() - started
    return {"records": len(rows), "wall": wall, "rate": len(rows) / wall, "fetch": fetched - started}


def _rowwise(job: dict[str, Any]) -> dict[str, Any]:
    import psycopg
    from psycopg.types.json import Jsonb

    pages = []
    for page in _pages(job):
        pages.append([_row_of(item) for item in page])
        if sum(map(len, pages)) >= job["sample"]:
            break
    insert = (f"INSERT INTO trading.darkpool_trades ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * 20)})"
              " ON CONFLICT (tracking_id) DO NOTHING")
    with psycopg.connect(job["db"]) as conn:
        started = time.perf_counter()
        for page in pages:
            for row in page:
                conn.execute(insert, (*row[:-1], Jsonb(row[-1])))
            conn.commit()
        wall = time.perf_counter() - started
    records = sum(map(len, pages))
    return {"records": records, "wall": wall, "rate": records / wall}


def _dlt(job: dict[str, Any]) -> dict[str, Any]:
    try:
        import dlt
    except ImportError:
        raise SystemExit("dlt is not installed: pip install -e '.[bench]'") from None
    from psycopg.conninfo import conninfo_to_dict

    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["DLT_DATA_DIR"] = job["work"]
    params = conninfo_to_dict(job["db"])
    # dlt wants a host and a password: a socket directory goes in percent-encoded, and the
    # embedded server trusts local connections, so the password is never checked.
    credentials = {"database": params["dbname"], "username": params.get("user") or "postgres",
                   "password": params.get("password") or "unused", "host": quote(params.get("host", "localhost"), safe=""),
                   "port": int(params.get("port") or 5432)}
    records = 0

    @dlt.resource(name="darkpool_trades", write_disposition="merge", primary_key="tracking_id")
    def prints():
        nonlocal records
        for page in _pages(job):
            records += len(page)
            yield page

    pipeline = dlt.pipeline(pipeline_name="vvv_bench", destination=dlt.destinations.postgres(credentials=credentials),
                            dataset_name="bench_dlt", pipelines_dir=job["work"])
    started = time.perf_counter()
    pipeline.run(prints())
    wall = time.perf_counter() - started
    import psycopg

    with psycopg.connect(job["db"]) as conn:
        stored = conn.execute("SELECT count(*) FROM bench_dlt.darkpool_trades").fetchone()[0]
    return {"records": stored, "fetched": records, "wall": wall, "rate": stored / wall}


# -- small helpers -----------------------------------------------------------------------------

class _NoApi:
    url = "http://127.0.0.1:9"  # the stream section needs no REST API: nothing gaps on a first start


def _trade_templates(count: int = 500) -> list[dict[str, Any]]:
    """Option trades shaped as the real frames of socket-samples/ (strings for numbers, epoch-ms times,
    "" underlying_price on index options), over a few underlyings."""
    import ast
    import random

    samples = ROOT.parent / "shared" / "uw-api" / "socket-samples"
    if not samples.is_dir():
        samples = Path("/work/shared/uw-api/socket-samples")
    real = [json.loads((samples / "option_trades_live_frame_QQQ_2026-08-20.json").read_text())[1]]
    for line in (samples / "demo_optiontrades_20250516_131951.txt").read_text().splitlines():
        parts = line.split("|", 2)
        if len(parts) == 3 and "'id'" in parts[2]:
            real.append(ast.literal_eval(parts[2]))
    rng = random.Random(1)
    trades = []
    for _ in range(count):
        trade = dict(rng.choice(real))
        symbol = rng.choice(["SPY", "QQQ", "TSLA", "AAPL", "NVDA", "SPX", "IWM", "AMD"])
        trade.update(underlying_symbol=symbol, option_symbol=symbol + trade["option_symbol"][-15:],
                     size=rng.randint(1, 500), price=f"{rng.random() * 20:.2f}")
        if symbol == "SPX":
            trade["underlying_price"] = ""
        trades.append(trade)
    return trades


def _fake_socket(templates: Path, rate: int | None) -> dict[str, Any]:
    """The fake socket in a process of its own, sending pre-encoded trades (fresh ids, `now` as their times)."""
    command = [sys.executable, "-m", "tests.fakes.socket", "--templates", str(templates), "--total", str(10**9),
               "--token", TOKEN, *(["--rate", str(rate)] if rate else [])]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    port = int(process.stdout.readline())
    return {"process": process, "url": f"ws://127.0.0.1:{port}/socket"}


_TRADE_FIELDS = ("id", "executed_at", "underlying_symbol", "option_symbol", "option_type", "expiry", "strike",
                 "price", "size", "premium", "nbbo_bid", "nbbo_ask", "ewma_nbbo_bid", "ewma_nbbo_ask",
                 "underlying_price", "open_interest", "volume", "implied_volatility", "delta", "theta", "gamma",
                 "vega", "rho", "theo", "report_flags", "tags", "trade_code", "exchange", "ask_vol", "bid_vol",
                 "no_side_vol", "mid_vol", "multi_vol", "stock_multi_vol", "created_at")
_TRADE_COLUMNS = ", ".join({"option_symbol": "option_chain_id", "trade_code": "upstream_condition_detail"}.get(f, f)
                           for f in _TRADE_FIELDS)


def _socket_copy(job: dict[str, Any]) -> dict[str, Any]:
    """The least a socket client can do: receive, json.loads, a tuple of the fields, one text COPY per 2,000."""
    from datetime import UTC

    import psycopg
    from websockets.sync.client import connect

    fake = _fake_socket(Path(job["templates"]), None)
    stored, first, last = 0, None, None
    try:
        with psycopg.connect(job["db"]) as conn, connect(f"{fake['url']}?token={TOKEN}", proxy=None,
                                                         max_queue=4096) as ws:
            for day in ("current_date - 1", "current_date", "current_date + 1"):
                conn.execute(f"SELECT vvv.option_trades_partition({day})")
            conn.commit()
            ws.send(json.dumps({"channel": "option_trades", "msg_type": "join"}))
            deadline, rows = time.monotonic() + job["seconds"], []
            while time.monotonic() < deadline:
                try:
                    _, payload = json.loads(ws.recv(timeout=0.1))
                except TimeoutError:
                    continue
                if "id" not in payload:
                    continue  # the join's ack
                g = payload.get
                rows.append((payload["id"], datetime.fromtimestamp(payload["executed_at"] / 1000, UTC),
                             *(None if v == "" else v for v in map(g, _TRADE_FIELDS[2:-1])),
                             datetime.fromtimestamp(g("created_at") / 1000, UTC)))
                if len(rows) >= 2000:
                    with conn.cursor().copy(f"COPY trading.option_trades ({_TRADE_COLUMNS}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    conn.commit()
                    stored, rows = stored + len(rows), []
                    first, last = first or time.monotonic(), time.monotonic()
    finally:
        fake["process"].kill()
    span = (last - first) if first and last and last > first else 1.0
    return {"rows": stored, "span": span, "rate": (stored - 2000) / span}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _rss_mb(pid: int) -> float:
    rss = _status_mb(pid, "VmRSS")
    if rss is None:
        raise RuntimeError(f"no VmRSS for process {pid}")
    return rss


def _status_mb(pid: int, field: str) -> float | None:
    """A memory figure of /proc/PID/status in MB, or None once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith(f"{field}:")), None)


def _figure(value: float, unit: str) -> str:
    if unit in ("x",):
        return f"{value:.2f}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = next((int(line.split()[1]) / 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0.0)
    cores = os.cpu_count() or 0
    return {"cpu": cpu, "cores": cores, "memory_gib": round(memory, 1), "python": platform.python_version(),
            "load_before": os.getloadavg()[0],
            "summary": f"{cores} cores ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}"}


def _commit() -> str | None:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
