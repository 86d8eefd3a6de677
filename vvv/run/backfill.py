"""`vvv backfill`: every market day in a range, each paged completely, resumable.

Each (day, ticker) is one pass of the collector as if the clock stood at the end of that
day, with its cursor kept under its own key (`backfill/<day>/<ticker>`): progress is in the
database, a re-run skips what is finished, and the incremental cursor never moves backward.
A collector without tickers (options flow) gets one time window per day instead, seeded as
its cursor (`backfill/<day>`). Weekends and NYSE holidays cost no request.

Only a day whose after-hours session has ended can be finished. A day not over yet (today)
is collected as far as it goes, under a cursor of its own (`backfill-open/...`) that no re-run
takes as finished: each one collects what came since, and the first one after the day's end
goes on from there (a time window, options flow, is read again) and finishes it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import TextIO

import attrs
import psycopg
from attrs import frozen
from loguru import logger

from vvv.config import CollectorConfig
from vvv.core import calendar
from vvv.core.base import Collector
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

_LOG_EVERY_S = 30.0
_END_OF_DAY = clock_time(23, 59, 59)


@frozen
class Progress:
    units: int  # (day, ticker) pairs in the range
    done: int = 0
    skipped: int = 0  # finished by an earlier backfill
    failed: int = 0
    rows: int = 0
    elapsed_s: float = 0.0

    def line(self) -> str:
        rate = self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0
        worked = self.done - self.skipped
        left = self.units - self.done
        eta = self.elapsed_s / worked * left if worked else None
        return (f"{self.done}/{self.units} day-tickers done ({self.skipped} already, {self.failed} failed),"
                f" {self.rows} rows, {rate:.0f} rows/s, ETA {_duration(eta)}")


def plan(start: date, end: date, tickers: Sequence[str]) -> list[tuple[date, str]]:
    """The (market day, ticker) pairs to collect, oldest day first; no weekend, no holiday."""
    return [(session.day, ticker) for session in calendar.sessions(start, end) for ticker in tickers]


def cursor_key(day: date, ticker: str, *, over: bool = True) -> str:
    """Where a unit's cursor is kept; a day not over when its pass ran keeps one apart (see above)."""
    prefix = "backfill" if over else "backfill-open"
    return f"{prefix}/{day.isoformat()}/{ticker}" if ticker else f"{prefix}/{day.isoformat()}"


def is_over(day: date, now: datetime) -> bool:
    """Has `day`'s after-hours session ended by `now`? A day without a session is over once it has passed."""
    session = calendar.session(day)
    if session is None:
        return datetime.combine(day, _END_OF_DAY, tzinfo=calendar.NY) < now
    return session.after_close <= now


def is_future(day: date, now: datetime) -> bool:
    """Is `day` after today in New York? Nothing can be collected for it yet."""
    return day > now.astimezone(calendar.NY).date()


def _day_window(day: date) -> tuple[datetime, datetime]:
    """The New York calendar day: every session phase of it, pre-market to after-hours."""
    start = datetime.combine(day, clock_time(0), tzinfo=calendar.NY)
    return start, datetime.combine(day, clock_time(23, 59, 59, 999999), tzinfo=calendar.NY)


def backfill(
    collector: Collector,
    config: CollectorConfig,
    units: Sequence[tuple[date, str]],
    *,
    conn: psycopg.Connection,
    client: ApiClient,
    stopping: Callable[[], bool] = lambda: False,
    out: TextIO = sys.stderr,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Progress:
    """Collect every unit not yet finished; returns the tally (stops early when `stopping`).

    `now` tells which days are over; a pass over a day that is over runs as if the clock stood
    at the end of that day, one over today at the time it is.
    """
    spec = collector.spec
    future = [day for day, _ in units if is_future(day, now())]
    if future:
        raise ValueError(f"cannot backfill {future[0]}: it is after today in New York")
    progress, started, last_log = Progress(units=len(units)), time.monotonic(), 0.0
    show = _Display(out)
    for day, ticker in units:
        if stopping():
            break
        moment = now()
        over = is_over(day, moment)
        key = cursor_key(day, ticker, over=over)
        saved = store.load_cursor(conn, spec, key)
        if over and collector.finished(saved):
            progress = attrs.evolve(progress, done=progress.done + 1, skipped=progress.skipped + 1)
            continue
        _seed(collector, conn, day, ticker, key, saved, over)
        end_of_day = datetime.combine(day, _END_OF_DAY, tzinfo=calendar.NY)
        clock = end_of_day if over else moment
        result = run_once(collector, config, conn=conn, client=client, clock=lambda at=clock: at,
                          stopping=stopping, scopes=[ticker], cursor_key=lambda _, k=key: k)
        ok = result.status == "ok" and collector.finished(store.load_cursor(conn, spec, key))
        progress = attrs.evolve(progress, done=progress.done + ok, failed=progress.failed + (not ok and not stopping()),
                                rows=progress.rows + result.inserted, elapsed_s=time.monotonic() - started)
        if show.tty or time.monotonic() - last_log >= _LOG_EVERY_S:
            show(progress)
            last_log = time.monotonic()
    show.finish(progress)
    return progress


def _seed(collector: Collector, conn: psycopg.Connection, day: date, ticker: str, key: str, saved: object,
          over: bool) -> None:
    """The cursor a unit's pass starts from, when it cannot start from `saved` as it is.

    A finished time window (options flow) of a day not over holds only what its read saw, so a
    re-run reads the window again whole (repeats are duplicates, nothing is lost). A ticker's
    cursor from before the day's end is where the first pass after it goes on from.
    """
    spec = collector.spec
    window = collector.window(*_day_window(day))
    if window is not None:
        if saved is None or collector.finished(saved):
            store.save_cursor(conn, spec, key, window)
        return
    if saved is None and over:
        opened = store.load_cursor(conn, spec, cursor_key(day, ticker, over=False))
        if opened is not None:
            store.save_cursor(conn, spec, key, opened)


class _Display:
    """A progress line rewritten in place on a terminal; log lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()

    def __call__(self, progress: Progress) -> None:
        if self.tty:
            self.out.write(f"\r\x1b[2K{progress.line()}")
            self.out.flush()
        else:
            logger.info("backfill: {}", progress.line())

    def finish(self, progress: Progress) -> None:
        if self.tty:
            self.out.write("\n")
        logger.info("backfill: {}", progress.line())


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
