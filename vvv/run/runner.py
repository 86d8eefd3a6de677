"""One collection pass: plan -> fetch -> parse -> validate -> store -> advance, recorded as a run.

The only module that knows every stage. A partitioned collector's pass walks its partitions
(tickers) one after another, each with its own cursor. Failures of the shell (network,
database) end the pass, or one scope of it, as a failed or partial run with the error kept;
they never escape as a traceback.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import attrs
import psycopg
from attrs import frozen
from loguru import logger

from vvv.config import CollectorConfig
from vvv.core.base import Collector, Halt, Page, Reject, Request, read_cursor, read_page
from vvv.core.convert import CONVERTER
from vvv.io import store
from vvv.io.http import ApiAuthError, ApiClient, ApiError
from vvv.io.spool import Batch, Spool, SpoolFull, SpoolStuck


@frozen
class RunResult:
    run_id: int | None  # None: a pass made while the database was unreachable; its run is made on replay
    collector: str
    status: str  # ok | partial | failed
    requests: int
    fetched: int
    inserted: int
    duplicates: int
    rejects: int
    error: str | None
    notes: str | None = None
    auth_failed: bool = False
    spooled: int = 0
    revised: int = 0

    def summary(self) -> str:
        run = "no run: database unreachable" if self.run_id is None else f"run {self.run_id}"
        revised = f" {self.revised} revised," if self.revised else ""
        line = (
            f"{self.collector}: {self.status} ({run}): {self.inserted} new,{revised} {self.duplicates}"
            f" duplicates, {self.rejects} rejected, {self.fetched} fetched in {self.requests} requests"
        )
        if self.spooled:
            line += f", {self.spooled} batches spooled to disk until the database is back"
        return f"{line}; error: {self.error}" if self.error else line


class _Stopped(Exception):
    """The process is shutting down: end the pass between pages, with everything stored kept."""


@attrs.define
class _Pass:
    """What one pass has done so far, across its scopes."""

    fetched: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejects: int = 0
    revised: int = 0
    pages: int = 0
    requests: int = 0  # made ahead on a prefetch thread; the client counts only the pass's own thread
    errors: list[str] = attrs.Factory(list)
    notes: list[str] = attrs.Factory(list)
    auth_failed: bool = False
    spooled: int = 0
    database_down: bool = False
    spool_full: bool = False  # no batch can be kept: fetching more would only lose it
    spooled_cursors: dict[str, Any] = attrs.Factory(dict)  # cursor key -> newest cursor sent to the spool
    stored_cursors: dict[str, Any] = attrs.Factory(dict)  # cursor key -> newest cursor committed
    known_cursors: dict[str, Any] = attrs.Factory(dict)  # cursor key -> what the spool's cursor file held

    def status(self) -> str:
        if self.spooled:
            return "spooled"
        if not self.errors:
            return "ok"
        return "partial" if self.pages else "failed"


@frozen
class _Shell:
    """The I/O a pass works with, and the pass's own bookkeeping."""

    collector: Collector
    options: Any
    conn: psycopg.Connection | None  # None: the database is unreachable, everything goes to the spool
    client: ApiClient
    clock: Callable[[], datetime]
    stopping: Callable[[], bool]
    run_id: int | None
    progress: _Pass
    cursor_key: Callable[[str], str]
    spool: Spool | None
    instance: str | None
    started_at: str


def run_once(
    collector: Collector,
    config: CollectorConfig,
    *,
    conn: psycopg.Connection,
    client: ApiClient,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stopping: Callable[[], bool] = lambda: False,
    instance: str | None = None,
    scopes: Sequence[str] | None = None,
    cursor_key: Callable[[str], str] = str,
    spool: Spool | None = None,
) -> RunResult:
    """Run one pass of `collector` (over `scopes`, default all) and record it in `vvv.runs`.

    `cursor_key` names where a scope's cursor is kept: a backfill keeps its own per day, so the
    incremental cursor never moves backward. With a `spool`, batches spooled while the database
    was down are stored first, and a batch the database fails to take goes to the spool.
    """
    spec = collector.spec
    started_at = clock().isoformat()
    run_id = store.start_run(conn, spec.name, instance=instance)
    closed = store.close_dead_runs(conn, spec.name, own=run_id)
    progress = _Pass(known_cursors=spool.known_cursors(spec.name) if spool is not None else {})
    shell = _Shell(collector, config.options, conn, client, clock, stopping, run_id, progress, cursor_key,
                   spool, instance, started_at)
    with logger.contextualize(collector=spec.name, run_id=run_id):
        logger.info("pass started")
        if closed:
            logger.warning("closed runs {} as failed: {}", ", ".join(map(str, closed)), store.DEAD_RUN)
        replayed = _replay(shell) if spool is not None else True
        result = _run_scopes(shell, config, (scopes or None) if replayed else ())
        try:
            store.finish_run(conn, run_id, status=result.status, requests=result.requests, error=result.error,
                             notes=result.notes, api_budget=attrs.asdict(client.budget))
        except (psycopg.OperationalError, psycopg.InterfaceError) as failure:  # the database went away
            logger.error("could not record the end of run {}: {}", run_id, store.describe_db_error(failure))
        (logger.info if result.status == "ok" else logger.error)("pass finished: {}", result.summary())
    return result


def run_offline(
    collector: Collector,
    config: CollectorConfig,
    *,
    client: ApiClient,
    spool: Spool,
    reason: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stopping: Callable[[], bool] = lambda: False,
    instance: str | None = None,
) -> RunResult:
    """A pass while the database is unreachable (`reason`): into the spool, from the cursors it last knew.

    What the API serves meanwhile is kept; the next pass with a database stores it first, as a run
    of its own. A scope whose cursor the spool does not know waits for the database.
    """
    spec = collector.spec
    started_at = clock().isoformat()
    known = spool.known_cursors(spec.name)
    progress = _Pass(database_down=True, spooled_cursors=dict(known), known_cursors=known)
    progress.errors.append(f"{reason}: collecting into the spool from the cursors last known")
    shell = _Shell(collector, config.options, None, client, clock, stopping, None, progress, str,
                   spool, instance, started_at)
    with logger.contextualize(collector=spec.name):
        logger.info("pass started without the database: spooling to {}", spool.directory)
        result = _run_scopes(shell, config, None)
        (logger.info if result.status == "spooled" else logger.error)("pass finished: {}", result.summary())
    return result


def _run_scopes(shell: _Shell, config: CollectorConfig, scopes: Sequence[str] | None) -> RunResult:
    """Collect each scope (`scopes`, default all; empty: none) and say what the pass did."""
    collector, client, progress = shell.collector, shell.client, shell.progress
    requests_before = client.requests
    chosen = collector.partitions_of(config.options) if scopes is None else scopes
    for scope in chosen:
        if shell.stopping():
            progress.errors.append("stopped before every ticker was collected: vvv is shutting down")
            break
        _collect_scope(shell, scope)
        if progress.auth_failed or progress.spool_full:
            break
    return RunResult(
        run_id=shell.run_id,
        collector=collector.spec.name,
        status=progress.status(),
        requests=client.requests - requests_before + progress.requests,
        fetched=progress.fetched,
        inserted=progress.inserted,
        duplicates=progress.duplicates,
        rejects=progress.rejects,
        error="; ".join(progress.errors) or None,
        notes="; ".join(progress.notes) or None,
        auth_failed=progress.auth_failed,
        spooled=progress.spooled,
        revised=progress.revised,
    )


def _collect_scope(shell: _Shell, scope: str) -> None:
    """Collect one scope, turning its failure into an error on the pass."""
    where, progress = f"{scope}: " if scope else "", shell.progress
    with logger.contextualize(**({"ticker": scope} if scope else {})):
        try:
            _collect(shell, scope)
        except _Stopped:
            progress.errors.append(f"{where}stopped between pages: vvv is shutting down;"
                                   " the next pass continues from the saved cursor")
        except ApiError as failure:
            progress.errors.append(f"{where}{failure}")
            progress.auth_failed = isinstance(failure, ApiAuthError)
        except SpoolFull as failure:
            progress.errors.append(f"{where}{failure}")
        except psycopg.Error as failure:
            progress.errors.append(f"{where}{store.describe_db_error(failure)}")
            _rollback(shell.conn)
        except Exception as failure:  # a bug: keep the traceback in the log, fail this scope only
            logger.opt(exception=failure).error("pass crashed")
            progress.errors.append(f"{where}unexpected {failure.__class__.__name__}: {failure}")
            _rollback(shell.conn)


def _collect(shell: _Shell, scope: str) -> None:
    collector, options, key = shell.collector, shell.options, shell.cursor_key(scope)
    if key in shell.progress.spooled_cursors:  # the database is down: go on from what the spool holds
        saved = read_cursor(collector.spec.cursor, shell.progress.spooled_cursors[key])
    elif shell.conn is None:  # never stored nor spooled here: where to start is the database's to say
        shell.progress.errors.append(f"{scope + ': ' if scope else ''}no cursor known without the database:"
                                     " collected once it is back")
        return
    else:
        saved = store.load_cursor(shell.conn, collector.spec, key)
        if saved is not None:
            shell.progress.stored_cursors[key] = saved
    cursor = collector.begin(saved, scope, shell.clock(), options)
    found = dict.fromkeys(collector.warnings(cursor, None, options, scope))
    try:
        _page_through(shell, scope, cursor, found)
    finally:  # a pass cut short may have stepped over a gap too: say so either way
        for warning in found:
            logger.warning(warning)
            shell.progress.notes.append(warning)
        _remember_cursor(shell, key)


def _remember_cursor(shell: _Shell, key: str) -> None:
    """Keep the scope's newest cursor beside the spool, for a pass that finds the database away."""
    progress = shell.progress
    if shell.spool is None:
        return
    if key in progress.spooled_cursors:
        newest = progress.spooled_cursors[key]
    elif key in progress.stored_cursors:
        newest = CONVERTER.unstructure(progress.stored_cursors[key])
    else:
        return
    if progress.known_cursors.get(key) == newest:
        return
    try:
        shell.spool.remember_cursors(shell.collector.spec.name, {key: newest})
    except OSError as error:  # the database has the cursor; only a pass without it would miss this one
        logger.warning("could not keep the cursor of {} beside the spool: {}", key or shell.collector.spec.name,
                       error.strerror or error)
        return
    progress.known_cursors[key] = newest


def _page_through(shell: _Shell, scope: str, cursor: Any, found: dict[str, None]) -> None:
    """The unfold: fetch, parse, validate, store with the advanced cursor, plan the next request.

    A `Halt` among a page's warnings (a page the collector could not read, where its sweep
    stopped) is an error of the pass, and that page does not count as one read.
    Only the page at hand is held: `advance` folds each page into the cursor saved after it, and
    the next page is fetched (in the background) while this one is stored.
    """
    collector, options, progress = shell.collector, shell.options, shell.progress
    request, saved = collector.next_request(cursor, None, None, options, scope), cursor
    with _Prefetch(shell.client, progress) as prefetch:
        while request is not None:
            if shell.stopping():
                raise _Stopped
            payload, fetched_at = prefetch.take(request), shell.clock()
            page, rejects = read_page(collector, request, payload, fetched_at, scope)
            saved = collector.advance(cursor, saved, page, options, scope)
            following = collector.next_request(cursor, request, page, options, scope)
            if following is not None and not shell.stopping():
                prefetch.start(following)
            stored = _store(shell, scope, page, rejects, saved, payload, fetched_at)
            del payload  # kept until stored: the spool takes the response as received
            said = collector.warnings(cursor, page, options, scope)
            found.update(dict.fromkeys(warning for warning in said if not isinstance(warning, Halt)))
            halts = [warning for warning in said if isinstance(warning, Halt)]
            for halt in halts:  # the sweep stopped at a page it cannot read: an error until a pass gets past it
                logger.error(halt)
                progress.errors.append(str(halt))
            progress.pages += 0 if halts else 1
            progress.fetched += page.received
            progress.inserted += stored.inserted
            progress.duplicates += stored.duplicates
            progress.revised += stored.revised
            progress.rejects += stored.rejects  # new ones: a reject read again by an overlapping pass is kept once
            logger.debug("page {}: {} items, {} new", dict(request.params), page.received, stored.inserted)
            request = following


def _store(
    shell: _Shell, scope: str, page: Page, rejects: list[Reject], cursor: Any, payload: Any, fetched_at: datetime
) -> store.BatchResult:
    """Store one page with its cursor; when the database fails, spool it and go on without it."""
    progress, key = shell.progress, shell.cursor_key(scope)
    if not progress.database_down:
        try:
            stored = store.store_batch(shell.conn, shell.collector.spec, run_id=shell.run_id, records=page.records,
                                       rejects=rejects, received=page.received, cursor=cursor, scope=key)
            progress.stored_cursors[key] = cursor
            return stored
        except (psycopg.OperationalError, psycopg.InterfaceError) as failure:
            if shell.spool is None:
                raise
            progress.database_down = True
            progress.errors.append(f"{store.describe_db_error(failure)}: the rest of the pass goes to the spool")
            logger.error("the database failed mid-pass ({}): spooling fetched pages to {}",
                         store.describe_db_error(failure), shell.spool.directory)
            _rollback(shell.conn)
    unstructured = CONVERTER.unstructure(cursor)
    try:
        _spool_batch(shell, scope, unstructured, payload, fetched_at)
    except SpoolFull:
        progress.spool_full = True
        raise
    progress.spooled += 1
    progress.spooled_cursors[key] = unstructured
    return store.BatchResult(inserted=0, duplicates=0)


def _spool_batch(shell: _Shell, scope: str, cursor: Any, payload: Any, fetched_at: datetime) -> None:
    shell.spool.append(Batch(
        collector=shell.collector.spec.name, scope=shell.cursor_key(scope), run_id=shell.run_id, run_key=_run_key(shell),
        instance=shell.instance, started_at=shell.started_at, fetched_at=fetched_at.isoformat(),
        cursor=cursor, payload=payload, partition=scope,
    ))


def _run_key(shell: _Shell) -> str:
    """What makes a pass's batches one run on replay; a pass without a database has no run id yet."""
    if shell.run_id is not None:
        return f"{shell.instance}/{shell.run_id}"
    return f"{shell.instance}/offline {os.getpid()} {shell.started_at}"


def _replay(shell: _Shell) -> bool:
    """Store what the spool holds for this collector, in order, before anything new; False if it could not.

    Each batch commits (its rows, cursor and its run's spooled count) before its file is deleted,
    so a replay stopped anywhere leaves every batch either stored or still on disk.
    """
    spec, progress, conn = shell.collector.spec, shell.progress, shell.conn
    runs: dict[str, int] = {}
    try:
        for spooled in shell.spool.pending(spec.name):
            if shell.stopping():
                progress.errors.append("stopped while storing the spool: vvv is shutting down;"
                                       " the next pass stores the rest first")
                return False
            batch = spooled.batch
            if batch.run_key not in runs:
                runs[batch.run_key] = _spooled_run(shell, batch)
            run_id = runs[batch.run_key]
            fetched_at = datetime.fromisoformat(batch.fetched_at or shell.started_at)
            page, rejects = read_page(shell.collector, None, batch.payload, fetched_at, batch.partition)
            cursor = read_cursor(spec.cursor, batch.cursor) if spooled.complete else None
            conn.commit()  # nothing may be open: the block below must be a transaction, not a savepoint
            with conn.transaction():
                stored = store.store_batch(conn, spec, run_id=run_id, records=page.records, rejects=rejects,
                                           received=page.received, cursor=cursor, scope=batch.scope)
                store.mark_spooled(conn, run_id, batches=1)
            shell.spool.discard(spooled)
            note = "" if spooled.complete else " (cut short by a crash: its intact items only, cursor left behind)"
            logger.info("replayed spooled batch {}{}: {} new, {} duplicates", spooled.path.name, note,
                        stored.inserted, stored.duplicates)
    except psycopg.Error as failure:
        _rollback(conn)
        progress.errors.append(f"the spool could not be replayed: {store.describe_db_error(failure)};"
                               " no new data until it is")
        return False
    except SpoolStuck as failure:
        progress.errors.append(f"{failure}; no new data until it is")
        return False
    if shell.spool.count(spec.name):
        progress.errors.append("spooled batches are being written or replayed by another vvv process;"
                               " no new data this pass, so they stay in order")
        return False
    shell.spool.recovered()  # the database took this pass: a full spool disk no longer costs data
    return True


def _spooled_run(shell: _Shell, batch: Batch) -> int:
    """The run a spooled batch is counted on: its own pass's, or a new one for a pass that had none."""
    if batch.run_id is not None and store.run_exists(shell.conn, batch.run_id):
        return batch.run_id
    return store.start_spooled_run(shell.conn, shell.collector.spec.name,
                                   started_at=batch.started_at or shell.started_at, instance=batch.instance)


def _rollback(conn: psycopg.Connection) -> None:
    """Roll back what a failure left open, on a connection that may be gone with the server."""
    try:
        conn.rollback()
    except psycopg.Error:
        pass


class _Prefetch:
    """Fetches the next page on a worker thread while the pass stores the page at hand.

    The client counts requests per thread, so the worker's attempts are added to the pass here.
    A request still in flight when the pass ends (stopped, or a store failed) is waited for and
    counted, as one made on the pass's own thread would have been.
    """

    def __init__(self, client: ApiClient, progress: _Pass) -> None:
        self._client, self._progress = client, progress
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[Request, Future] | None = None

    def __enter__(self) -> _Prefetch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pending is not None:
            try:
                self._settle(self._pending[1])
            except Exception:  # the pass is over already; its own error, if any, is the one to report
                pass
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def start(self, request: Request) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vvv-prefetch")
        context = contextvars.copy_context()  # the worker logs with the pass's collector, run and ticker
        self._pending = (request, self._pool.submit(context.run, self._fetch, request))

    def take(self, request: Request) -> Any:
        """The decoded JSON of `request`: fetched ahead when it was started, else fetched now."""
        if self._pending is not None and self._pending[0] is request:
            return self._settle(self._pending[1])
        return self._client.get_json(request)

    def _fetch(self, request: Request) -> tuple[Any, Exception | None, int]:
        before = self._client.requests
        try:
            return self._client.get_json(request), None, self._client.requests - before
        except Exception as error:
            return None, error, self._client.requests - before

    def _settle(self, future: Future) -> Any:
        self._pending = None
        payload, error, attempts = future.result()
        self._progress.requests += attempts
        if error is not None:
            raise error
        return payload
