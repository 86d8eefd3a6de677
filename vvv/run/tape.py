"""The full options tape: a day's every option trade, downloaded, loaded by COPY, swapped in.

A day's ZIP holds one CSV whose values are PostgreSQL text. It is read as a stream (never
whole in memory) and COPYed, in blocks of whole lines, into `trading.option_trades_load_D`,
a fresh table of the day partition's shape: PostgreSQL parses and types every value, Python
only cuts the stream at line ends. Columns map by the header's names; a column vvv does not
know lands in `extra`, built in SQL by a generated column. A line PostgreSQL refuses (a bad
value, a wrong number of fields) fails its block's COPY with its line number: the line goes
to `vvv.rejects`, the block is sent again without it, the rest of the day loads. Indexes are
built after the load, then `vvv.option_trades_swap` replaces the day's partition in one
transaction. Until that swap nothing a reader sees has changed: a cut download, a ZIP that
does not verify, a failed COPY or a row count that does not match leave the day as it was.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import IO, Any

import attrs
import psycopg
from attrs import frozen
from loguru import logger
from psycopg import sql

from vvv.config import TapeConfig
from vvv.core import calendar
from vvv.errors import Fatal, one_line
from vvv.io import download, store

COLLECTOR = "tape"  # vvv.rejects.collector of the tape's rejected lines
BLOCK = 4 << 20  # bytes of whole lines per COPY: what one refused line costs to send again
COPY_STREAMS = max(1, min(4, os.cpu_count() or 1))  # COPYs at once: PostgreSQL parses a stream on one core
MAX_REJECTS = 1000  # beyond this many refused lines the file is not a tape of a known layout
MAX_LINE = 1 << 20
RETRY_AFTER = timedelta(minutes=30)  # the nightly job asks again for a tape not published yet
MAX_ATTEMPTS = 8  # then it gives up on that day (status failed), `vvv tape --date` still loads it
LOOKBACK_DAYS = 3  # market days the nightly job catches up on (the documented history)
SWAP_LOCK_TIMEOUT = "5s"
SWAP_TRIES = 60  # a swap waits at most this many lock timeouts for readers of the table
_TABLE = "option_trades"
_ERROR_LINE = re.compile(r"^COPY [^,]+, line (\d+)")
_END = object()


class TapeFailed(Fatal):
    """A day that could not be loaded; `retry` says whether asking again later may help."""

    def __init__(self, message: str, *, retry: bool = False, status: int | None = None, answer: str | None = None):
        super().__init__(message)
        self.retry, self.status, self.answer = retry, status, answer


@frozen
class Rejected:
    line: int
    reason: str
    text: bytes


@frozen
class Loaded:
    day: date
    rows: int
    rejects: int
    bytes: int
    replaced: bool
    seconds: float

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0
        return (f"tape {self.day}: {self.rows:,} rows loaded, {self.rejects} rejected, {self.bytes / 2**20:,.1f} MiB,"
                f" {self.seconds:.1f} s ({rate:,.0f} rows/s){', replacing the day' if self.replaced else ''}")


def fetch_and_load(
    url: str,
    day: date,
    *,
    base_url: str,
    token: str,
    data_dir: Path,
    keep_files: bool = False,
    statement_timeout_s: int = 60,
    meter: Meter | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Loaded:
    """Download the tape of `day`, load it, swap it in, record it in vvv.tape_loads (either way)."""
    meter = meter or Meter(enabled=False)
    started = time.monotonic()
    dest = data_dir / "tape" / f"{day.isoformat()}-option_trades.zip"
    conn = store.connect(url, statement_timeout_s=statement_timeout_s, autocommit=True)
    try:
        _record_start(conn, day)
        fetched = None
        try:
            meter.phase(f"tape {day}: downloading")
            fetched = download.fetch(download.tape_url(base_url, day), token=token, dest=dest,
                                     progress=lambda done, total: meter.bytes(done, total))
            meter.done()
            with contextlib.ExitStack() as stack:
                copiers = [stack.enter_context(store.connect(url, statement_timeout_s=statement_timeout_s,
                                                             autocommit=True)) for _ in range(COPY_STREAMS)]
                loaded = load_file(conn, day, dest, meter=meter, stopping=stopping, fetched=fetched.bytes,
                                   started=started, copiers=copiers)
        except download.TapeRefused as refused:
            raise TapeFailed(f"tape {day}: {refused}", retry=refused.status in (404, 429) or refused.status >= 500,
                             status=refused.status, answer=refused.answer) from None
        except download.DownloadFailed as error:
            raise TapeFailed(f"tape {day}: {error}", retry=True) from None
        finally:
            meter.done()
            if not keep_files:
                dest.unlink(missing_ok=True)
        _record_ok(conn, loaded, status=fetched.status)
        return loaded
    except TapeFailed as failed:
        _record_failure(conn, day, failed)
        raise
    except (psycopg.Error, OSError) as error:
        failed = TapeFailed(f"tape {day}: {one_line(error)}", retry=True)
        _record_failure(conn, day, failed)
        raise failed from None
    finally:
        conn.close()


def load_file(
    conn: psycopg.Connection,
    day: date,
    path: Path,
    *,
    meter: Meter | None = None,
    stopping: Callable[[], bool] = lambda: False,
    fetched: int | None = None,
    started: float | None = None,
    copiers: Sequence[psycopg.Connection] = (),
) -> Loaded:
    """Load a downloaded tape ZIP into the day's partition, replacing it; the day is unchanged on failure.

    `copiers` are the connections the COPY runs over in parallel (default: `conn` alone)."""
    import zipfile
    import zlib

    meter = meter or Meter(enabled=False)
    started = time.monotonic() if started is None else started
    try:
        entry = download.tape_entry(path, day)
    except download.DownloadFailed as error:
        raise TapeFailed(f"tape {day}: {error}") from None
    load = f"{_TABLE}_load_{day:%Y%m%d}"
    conn.execute("SET statement_timeout = 0")  # an index of 10 million rows takes longer than any timeout
    conn.execute("SET maintenance_work_mem = '256MB'")
    try:
        with zipfile.ZipFile(path) as archive, archive.open(entry) as stream:
            header = _header(stream, day)
            shape = _shape(conn, header, day)
            _create_load_table(conn, load, shape, day)
            meter.phase(f"tape {day}: loading")
            rows, lines, rejects = _copy_all(copiers or (conn,), load, shape, stream, meter=meter,
                                             total=entry.file_size, stopping=stopping)
        meter.done()
        if lines != rows + len(rejects):
            raise TapeFailed(f"tape {day}: the row count does not match the file: {lines:,} lines, {rows:,} rows"
                             f" loaded and {len(rejects)} rejected; the tape is corrupt, the day is left as it was")
        if rows == 0:
            raise TapeFailed(f"tape {day}: the tape holds no rows; the day is left as it was")
        meter.phase(f"tape {day}: indexing {rows:,} rows")
        duplicates = _finish_table(conn, load, shape, day, copiers or (conn,))
        replaced = _swap(conn, day)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:  # a bad CRC, bad DEFLATE data, an entry cut short
        _drop(conn, load)
        raise TapeFailed(f"tape {day}: the ZIP does not verify ({error}); the day is left as it was") from None
    except BaseException:
        _drop(conn, load)
        raise
    _store_rejects(conn, day, rejects)
    seconds = time.monotonic() - started
    return Loaded(day=day, rows=rows - duplicates, rejects=len(rejects) + duplicates,
                  bytes=fetched if fetched is not None else path.stat().st_size, replaced=replaced, seconds=seconds)


@frozen
class _Shape:
    """How the file's columns land: `targets` in header order (a known column or `_extra_N`)."""

    targets: tuple[str, ...]
    unknown: tuple[tuple[str, str], ...]  # (header name, its `_extra_N` column)


def _header(stream: IO[bytes], day: date) -> list[str]:
    line = stream.readline(MAX_LINE)
    if not line.strip():
        raise TapeFailed(f"tape {day}: the tape is empty: no header line")
    names = next(csv.reader([line.decode("utf-8", "replace").lstrip("\ufeff")]))
    names = [name.strip() for name in names]
    if len(set(names)) != len(names):
        raise TapeFailed(f"tape {day}: the header names a column twice: {', '.join(names)}")
    return names


def _shape(conn: psycopg.Connection, header: Sequence[str], day: date) -> _Shape:
    known = [name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'trading.option_trades'::regclass AND attnum > 0"
        " AND NOT attisdropped AND attname NOT IN ('extra', 'collected_at') ORDER BY attnum").fetchall()]
    required = [name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'trading.option_trades'::regclass AND attnum > 0"
        " AND attnotnull AND NOT attisdropped AND atthasdef = false ORDER BY attnum").fetchall()]
    missing = [name for name in required if name not in header]
    if missing:
        raise TapeFailed(f"tape {day}: the header has no {', '.join(missing)} column: not a tape vvv can load")
    targets, unknown = [], []
    for name in header:
        if name in known:
            targets.append(name)
        else:
            unknown.append((name, f"_extra_{len(unknown) + 1}"))
            targets.append(unknown[-1][1])
    if unknown:
        logger.info("tape {}: {} columns vvv has no column for go to extra: {}", day, len(unknown),
                    ", ".join(name for name, _ in unknown))
    return _Shape(targets=tuple(targets), unknown=tuple(unknown))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, dt_time(), tzinfo=calendar.NY)
    return start, datetime.combine(day + timedelta(days=1), dt_time(), tzinfo=calendar.NY)


def _create_load_table(conn: psycopg.Connection, load: str, shape: _Shape, day: date) -> None:
    """A table of the partition's shape, with the day's bounds as a CHECK (ATTACH then needs no scan)."""
    table = sql.Identifier("trading", load)
    low, high = _day_bounds(day)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))  # a load a crash left behind
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE trading.option_trades INCLUDING DEFAULTS)").format(table))
    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (executed_at >= {} AND executed_at < {})").format(
        table, sql.Identifier(f"{load}_day"), sql.Literal(low), sql.Literal(high)))
    if not shape.unknown:
        return
    # jsonb_object(text[], text[]) is immutable, as a generated column needs (jsonb_build_object is not)
    keys = sql.SQL(", ").join(sql.Literal(name) for name, _ in shape.unknown)
    values = sql.SQL(", ").join(sql.Identifier(column) for _, column in shape.unknown)
    conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN extra").format(table))
    conn.execute(sql.SQL("ALTER TABLE {} {}, ADD COLUMN extra jsonb NOT NULL"
                         " GENERATED ALWAYS AS (jsonb_strip_nulls(jsonb_object(ARRAY[{}]::text[], ARRAY[{}]::text[])))"
                         " STORED").format(
        table,
        sql.SQL(", ").join(sql.SQL("ADD COLUMN {} text").format(sql.Identifier(c)) for _, c in shape.unknown),
        keys, values))


def _copy_all(copiers: Sequence[psycopg.Connection], load: str, shape: _Shape, stream: IO[bytes], *, meter: Meter,
              total: int, stopping: Callable[[], bool]) -> tuple[int, int, list[Rejected]]:
    """COPY every line after the header over the `copiers` connections at once (PostgreSQL parses
    on as many cores); returns (rows stored, lines read, lines refused)."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier("trading", load), sql.SQL(", ").join(map(sql.Identifier, shape.targets)))
    idle: queue.Queue[psycopg.Connection] = queue.Queue()
    for copier in copiers:
        idle.put(copier)

    def copy(block: bytes, first_line: int) -> tuple[int, list[Rejected]]:
        copier = idle.get()
        try:
            found: list[Rejected] = []
            return _copy_block(copier, statement, block, first_line=first_line, rejects=found), found
        finally:
            idle.put(copier)

    rows = lines = done = 0
    rejects: list[Rejected] = []
    pending: set[Future[tuple[int, list[Rejected]]]] = set()

    def settle(futures: set[Future[tuple[int, list[Rejected]]]]) -> None:
        nonlocal rows
        for future in futures:
            stored, found = future.result()
            rows += stored
            rejects.extend(found)
            if len(rejects) > MAX_REJECTS:
                raise TapeFailed(f"more than {MAX_REJECTS} lines PostgreSQL cannot take (e.g. line {found[0].line}:"
                                 f" {found[0].reason}): not a tape vvv can load")

    with ThreadPoolExecutor(max_workers=len(copiers), thread_name_prefix="tape-copy") as pool:
        try:
            for block in _blocks(stream):
                if stopping():
                    raise TapeFailed("interrupted: the load stopped before it finished", retry=True)
                pending.add(pool.submit(copy, block, lines + 2))
                lines += block.count(b"\n") + (not block.endswith(b"\n"))
                done += len(block)
                if len(pending) > len(copiers):
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    settle(finished)
                meter.rows(rows, done, total)
            finished, pending = wait(pending)
            settle(finished)
        finally:
            for future in pending:
                future.cancel()
            wait(pending)
    rejects.sort(key=lambda r: r.line)
    return rows, lines, rejects


def _blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """Blocks of whole lines, read (and decompressed, its CRC checked) ahead in a thread of its own."""
    pipe: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def produce() -> None:
        tail = b""
        try:
            while not stop.is_set():
                piece = stream.read(BLOCK)
                if not piece:
                    break
                data = tail + piece if tail else piece
                cut = data.rfind(b"\n") + 1
                if cut == 0 and len(data) > MAX_LINE:
                    raise TapeFailed(f"a line longer than {MAX_LINE:,} bytes: not a tape vvv can load")
                tail = data[cut:]
                if cut:
                    put(data[:cut])
            if tail.strip():
                put(tail)
            put(_END)
        except BaseException as error:  # the CRC's BadZipFile, a read error: raised in the reader
            put(error)

    reader = threading.Thread(target=produce, name="tape-read", daemon=True)
    reader.start()
    try:
        while (item := pipe.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def _copy_block(conn: psycopg.Connection, statement: sql.Composed, block: bytes, *, first_line: int,
                rejects: list[Rejected]) -> int:
    """COPY one block; a line PostgreSQL refuses becomes a reject and the block goes again without it."""
    rows = 0
    while block:
        try:
            with conn.cursor() as cur:
                with cur.copy(statement) as copy:
                    copy.write(block)
                return rows + cur.rowcount
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as error:
            match = _ERROR_LINE.match(error.diag.context or "")
            lines = block.split(b"\n", int(match[1])) if match else []
            if not match or len(lines) < int(match[1]):
                raise
            number = int(match[1])
            head, bad, block = b"\n".join(lines[:number - 1]), lines[number - 1], b"\n".join(lines[number:])
            rejects.append(Rejected(line=first_line + number - 1, reason=one_line(error.diag.message_primary
                                                                                    or error), text=bad))
            if len(rejects) > MAX_REJECTS:
                raise TapeFailed(f"more than {MAX_REJECTS} lines PostgreSQL cannot take (the last, line"
                                 f" {rejects[-1].line}: {rejects[-1].reason}): not a tape vvv can load") from None
            if head:
                rows += _copy_block(conn, statement, head + b"\n", first_line=first_line, rejects=rejects)
            first_line += number
    return rows


def _finish_table(conn: psycopg.Connection, load: str, shape: _Shape, day: date,
                  copiers: Sequence[psycopg.Connection]) -> int:
    """The parent's indexes built on the loaded table, at once over `copiers` (a key repeated in the
    tape: the extra rows become rejects), `extra` made a plain column; returns the rows so dropped."""
    from concurrent.futures import ThreadPoolExecutor

    table = sql.Identifier("trading", load)
    if shape.unknown:
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN extra DROP EXPRESSION, {}").format(
            table, sql.SQL(", ").join(sql.SQL("DROP COLUMN {}").format(sql.Identifier(c)) for _, c in shape.unknown)))
    builds = []
    for name, definition, primary in _parent_indexes(conn):
        index = f"{load}_{name.removeprefix(_TABLE + '_')}"
        statement = definition.replace(f"INDEX {name} ON ONLY trading.{_TABLE} ", f"INDEX {index} ON trading.{load} ", 1)
        if statement == definition:
            raise TapeFailed(f"tape {day}: cannot build the index {name} on the load table from {definition!r}")
        builds.append((index, statement, primary))
    idle: queue.Queue[psycopg.Connection] = queue.Queue()
    for copier in copiers:
        copier.execute("SET statement_timeout = 0")
        copier.execute("SET maintenance_work_mem = '256MB'")
        idle.put(copier)

    def build(statement: str) -> bool:
        """True when built, False when the tape repeats a key of this unique index."""
        copier = idle.get()
        try:
            copier.execute(statement)
            return True
        except psycopg.errors.UniqueViolation:
            return False
        finally:
            idle.put(copier)

    with ThreadPoolExecutor(max_workers=len(copiers), thread_name_prefix="tape-index") as pool:
        built = list(pool.map(build, [statement for _, statement, _ in builds]))
    duplicates = 0
    for (index, statement, primary), ok in zip(builds, built, strict=True):
        if not ok:
            duplicates += _drop_duplicates(conn, load, day)
            conn.execute(statement)
        if primary:
            conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}").format(
                table, sql.Identifier(index), sql.Identifier(index)))
    conn.execute(sql.SQL("ANALYZE {}").format(table))
    return duplicates


def _parent_indexes(conn: psycopg.Connection) -> list[tuple[str, str, bool]]:
    """The partitioned table's indexes, primary key first: (name, CREATE INDEX statement, is primary)."""
    return conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'trading.option_trades'::regclass"
        " ORDER BY i.indisprimary DESC, c.relname").fetchall()


def _drop_duplicates(conn: psycopg.Connection, load: str, day: date) -> int:
    """Rows of the tape that repeat a key: one stays (a canceled one, if any: the cancel is the later news),
    the others go to vvv.rejects. The blocks are COPYed in parallel: the file's order is not the table's."""
    found = conn.execute(sql.SQL(
        "WITH ranked AS (SELECT ctid AS at, row_number() OVER (PARTITION BY id, executed_at, underlying_symbol"
        "                ORDER BY canceled DESC NULLS LAST, ctid DESC) AS n FROM {table}),"
        " gone AS (DELETE FROM {table} t USING ranked r WHERE t.ctid = r.at AND r.n > 1 RETURNING t.*)"
        " INSERT INTO vvv.rejects (collector, reason, raw)"
        " SELECT %s, 'a later row of the tape has the same key (id, executed_at, underlying_symbol)',"
        "        json_build_object('day', %s::date, 'row', to_jsonb(gone))::text FROM gone"
        " ON CONFLICT (collector, raw_md5) DO UPDATE SET last_seen = now(), reason = EXCLUDED.reason"
    ).format(table=sql.Identifier("trading", load)), (COLLECTOR, day))
    logger.warning("tape {}: {} rows repeat the key of another: one of each kept (a canceled one first),"
                   " the others are in vvv.rejects", day, found.rowcount)
    return found.rowcount


def _swap(conn: psycopg.Connection, day: date) -> bool:
    """The day's partition replaced by the load table in one transaction, waiting for readers in short turns."""
    conn.execute(f"SET lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    try:
        for attempt in range(SWAP_TRIES):
            try:
                return bool(conn.execute("SELECT vvv.option_trades_swap(%s)", (day,)).fetchone()[0])
            except psycopg.errors.LockNotAvailable:
                if attempt == 0:
                    logger.info("tape {}: waiting for readers of trading.option_trades to swap the day in", day)
        raise TapeFailed(f"tape {day}: readers held trading.option_trades for too long: the day is left as it was",
                         retry=True)
    finally:
        conn.execute("SET lock_timeout = 0")


def _drop(conn: psycopg.Connection, load: str) -> None:
    try:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("trading", load)))
    except psycopg.Error as error:
        logger.warning("could not drop the load table trading.{}: {}", load, one_line(error))


def _store_rejects(conn: psycopg.Connection, day: date, rejects: Sequence[Rejected]) -> None:
    if not rejects:
        return
    raws = [json.dumps({"day": day.isoformat(), "line": r.line, "csv": r.text.decode("utf-8", "backslashreplace")})
            for r in rejects]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO vvv.rejects (collector, reason, raw) VALUES (%s, %s, %s)"
            " ON CONFLICT (collector, raw_md5) DO UPDATE SET last_seen = now(), reason = EXCLUDED.reason",
            [(COLLECTOR, f"line {r.line}: {r.reason}", raw) for r, raw in zip(rejects, raws, strict=True)])
    logger.warning("tape {}: {} lines PostgreSQL could not take are in vvv.rejects (collector 'tape'), e.g. line {}:"
                   " {}", day, len(rejects), rejects[0].line, rejects[0].reason)


def _record_start(conn: psycopg.Connection, day: date) -> None:
    conn.execute(
        "INSERT INTO vvv.tape_loads (day, status) VALUES (%s, 'running') ON CONFLICT (day) DO UPDATE SET"
        " status = 'running', attempts = vvv.tape_loads.attempts + 1, started_at = now(), finished_at = NULL,"
        " error = NULL, http_status = NULL, api_answer = NULL", (day,))


def _record_ok(conn: psycopg.Connection, loaded: Loaded, *, status: int) -> None:
    conn.execute(
        "UPDATE vvv.tape_loads SET status = 'ok', rows = %s, rejects = %s, bytes = %s, http_status = %s,"
        " finished_at = now(), loaded_at = now(), attempts = 0 WHERE day = %s",
        (loaded.rows, loaded.rejects, loaded.bytes, status, loaded.day))


def _record_failure(conn: psycopg.Connection, day: date, failed: TapeFailed) -> None:
    try:
        conn.execute(
            "UPDATE vvv.tape_loads SET status = CASE WHEN %s AND attempts < %s THEN 'pending' ELSE 'failed' END,"
            " error = %s, http_status = %s, api_answer = %s, finished_at = now() WHERE day = %s",
            (failed.retry, MAX_ATTEMPTS, str(failed), failed.status, failed.answer, day))
    except psycopg.Error as error:
        logger.warning("could not record the failed tape of {}: {}", day, one_line(error))


def drop_before(conn: psycopg.Connection, before: date) -> list[date]:
    """Retention: the day partitions before `before`, dropped whole."""
    rows = conn.execute("SELECT * FROM vvv.option_trades_drop_before(%s)", (before,)).fetchall()
    conn.commit()
    return [day for (day,) in rows]


def market_days(start: date, end: date) -> list[date]:
    """The days in the range that have a tape: NYSE trading days (weekends and holidays cost no request)."""
    return [s.day for s in calendar.sessions(start, end)]


# ---- the nightly job -------------------------------------------------------------------------------------------


@frozen
class LoadState:
    """A day's row of vvv.tape_loads, as the scheduler needs it."""

    status: str
    started_at: datetime
    attempts: int = 1


def published_at(day: date, at: dt_time) -> datetime:
    return datetime.combine(day, at, tzinfo=calendar.NY)


def due_days(now: datetime, *, at: dt_time, loads: Mapping[date, LoadState]) -> list[date]:
    """The market days whose tape should be fetched now, oldest first: published by `at` New York,
    within the last LOOKBACK_DAYS market days, not loaded, and not tried within RETRY_AFTER."""
    today = now.astimezone(calendar.NY).date()
    days = [calendar.last_trading_day(today)]
    while len(days) < LOOKBACK_DAYS:
        days.append(calendar.previous_trading_day(days[-1]))
    due = []
    for day in reversed(days):
        state = loads.get(day)
        if published_at(day, at) > now:
            continue
        if state is None or (state.status == "pending" and now - state.started_at >= RETRY_AFTER):
            due.append(day)
    return due


def next_due(now: datetime, *, at: dt_time, loads: Mapping[date, LoadState]) -> datetime:
    """When the job next asks for a tape: a pending day's retry, or the next market day's publication."""
    times = [state.started_at + RETRY_AFTER for state in loads.values() if state.status == "pending"]
    day = now.astimezone(calendar.NY).date()
    while not calendar.is_trading_day(day) or day in loads or published_at(day, at) <= now:
        day += timedelta(days=1)
    times.append(published_at(day, at))
    return max(now, min(times)).astimezone(UTC)


def read_loads(conn: psycopg.Connection, since: date) -> dict[date, LoadState]:
    rows = conn.execute("SELECT day, status, started_at, attempts FROM vvv.tape_loads WHERE day >= %s",
                        (since,)).fetchall()
    conn.rollback()
    return {day: LoadState(status=status, started_at=started, attempts=attempts) for day, status, started, attempts in rows}


@attrs.define
class NightlyTape:
    """`[tape]` in `vvv run`: each market day's tape at `tape.at` New York, retention after; one load at a time."""

    url: str
    base_url: str
    token: str = attrs.field(repr=False)
    data_dir: Path
    config: TapeConfig
    statement_timeout_s: int = 60
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    loaded: int = 0
    failed: int = 0
    last: Loaded | None = None
    running: bool = False
    _next: datetime | None = None
    _recovered: bool = False
    _pruned_at: datetime | None = None

    def run_due(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Load what is due now, then apply retention; errors are logged, never raised."""
        if self._next is not None and self.clock() < self._next:
            return
        self.running = True
        try:
            at = self.config.at_time
            with store.connect(self.url, statement_timeout_s=self.statement_timeout_s) as conn:
                self._recover(conn)
                now = self.clock()
                loads = read_loads(conn, now.date() - timedelta(days=14))
            for day in due_days(now, at=at, loads=loads):
                if stopping():
                    break
                self._load(day, stopping)
            self._retention()
            with store.connect(self.url, statement_timeout_s=self.statement_timeout_s) as conn:
                now = self.clock()
                self._next = next_due(now, at=at, loads=read_loads(conn, now.date() - timedelta(days=14)))
        except Exception as error:  # the database is away: the next tick tries again
            logger.error("tape: the nightly job could not run: {}", one_line(error))
        finally:
            self.running = False

    def _load(self, day: date, stopping: Callable[[], bool]) -> None:
        try:
            self.last = fetch_and_load(self.url, day, base_url=self.base_url, token=self.token,
                                       data_dir=self.data_dir, keep_files=self.config.keep_files,
                                       statement_timeout_s=self.statement_timeout_s, meter=Meter(enabled=False),
                                       stopping=stopping)
        except TapeFailed as failed:
            self.failed += 1
            later = " (the nightly job asks again later)" if failed.retry else ""
            logger.error("{}{}", failed, later)
            return
        self.loaded += 1
        logger.info(self.last.line())

    def _recover(self, conn: psycopg.Connection) -> None:
        """Loads a stopped vvv left 'running' are tried again: their day was left as it was."""
        if self._recovered:
            return
        conn.execute("UPDATE vvv.tape_loads SET status = 'pending', error = 'interrupted: vvv stopped during the"
                     " load', finished_at = now() WHERE status = 'running'")
        last = conn.execute("SELECT day, rows, rejects, bytes FROM vvv.tape_loads WHERE loaded_at IS NOT NULL"
                            " ORDER BY day DESC LIMIT 1").fetchone()
        conn.commit()
        if last is not None and self.last is None:
            self.last = Loaded(day=last[0], rows=last[1], rejects=last[2], bytes=last[3], replaced=False, seconds=0.0)
        self._recovered = True

    def _retention(self) -> None:
        now = self.clock()
        days = self.config.retention_days
        if days is None or (self._pruned_at and now - self._pruned_at < timedelta(hours=1)):
            return
        before = now.astimezone(calendar.NY).date() - timedelta(days=days)
        with store.connect(self.url, statement_timeout_s=self.statement_timeout_s) as conn:
            dropped = drop_before(conn, before)
        self._pruned_at = now
        if dropped:
            logger.info("tape retention ({} days): dropped the partitions of {}", days,
                        ", ".join(map(str, dropped)))

    def state(self) -> dict[str, Any]:
        """The job in the shape of a collector's schedule entry (`vvv status`, the heartbeat)."""
        return {"running": self.running, "next_due": None if self._next is None else self._next.isoformat(),
                "passes": self.loaded + self.failed, "rows": self.last.rows if self.last else 0,
                "failed": self.failed, "skipped": 0}


# ---- progress --------------------------------------------------------------------------------------------------


class Meter:
    """A progress line on a terminal (bytes, rows, rate, ETA), redrawn at most 4 times a second;
    a log line every 30 s otherwise."""

    def __init__(self, *, enabled: bool | None = None, out: IO[str] | None = None) -> None:
        self.out = out or sys.stderr
        self.terminal = self.out.isatty() if enabled is None else enabled
        self.label, self.started, self.shown, self.drawn = "", time.monotonic(), 0.0, False

    def phase(self, label: str) -> None:
        self.label, self.started, self.shown = label, time.monotonic(), time.monotonic()
        if not self.terminal:
            logger.info(label)

    def bytes(self, done: int, total: int | None) -> None:
        self._show(f"{done / 2**20:,.1f}{'' if total is None else f' of {total / 2**20:,.1f}'} MiB", done, total,
                   unit="MiB", scale=2**20)

    def rows(self, rows: int, done: int, total: int) -> None:
        self._show(f"{rows:,} rows, {done / 2**20:,.0f} of {total / 2**20:,.0f} MiB of CSV", done, total,
                   unit="rows", scale=1, count=rows)

    def _show(self, what: str, done: int, total: int | None, *, unit: str, scale: float, count: int | None = None) -> None:
        now = time.monotonic()
        if now - self.shown < (0.25 if self.terminal else 30):
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-9)
        rate = (count if count is not None else done / scale) / elapsed
        eta = "" if not total or not done else f", ETA {_seconds((total - done) * elapsed / done)}"
        line = f"{self.label}: {what} ({rate:,.0f} {unit}/s{eta})"
        if self.terminal:
            self.out.write(f"\r{line}\033[K")
            self.out.flush()
            self.drawn = True
        else:
            logger.info(line)

    def done(self) -> None:
        if self.terminal and self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False


def _seconds(value: float) -> str:
    value = int(value)
    return f"{value // 60}m{value % 60:02d}s" if value >= 60 else f"{value}s"


def read_status(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The recent rows of vvv.tape_loads, newest day first."""
    rows = conn.execute(
        "SELECT day, status, rows, rejects, bytes, http_status, api_answer, error, attempts, started_at,"
        " finished_at, loaded_at FROM vvv.tape_loads ORDER BY day DESC LIMIT 30").fetchall()
    conn.rollback()
    keys = ("day", "status", "rows", "rejects", "bytes", "http_status", "api_answer", "error", "attempts",
            "started_at", "finished_at", "loaded_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]

