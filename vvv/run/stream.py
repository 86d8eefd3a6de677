"""`vvv stream` (and `vvv run` with `[stream] channels`): the socket's channels into their tables.

Three threads. The socket's (the caller's) reads each message, decodes it once, makes it a
record by its channel's declaration and adds it to the channel's micro-batch, handed on at
`batch_rows` rows or `batch_ms` after its first, whichever comes first. The writer stores each
batch through the REST batches' COPY path (`store.store_batch`), one transaction a batch, with
the channel's mark (the newest payload time stored) in the same transaction; while the database
is away, batches go to the spool and are replayed, in order, once it is back. The gap filler
reads each gap of a channel with a REST twin from that twin (`vvv/streams/gaps.py`, one pass of
the REST collector through the runner); a gap of a channel without one is recorded, with its
start and end, in the notes of the channel's run (`vvv.runs`, collector `stream:<channel>`),
which `vvv status` shows: for option trades the nightly tape replaces that day.

A gap is any time a channel was not streamed: from the last message before a drop to the join
after it, a refused join, and the time since the mark a previous vvv left (a restart).
"""

from __future__ import annotations

import gc
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import msgspec
import psycopg
import psycopg.errors
from attrs import frozen
from loguru import logger
from psycopg import sql
from psycopg.types.json import Jsonb

from vvv.collectors import COLLECTORS
from vvv.config import CollectorConfig, StreamConfig
from vvv.core.base import Reject
from vvv.core.schema import unstorable_text
from vvv.core.calendar import NY
from vvv.errors import Fatal, one_line
from vvv.io import store
from vvv.io.socket import Backoff, Socket
from vvv.io.spool import Batch, Spool, SpoolFull, SpoolStuck
from vvv.run.leader import Leadership
from vvv.streams import channel as resolve
from vvv.streams.base import Channel
from vvv.streams.gaps import fill_start, gap_key, seeds

SOCKET_LOCK = 0x767676_534F43  # "vvv" "SOC": one process streams per database, so one socket per token
RECONNECT_DB_S = 2.0  # the writer tries the database again this often while it is away
PUBLISH_S = 5.0  # vvv.streams is written this often
FILL_PAST_END = timedelta(minutes=5)
QUEUED_BATCHES = 3  # batches waiting for the writer; then the socket waits (TCP backpressure), memory stays flat
_STOP = object()
_frozen = False
# What in a message's JSON may decode to text PostgreSQL cannot store (NUL, a lone surrogate): one
# search of the raw bytes, so only such a message is looked into further.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@frozen
class Mark:
    """A channel's position, saved with each batch: the newest payload time stored, and when."""

    through: datetime
    at: datetime


@attrs.define
class ChannelStats:
    """What one channel did since vvv started; read by /metrics, the status page and `vvv status`."""

    messages: int = 0
    rows: int = 0
    duplicates: int = 0
    rejects: int = 0
    batches: int = 0
    spooled: int = 0
    reconnects: int = 0
    gaps: int = 0
    gap_fills: int = 0
    gap_fill_failures: int = 0
    gap_rows: int = 0
    lag_seconds: float | None = None  # at the last batch stored: its commit time - its oldest payload time
    lag_max_seconds: float | None = None
    joined: bool = False
    refused: str | None = None
    last_message_at: str | None = None


@attrs.define
class _Pending:
    """A channel's batch being filled: its records with the messages they came from (raw, as received:
    a third of a decoded payload's memory, and the spool's to decode should it need them), its rejects."""

    records: list[Any] = attrs.Factory(list)
    raws: list[bytes] = attrs.Factory(list)
    rejects: list[Reject] = attrs.Factory(list)
    opened: float = 0.0
    now: datetime = datetime.min.replace(tzinfo=UTC)

    def __len__(self) -> int:
        return len(self.raws) + len(self.rejects)


@frozen
class _Batch:
    channel: Channel
    records: list[Any]
    raws: list[bytes]  # the message of each record, in order
    rejects: list[Reject]

    @property
    def received(self) -> int:
        return len(self.raws) + len(self.rejects)

    def payloads(self) -> list[Any]:
        """Every message's payload, decoded again (the spool keeps payloads, as the REST spool keeps items)."""
        return [_decode(raw)[1] for raw in self.raws] + [reject.raw for reject in self.rejects]


@frozen
class _Note:
    channel: Channel
    note: str | None = None
    error: str | None = None


@attrs.define
class _State:
    """One channel on the socket: its pending batch, its stats, whether a gap is open and since when."""

    channel: Channel
    stats: ChannelStats
    pending: _Pending
    gap_since: datetime | None = None
    gap_why: str = ""
    newest_seen: datetime | None = None
    keys_logged: bool = False


class StreamBusy(Fatal):
    """Another vvv holds the socket's lock of this database: a second socket would silence both."""


class GapFiller:
    """Fills the gaps of channels with a REST twin, one REST pass each, on a thread of its own."""

    def __init__(self, *, url: str, statement_timeout_s: int, client: Any,
                 collectors: Mapping[str, CollectorConfig], lookback_s: int, instance: str | None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._url, self._timeout, self._client = url, statement_timeout_s, client
        self._configs, self._lookback = collectors, timedelta(seconds=lookback_s)
        self._instance, self._clock = instance, clock
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, state: _State, start: datetime, end: datetime) -> None:
        if self._thread is None or not self._thread.is_alive():  # a stream started again gets a filler again
            self._thread = threading.Thread(target=self._work, name="stream-gap-fill", daemon=True)
            self._thread.start()
        self._jobs.put((state, start, end))

    def close(self, timeout: float = 10.0) -> None:
        """Let the fills asked for finish (up to `timeout`), then stop."""
        if self._thread is not None:
            self._jobs.put(_STOP)
            self._thread.join(timeout)

    def idle(self) -> bool:
        return self._jobs.unfinished_tasks == 0

    def _work(self) -> None:
        while (job := self._jobs.get()) is not _STOP:
            try:
                self.fill(*job)
            finally:
                self._jobs.task_done()
        self._jobs.task_done()

    def fill(self, state: _State, start: datetime, end: datetime) -> None:
        """One REST pass of the twin over [start - lookback, end]; counted on the channel, never raised."""
        twin = state.channel.declaration.twin
        collector, config = COLLECTORS[twin], self._configs[twin]
        stats = state.stats
        with logger.contextualize(stream=state.channel.name):
            try:
                conn = store.connect(self._url, statement_timeout_s=self._timeout)
                try:
                    result = self._pass(conn, collector, config, start, end)
                finally:
                    conn.close()
            except Exception as error:  # the database or the API is away: the next gap's fill reads it again
                stats.gap_fill_failures += 1
                logger.error("gap fill of {} from {} could not run: {}", state.channel.name, twin, one_line(error))
                return
        if result.status == "ok":
            stats.gap_fills += 1
        else:
            stats.gap_fill_failures += 1
        stats.gap_rows += result.inserted
        logger.info("gap of {} filled from the REST twin {} ({} to {}): {}", state.channel.name, twin,
                    _spell(start), _spell(end), result.summary())

    def _pass(self, conn: psycopg.Connection, collector: Any, config: CollectorConfig, start: datetime,
              end: datetime) -> Any:
        from vvv.run import runner

        stored = _newest_stored(conn, collector.spec)
        begin = fill_start(gap_start=start, stored=stored, lookback=self._lookback, end=end)
        # Read a little past the end: the provider's clock and this one's may differ by the skew the checks allow.
        planted = seeds(collector.spec.name, start=begin, end=end + FILL_PAST_END, settings=config.options)
        for scope, cursor in planted:
            store.save_cursor(conn, collector.spec, gap_key(scope), cursor)
        scopes = [scope for scope, _ in planted]
        if not scopes:
            return runner.RunResult(None, collector.spec.name, "ok", 0, 0, 0, 0, 0, None)
        return runner.run_once(collector, config, conn=conn, client=self._client, clock=self._clock,
                               instance=self._instance, scopes=scopes, cursor_key=gap_key)


def _newest_stored(conn: psycopg.Connection, spec: Any) -> datetime | None:
    query = sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(spec.time_column),
                                                     sql.Identifier(*spec.table.split(".")))
    newest = conn.execute(query).fetchone()[0]
    conn.commit()
    return newest


class Stream:
    """The channels of one token on its one socket, stored as they come (see the module's docstring)."""

    def __init__(self, *, url: str, statement_timeout_s: int, token: str, config: StreamConfig,
                 channels: Sequence[str] | None = None, spool: Spool | None = None, filler: GapFiller | None = None,
                 instance: str | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 socket_options: Mapping[str, Any] | None = None) -> None:
        names = list(channels if channels is not None else config.channels)
        self.channels = [resolve(name) for name in dict.fromkeys(names)]
        self._url, self._timeout, self._config = url, statement_timeout_s, config
        self._spool, self._filler, self._instance, self._clock = spool, filler, instance, clock
        self._states = {c.name: _State(c, ChannelStats(), _Pending()) for c in self.channels}
        self._batch_rows, self._batch_s = config.batch_rows, config.batch_ms / 1000
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._connected_once = False
        options = {"backoff": Backoff(cap=config.reconnect_max_seconds), **(socket_options or {})}
        self.socket = Socket(config.url, token, [c.name for c in self.channels], **options)
        self._writer = _Writer(self)
        self.unknown = 0  # messages of a channel not joined

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per channel, what it did since start (JSON-ready)."""
        return {name: attrs.asdict(state.stats) for name, state in self._states.items()}

    def run(self, stopping: Callable[[], bool]) -> None:
        """Stream until `stopping()`; everything received is stored or spooled when this returns.

        Raises `SocketAuthError` when the socket refuses the token (HTTP 401 at the upgrade).
        """
        logger.info("streaming {} from {}", ", ".join(self._states) or "no channel", self.socket.shown)
        global _frozen
        if not _frozen:  # what exists before the first stream is never its garbage: the collector skips it
            gc.freeze()
            _frozen = True
        lock = Leadership(self._url, statement_timeout_s=self._timeout, key=SOCKET_LOCK)
        if not lock.acquire():
            raise StreamBusy("another vvv process streams against this database: the provider allows one socket"
                             " per token and silences both of two; stop the other `vvv stream` (or the `vvv run`"
                             " with [stream] channels) first")
        writer = threading.Thread(target=self._writer.run, name="stream-writer", daemon=True)
        try:
            self._writer.load_marks()
            writer.start()
            self.socket.run(self, stopping)
        finally:
            lock.release()
            for state in self._states.values():
                self._hand_on(state)
            self._batches.put(_STOP)
            writer.join()
            if self._filler is not None:
                self._filler.close()
            logger.info("stream stopped: {}", "; ".join(
                f"{name}: {s.messages} messages, {s.rows} new rows, {s.gaps} gaps" for name, s in
                ((n, st.stats) for n, st in self._states.items())))

    # The socket's Handler: these run on the socket's thread.

    def connected(self) -> None:
        for state in self._states.values():
            state.stats.reconnects += self._connected_once
        self._connected_once = True

    def acknowledged(self, name: str, ok: bool, detail: Any) -> None:
        state = self._states.get(name)
        if state is None:
            return
        now = self._clock()
        if ok:
            state.stats.joined, state.stats.refused = True, None
            logger.info("joined {}", name)
            if state.gap_since is not None:
                self._close_gap(state, now)
            return
        state.stats.joined, state.stats.refused = False, _detail(detail)
        error = (f"the socket refused the join of {name} ({state.stats.refused}): is the channel in your plan?"
                 " The other channels go on")
        logger.error(error)
        self._note(state, error=error)
        self._open_gap(state, self._last_covered(state, now), "join refused")
        if state.channel.declaration.twin is not None and self._filler is not None:
            self._filler.submit(state, state.gap_since, now)

    def message(self, name: str, payload: Any, raw: bytes) -> None:
        state = self._states.get(name)
        if state is None:
            self.unknown += 1
            return
        state.stats.messages += 1
        pending = state.pending
        if not pending.raws and not pending.rejects:
            pending.opened, pending.now = time.monotonic(), self._clock()
        declaration = state.channel.declaration
        record = declaration.parse(payload, state.channel.ticker)
        if type(record) is Reject:
            pending.rejects.append(record)
        else:
            reason = declaration.validate(record, pending.now) if declaration.validate is not None else None
            if reason is None and _SUSPECT.search(raw):
                reason = unstorable_text(payload)
            if reason is None:
                pending.records.append(record)
                pending.raws.append(raw)
            else:
                pending.rejects.append(Reject(payload, reason))
        if declaration.log_keys and not state.keys_logged:
            state.keys_logged = True
            logger.info("first {} payload has the keys: {}", name,
                        ", ".join(payload) if isinstance(payload, dict) else type(payload).__name__)
        if len(pending) >= self._batch_rows or time.monotonic() - pending.opened >= self._batch_s:
            self._hand_on(state)

    def idle(self) -> None:
        now = time.monotonic()
        for state in self._states.values():
            if len(state.pending) and now - state.pending.opened >= self._batch_s:
                self._hand_on(state)

    def disconnected(self, reason: str) -> None:
        now = self._clock()
        for state in self._states.values():
            self._hand_on(state)
            if state.stats.joined and reason != "stopped":
                self._open_gap(state, self._last_covered(state, now), reason)
            state.stats.joined = False

    # The socket thread's own bookkeeping.

    def _hand_on(self, state: _State) -> None:
        """The channel's batch to the writer (which may make the socket wait: backpressure, not memory)."""
        pending = state.pending
        if not len(pending):
            return
        if pending.records:
            newest = max(map(state.channel.declaration.time_of, pending.records))
            state.newest_seen = newest if state.newest_seen is None else max(state.newest_seen, newest)
        state.stats.last_message_at = self._clock().isoformat()
        state.pending = _Pending()
        self._batches.put(_Batch(state.channel, pending.records, pending.raws, pending.rejects))

    def _last_covered(self, state: _State, now: datetime) -> datetime:
        """Where a gap starts: the newest payload time seen, else now."""
        return state.newest_seen or now

    def _open_gap(self, state: _State, since: datetime, why: str) -> None:
        if state.gap_since is None:
            state.gap_since, state.gap_why = since, why

    def _close_gap(self, state: _State, end: datetime) -> None:
        """The channel streams again: fill [gap_since, end] from the twin, or record it."""
        start, why = state.gap_since, state.gap_why
        state.gap_since = None
        state.stats.gaps += 1
        twin = state.channel.declaration.twin
        if twin is not None:
            note = f"gap {_spell(start)} to {_spell(end)} ({why}): filled from the REST twin {twin}"
            if self._filler is not None:
                self._filler.submit(state, start, end)
            else:
                note = f"gap {_spell(start)} to {_spell(end)} ({why}): not filled (no REST client)"
        elif state.channel.declaration.partitioned:
            days = ", ".join(d.isoformat() for d in _days(start, end))
            note = (f"gap {_spell(start)} to {_spell(end)} ({why}): no REST twin, the nightly tape of {days}"
                    " replaces that day")
        else:
            note = f"gap {_spell(start)} to {_spell(end)} ({why}): no REST twin, the socket has no replay"
        logger.warning("{}: {}", state.channel.name, note)
        self._note(state, note=note)

    def _note(self, state: _State, *, note: str | None = None, error: str | None = None) -> None:
        self._batches.put(_Note(state.channel, note=note, error=error))


class _Writer:
    """The stream's one database connection: batches, notes, runs, marks, the spool, vvv.streams."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._conn: psycopg.Connection | None = None
        self._tried_at = float("-inf")
        self._runs: dict[str, tuple[int, date]] = {}
        self._notes: dict[str, list[str]] = {}
        self._errors: dict[str, str] = {}
        self._days: set[date] = set()
        self._published_at = float("-inf")
        self._started_at = stream._clock().isoformat()

    def load_marks(self) -> None:
        """A restart's gap: each channel's gap opens at the mark the last vvv left, if any."""
        conn = self._connection()
        if conn is None:
            return
        for state in self._stream._states.values():
            spec = state.channel.declaration.spec
            row = conn.execute("SELECT position FROM vvv.cursors WHERE collector = %s AND scope = %s",
                               (spec.name, _mark_scope(state.channel))).fetchone()
            if row is not None and isinstance(row[0], dict) and row[0].get("through"):
                state.gap_since, state.gap_why = datetime.fromisoformat(row[0]["through"]), "vvv was not streaming"
                state.newest_seen = state.gap_since
        conn.commit()

    def run(self) -> None:
        batches = self._stream._batches
        while True:
            try:
                item = batches.get(timeout=1.0)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if isinstance(item, _Batch):
                self._store(item)
            elif isinstance(item, _Note):
                self._noted(item)
            self._publish()
        self._finish()

    def _connection(self) -> psycopg.Connection | None:
        """The live connection, or None while the database is away (tried again every RECONNECT_DB_S)."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if time.monotonic() - self._tried_at < RECONNECT_DB_S:
            return None
        self._tried_at = time.monotonic()
        try:
            self._conn = store.connect(self._stream._url, statement_timeout_s=self._stream._timeout)
        except store.DatabaseUnavailable as away:
            logger.error("{}: stream batches go to the spool until it is back", away)
            return None
        self._runs.clear()
        self._days.clear()
        if not self._replay():
            self._lost()
            return None
        return self._conn

    def _lost(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
        self._tried_at = time.monotonic()

    def _store(self, batch: _Batch) -> None:
        state = self._stream._states[batch.channel.name]
        conn = self._connection()
        if conn is not None:
            try:
                self._write_partitioned(conn, batch, state)
                return
            except (psycopg.OperationalError, psycopg.InterfaceError) as failure:
                logger.error("the database failed storing a batch of {} ({}): spooling",
                             batch.channel.name, store.describe_db_error(failure))
                self._lost()
            except psycopg.Error as failure:  # the batch itself (a value the checks missed): row by row
                _rollback(conn)
                logger.error("a batch of {} failed ({}): storing it row by row", batch.channel.name,
                             store.describe_db_error(failure))
                self._one_by_one(conn, batch, state)
                return
        self._to_spool(batch, state)

    def _write_partitioned(self, conn: psycopg.Connection, batch: _Batch, state: _State) -> None:
        """`_write`, once more when a day's partition went missing meanwhile (the tape swapping its day in)."""
        try:
            self._write(conn, batch, state)
        except psycopg.errors.CheckViolation:
            if not batch.channel.declaration.partitioned:
                raise
            _rollback(conn)
            self._days.clear()
            self._write(conn, batch, state)

    def _write(self, conn: psycopg.Connection, batch: _Batch, state: _State) -> None:
        declaration = batch.channel.declaration
        run_id = self._run(conn, batch.channel)
        mark = None
        if batch.records:
            times = list(map(declaration.time_of, batch.records))
            oldest, newest = min(times), max(times)
            if declaration.partitioned:
                self._partitions(conn, oldest, newest)
            mark = Mark(through=newest, at=self._stream._clock())
        result = store.store_batch(conn, declaration.spec, run_id=run_id, records=batch.records,
                                   rejects=batch.rejects, received=batch.received, cursor=mark,
                                   scope=_mark_scope(batch.channel), text_copy=declaration.text_copy)
        stats = state.stats
        stats.batches += 1
        stats.rows += result.inserted
        stats.duplicates += result.duplicates
        stats.rejects += len(batch.rejects)
        if batch.records:
            lag = (self._stream._clock() - oldest).total_seconds()
            stats.lag_seconds = round(lag, 3)
            stats.lag_max_seconds = max(stats.lag_max_seconds or lag, lag)

    def _one_by_one(self, conn: psycopg.Connection, batch: _Batch, state: _State) -> None:
        """Each record alone; one the database refuses becomes a reject with its reason."""
        rejects = list(batch.rejects)
        for record, raw in zip(batch.records, batch.raws, strict=True):
            try:
                self._write(conn, _Batch(batch.channel, [record], [raw], []), state)
            except psycopg.Error as failure:
                _rollback(conn)
                rejects.append(Reject(_decode(raw)[1], store.describe_db_error(failure)))
        try:
            self._write(conn, _Batch(batch.channel, [], [], rejects), state)
        except psycopg.Error as failure:
            _rollback(conn)
            logger.error("the rejects of {} could not be kept: {}", batch.channel.name, store.describe_db_error(failure))

    def _partitions(self, conn: psycopg.Connection, oldest: datetime, newest: datetime) -> None:
        for day in _days(oldest, newest):
            if day not in self._days:
                conn.execute("SELECT vvv.option_trades_partition(%s)", (day,))
                conn.commit()
                self._days.add(day)

    def _run(self, conn: psycopg.Connection, channel: Channel) -> int:
        """The channel's run of this New York day: one a day, so a day's gaps are that day's notes."""
        today = self._stream._clock().astimezone(NY).date()
        current = self._runs.get(channel.name)
        if current is not None and current[1] == today:
            return current[0]
        if current is not None:
            self._end_run(conn, channel.name, current[0])
        run_id = store.start_run(conn, f"stream:{channel.name}", instance=self._stream._instance)
        self._runs[channel.name] = (run_id, today)
        for note in self._notes.get(channel.name, []):  # noted while the database was away
            store.note_run(conn, run_id, note=note)
        if channel.name in self._errors:
            store.note_run(conn, run_id, error=self._errors[channel.name])
        return run_id

    def _end_run(self, conn: psycopg.Connection, name: str, run_id: int) -> None:
        store.finish_run(conn, run_id, status="failed" if name in self._errors and not
                         self._stream._states[name].stats.batches else "ok",
                         requests=0, error=self._errors.pop(name, None),
                         notes="; ".join(self._notes.pop(name, [])) or None, api_budget=None)

    def _noted(self, item: _Note) -> None:
        name = item.channel.name
        if item.note:
            self._notes.setdefault(name, []).append(item.note)
        if item.error:
            self._errors[name] = item.error
        conn = self._connection()
        if conn is None:
            return
        try:
            if name in self._runs:
                store.note_run(conn, self._runs[name][0], note=item.note, error=item.error)
            else:
                self._run(conn, item.channel)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self._lost()

    def _to_spool(self, batch: _Batch, state: _State) -> None:
        spool = self._stream._spool
        if spool is None:
            logger.error("the database is away and there is no spool: {} messages of {} are lost",
                         batch.received, batch.channel.name)
            return
        run = self._runs.get(batch.channel.name)
        try:
            spool.append(Batch(
                collector=_spool_name(batch.channel), scope=batch.channel.name, run_id=run and run[0],
                run_key=f"{self._stream._instance}/stream {self._started_at}", instance=self._stream._instance,
                started_at=self._started_at, fetched_at=self._stream._clock().isoformat(), cursor=None,
                payload={"data": batch.payloads()},
            ))
        except SpoolFull as full:
            logger.error("{}: {} messages of {} are lost", full, batch.received, batch.channel.name)
            return
        state.stats.spooled += 1

    def _replay(self) -> bool:
        """Store what the spool holds for these channels, in order, before any new batch."""
        spool, conn = self._stream._spool, self._conn
        if spool is None:
            return True
        kinds = dict.fromkeys(_spool_name(c) for c in self._stream.channels)
        try:
            for kind in kinds:
                for spooled in spool.pending(kind):
                    self._replay_one(conn, spooled)
                    spool.discard(spooled)
        except (psycopg.OperationalError, psycopg.InterfaceError) as failure:
            logger.error("the stream's spool could not be replayed: {}", store.describe_db_error(failure))
            return False
        except SpoolStuck as stuck:
            logger.error("{}", stuck)
            return False
        return True

    def _replay_one(self, conn: psycopg.Connection, spooled: Any) -> None:
        batch = spooled.batch
        channel = resolve(batch.scope)
        state = self._stream._states.get(channel.name) or _State(channel, ChannelStats(), _Pending())
        payloads = batch.payload.get("data", [])
        declaration, now = channel.declaration, datetime.fromisoformat(batch.fetched_at)
        records, raws, rejects = [], [], []
        for payload in payloads:
            record = declaration.parse(payload, channel.ticker)
            reason = record.reason if type(record) is Reject else (
                declaration.validate(record, now) if declaration.validate else None) or unstorable_text(payload)
            if reason is None:
                records.append(record)
                raws.append(_encode(["", payload]))
            else:
                rejects.append(Reject(payload, reason))
        self._write(conn, _Batch(channel, records, raws, rejects), state)
        logger.info("replayed a spooled batch of {}: {} messages", channel.name, len(payloads))

    def _publish(self, force: bool = False) -> None:
        """Each channel's stats into vvv.streams, every PUBLISH_S."""
        if not force and time.monotonic() - self._published_at < PUBLISH_S:
            return
        self._published_at = time.monotonic()
        conn = self._connection()
        if conn is None:
            return
        try:
            with conn.transaction():
                for name, stats in self._stream.stats().items():
                    conn.execute(
                        "INSERT INTO vvv.streams (channel, instance, run_id, state) VALUES (%s, %s, %s, %s)"
                        " ON CONFLICT (channel) DO UPDATE SET instance = EXCLUDED.instance, run_id = EXCLUDED.run_id,"
                        " state = EXCLUDED.state, updated_at = now()",
                        (name, self._stream._instance, self._runs.get(name, (None,))[0], Jsonb(stats)))
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self._lost()
        except psycopg.Error as failure:
            _rollback(conn)
            logger.warning("could not publish the stream's state: {}", store.describe_db_error(failure))

    def _finish(self) -> None:
        """Stopped: every run ends, with its notes, and the last stats are published."""
        self._publish(force=True)
        conn = self._connection() if self._conn is not None else None
        if conn is None:
            return
        try:
            for name, (run_id, _) in list(self._runs.items()):
                self._end_run(conn, name, run_id)
            self._runs.clear()
        except psycopg.Error as failure:
            logger.warning("could not finish the stream's runs: {}", store.describe_db_error(failure))
        finally:
            self._conn.close()
            self._conn = None


def _mark_scope(channel: Channel) -> str:
    return f"stream/{channel.name}"


def _spool_name(channel: Channel) -> str:
    """The spool's collector name of a channel's batches: no `.` or `:` (a ticker's `BRK.B` goes in the scope)."""
    return "stream_" + channel.declaration.kind


def _days(start: datetime, end: datetime) -> list[date]:
    """The New York days from `start` to `end`."""
    first, last = start.astimezone(NY).date(), end.astimezone(NY).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _spell(moment: datetime | None) -> str:
    return "?" if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _detail(detail: Any) -> str:
    if isinstance(detail, dict):
        response = detail.get("response")
        return f"status {detail.get('status')!r}" + (f", {response}" if response else "")
    return repr(detail)


def _rollback(conn: psycopg.Connection) -> None:
    try:
        conn.rollback()
    except psycopg.Error:
        pass


def open_stream(conf: Any, *, url: str, client: Any, spool: Spool | None, channels: Sequence[str] | None = None,
                instance: str | None = None, socket_options: Mapping[str, Any] | None = None
                ) -> tuple[Stream, Callable[[], None]]:
    """The stream of `channels` (default `[stream] channels`) as configured, with its gap filler; and its closer."""
    filler = GapFiller(url=url, statement_timeout_s=conf.database.statement_timeout_seconds, client=client,
                       collectors=conf.collectors, lookback_s=conf.stream.gap_lookback_seconds, instance=instance)
    stream = Stream(url=url, statement_timeout_s=conf.database.statement_timeout_seconds, token=conf.require_token(),
                    config=conf.stream, channels=channels, spool=spool, filler=filler, instance=instance,
                    socket_options=socket_options)
    return stream, client.close
