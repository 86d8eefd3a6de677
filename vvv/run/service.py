"""`vvv run`: the long-running loop around the scheduler, the active lock, and clean shutdown.

The loop is thin: every second it asks `scheduling.decide` what is due and starts each due
pass in a thread of its own (one database connection per pass), so a slow or failing
collector costs only its own pass. Periodic chores (leadership, heartbeat, instance row,
pruning) are jobs on a `schedule.Scheduler` of this process.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import psycopg
import schedule
from loguru import logger

from vvv.config import CollectorConfig, MonitorConfig
from vvv.core import calendar, scheduling
from vvv.core.base import Collector
from vvv.errors import Fatal, one_line
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.io.spool import Spool
from vvv.ops import notify, probes
from vvv.ops.metrics import Metrics, Sources
from vvv.run import runner
from vvv.run.leader import Leadership

SHUTDOWN_GRACE_S = 7.0  # in-flight passes get this long to finish a page; exit stays under 10 s
STANDBY_POLL_S = 5
_INTERRUPTED = "interrupted: the vvv run that started this pass stopped before it finished"


class _Abort(Exception):
    """A second SIGTERM/SIGINT: stop waiting for passes and exit now."""


@attrs.define
class _Stats:
    passes: int = 0
    failed: int = 0
    skipped: int = 0
    rows: int = 0


class Service:
    def __init__(
        self,
        *,
        url: str,
        collectors: Mapping[str, tuple[Collector, CollectorConfig]],
        client: ApiClient,
        statement_timeout_s: int,
        runs_retention_s: int,
        spool: Spool | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        migrated: bool = True,
        tape: Any = None,
        tape_config: Any = None,
    ) -> None:
        self._url = url
        self._collectors = dict(collectors)
        self._client = client
        self._statement_timeout_s = statement_timeout_s
        self._runs_retention_s = runs_retention_s
        self.spool = spool
        self._clock = clock
        self.tape = tape  # a vvv.run.tape.NightlyTape when [tape] is enabled
        self._tape_config = tape_config if tape is None else tape.config  # [tape], for the status
        self._tape_thread: threading.Thread | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.instance = f"run {self.name}"
        self._leader = Leadership(url, statement_timeout_s=statement_timeout_s)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._slots = {name: scheduling.Slot(anchor=None) for name in self._collectors}
        self._stats = {name: _Stats() for name in self._collectors}
        self._threads: dict[str, threading.Thread] = {}
        self._signals = 0
        self._shutting_down = False
        self._announced_standby = False
        self._role: str | None = None  # "active" or "standby" as last seen with the database; None: never reached
        self._announced_offline = False
        self.paused_until: datetime | None = None
        self.migrated = migrated  # `vvv run` sets it once its migrations are applied: /readyz waits for it
        # Started while the database was away: applies the migrations once it answers, before any pass uses it.
        self.migrate_later: Callable[[], None] | None = None
        self._loop_at: float | None = None  # time.monotonic() when the loop last went round, for /healthz
        # The socket's channels ([stream] channels): a vvv/run/stream.Stream, run while this instance is active.
        self.stream: Any = None
        self._stream_thread: threading.Thread | None = None
        self._said_busy = False  # another process holds the socket's lock: said once
        specs = [collector.spec for collector, _ in self._collectors.values()]
        self.metrics = Metrics(self._collectors, Sources(
            responses=lambda: client.response_counts(),
            budget=lambda: client.budget,
            spool=lambda: getattr(self, "spool", None) and self.spool.usage(),
            active=lambda: self._leader.held,
            freshness=lambda: probes.freshness(url, specs),
            stale_after={name: config.stale_after for name, (_, config) in self._collectors.items()},
            phase=lambda: calendar.phase(self._clock()),
            streams=lambda: self.stream.stats() if self.stream is not None else {},
        ))
        if tape is not None:
            self.metrics.track_tape(tape)

    def run(self, *, handle_signals: bool = True) -> int:
        """Collect until SIGTERM/SIGINT (or `stop()`); returns the exit code."""
        if handle_signals:
            self._install_signal_handlers()
        chores = schedule.Scheduler()
        chores.every(1).seconds.do(self._tick)
        chores.every(1).seconds.do(self._keep_streaming)
        chores.every(STANDBY_POLL_S).seconds.do(self._lead)
        chores.every(1).minutes.do(self._heartbeat)
        chores.every(10).seconds.do(self._publish)
        chores.every(1).hours.do(self._prune)
        if self.tape is not None:
            chores.every(1).minutes.do(self._tape_tick)
        ping = notify.watchdog_interval_s()
        if ping is not None:
            chores.every(max(1, int(ping))).seconds.do(notify.notify, "WATCHDOG=1")
        logger.info("vvv run {} starting with collectors: {}", self.name, ", ".join(self._collectors) or "none")
        try:
            self._lead()
            notify.notify("READY=1")
            if self.tape is not None:
                self._tape_tick()  # a tape missed while vvv was down is not left for a minute
            while not self._stopping.is_set():
                chores.run_pending()
                self._loop_at = time.monotonic()
                self._stopping.wait(min(1.0, max(0.05, chores.idle_seconds or 1.0)))
            self._drain()
        except _Abort:
            logger.warning("second signal: exiting without waiting for passes in flight")
        finally:
            self._shut_down()
        return 0

    def stop(self) -> None:
        """Ask the loop to finish as on SIGTERM."""
        self._stopping.set()

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, _: Any) -> None:
            self._signals += 1
            if self._signals > 1:
                if not self._shutting_down:  # already on the fast path otherwise
                    raise _Abort
                return
            logger.info("{} received: finishing passes in flight, starting no new ones", signal.Signals(signum).name)
            self._stopping.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
        # vvv reads its configuration and token once, at start; a stray SIGHUP must not end it.
        signal.signal(signal.SIGHUP, lambda *_: logger.warning("SIGHUP ignored: restart vvv to reload its configuration"))

    def can_collect_offline(self) -> bool:
        """Whether passes can go on without the database: the spool knows a cursor of some collector."""
        return self.spool is not None and any(self.spool.known_cursors(name) for name in self._collectors)

    def _lead(self) -> None:
        was_active = self._leader.held
        active = self._leader.acquire()
        if active and not self.migrated and not self._migrate_now():
            self._leader.release()
            active = False
        if active or self._leader.conn is not None:  # the database answered: leadership is known
            self._role = "active" if active else "standby"
        offline = self._offline()
        if active and not was_active:
            logger.info("this instance is now the active one: collecting")
            self._take_over()
        elif offline and not self._announced_offline:
            logger.error("the database is unreachable: collecting into the spool {} from the cursors last known"
                         " until it is back", self.spool.directory)
            self._announced_offline = True
        elif was_active and not active and not offline:
            logger.error("no longer the active instance: not starting passes until the lock is back")
        elif not active and not offline and not self._announced_standby:
            logger.info("standby: another vvv run holds the active lock; taking over when it stops")
        self._announced_standby = not active and not offline
        self._announced_offline = offline and self._announced_offline
        state = "active: collecting" if active else ("database unreachable: collecting into the spool" if offline
                                                     else "standby: another vvv run is active")
        notify.notify(f"STATUS={state}")
        self._publish()

    def _migrate_now(self) -> bool:
        """Apply the migrations deferred at start; False (logged) while they cannot be applied yet."""
        if self.migrate_later is None:
            return True
        try:
            self.migrate_later()
        except Exception as error:  # the database went away again, or a migration is refused: try again later
            logger.error("the migrations could not be applied yet: {}", one_line(error))
            return False
        logger.info("the database is back: migrations applied")
        self.migrated, self.migrate_later = True, None
        return True

    def _offline(self) -> bool:
        """Collect without the database: it is unreachable, and this instance was not a standby when it last answered.

        Passes then go to the spool, from the cursors kept beside it; an instance that knew
        another was active leaves the collecting to that one.
        """
        return (self.spool is not None and not self._leader.held and self._leader.conn is None
                and self._role != "standby")

    def _take_over(self) -> None:
        """Close the runs a dead predecessor left open, and resume each collector's rhythm from its last pass."""
        conn = self._leader.conn
        store.fail_running_runs_of_other_instances(conn, self.instance, error=_INTERRUPTED)
        with self._lock:
            for name, started in store.last_run_starts(conn, list(self._collectors)).items():
                self._slots[name] = attrs.evolve(self._slots[name], anchor=started)

    def _tick(self) -> None:
        if not (self._leader.held or self._offline()) or self._stopping.is_set():
            return
        now = self._clock()
        if self._budget_paused():
            return
        with self._lock:
            configs = {name: config for name, (_, config) in self._collectors.items()}
            decision = scheduling.decide(now, configs, self._slots)
            for name in decision.skip:
                self._stats[name].skipped += 1
                self._slots[name] = attrs.evolve(self._slots[name], anchor=now)
                logger.warning("{} is still running when due again: skipped this slot", name)
            for name in decision.start:
                self._slots[name] = scheduling.Slot(anchor=now, running=True)
                thread = threading.Thread(target=self._pass, args=(name,), name=f"pass-{name}", daemon=True)
                self._threads[name] = thread
                thread.start()

    def _pass(self, name: str) -> None:
        collector, config = self._collectors[name]
        stats = self._stats[name]
        try:
            try:
                conn = store.connect(self._url, statement_timeout_s=self._statement_timeout_s)
            except store.DatabaseUnavailable as away:
                if self.spool is None or self._role == "standby":
                    raise
                result = runner.run_offline(collector, config, client=self._client, spool=self.spool,
                                            reason=str(away), clock=self._clock, stopping=self._stopping.is_set,
                                            instance=self.instance)
            else:
                try:
                    result = runner.run_once(
                        collector, config, conn=conn, client=self._client, clock=self._clock,
                        stopping=self._stopping.is_set, instance=self.instance, spool=self.spool,
                    )
                finally:
                    conn.close()
            with self._lock:
                stats.passes += 1
                stats.rows += result.inserted
                stats.failed += result.status != "ok"
            self.metrics.observe(result)
        except Exception as error:  # the database is gone or a bug: this pass fails, the loop goes on
            with self._lock:
                stats.passes += 1
                stats.failed += 1
            self.metrics.observe_crash(name)
            with logger.contextualize(collector=name):
                logger.error("pass could not run: {}", one_line(error))
        finally:
            with self._lock:
                self._slots[name] = attrs.evolve(self._slots[name], running=False)

    def _tape_tick(self) -> None:
        """The nightly tape in a thread of its own (a load takes minutes), never two at once, active only."""
        if not self._leader.held or self._stopping.is_set():
            return
        if self._tape_thread is not None and self._tape_thread.is_alive():
            return
        self._tape_thread = threading.Thread(target=self.tape.run_due, args=(self._stopping.is_set,), name="tape",
                                             daemon=True)
        self._tape_thread.start()

    def _budget_paused(self) -> bool:
        """No pass starts while the API's daily budget, less the reserve, is spent; say so once."""
        paused = self._client.paused_until()
        if paused is not None and paused != self.paused_until:
            budget = self._client.budget
            logger.warning("the API's daily budget is spent ({} of {} requests, {} kept in reserve):"
                           " no passes until {:%Y-%m-%d %H:%M} UTC", budget.daily_count, budget.token_limit,
                           self._client.daily_reserve, paused)
            notify.notify(f"STATUS=paused: API daily budget spent until {paused:%H:%M} UTC")
        elif paused is None and self.paused_until is not None:
            logger.info("the API's daily budget is reset: collecting again")
        self.paused_until = paused
        return paused is not None

    def _keep_streaming(self) -> None:
        """The stream runs while this instance is the active one (one socket per token: a standby opens none)."""
        if self.stream is None or self._stopping.is_set() or not self._leader.held:
            return
        if self._stream_thread is not None and self._stream_thread.is_alive():
            return
        self._stream_thread = threading.Thread(target=self._streaming, name="stream", daemon=True)
        self._stream_thread.start()

    def _streaming(self) -> None:
        from vvv.io.socket import SocketAuthError
        from vvv.run.stream import StreamBusy

        try:
            self.stream.run(lambda: self._stopping.is_set() or not self._leader.held)
        except SocketAuthError as refused:  # no retry mends it: the collectors go on without the stream
            logger.error("{}; streaming stopped, the collectors go on", refused)
            self.stream = None
        except StreamBusy as busy:  # tried again every second, said once
            if not self._said_busy:
                logger.warning("{}; streaming once it stops", busy)
            self._said_busy = True
        except Exception as error:  # a bug: logged, and the stream starts again on the next tick
            logger.opt(exception=error).error("the stream crashed: {}", one_line(error))

    def _drain(self) -> None:
        self._client.stop()  # a pass waiting for the rate limit or a retry stops waiting
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for thread in [*self._threads.values(), *filter(None, [self._tape_thread, self._stream_thread])]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _shut_down(self) -> None:
        self._shutting_down = True
        self._stopping.set()
        notify.notify("STOPPING=1")
        self._client.close()
        conn = self._leader.conn
        if conn is not None:
            try:
                store.fail_running_runs_of_instance(conn, self.instance,
                                                    error="interrupted: vvv was stopped during this pass")
                store.mark_instance_stopped(conn, self.name)
            except psycopg.Error as error:
                logger.warning("could not record the shutdown: {}", one_line(error))
        self._leader.release()
        logger.info("vvv run {} stopped", self.name)

    @contextmanager
    def monitoring(self, config: MonitorConfig, *, token: str | None) -> Iterator[None]:
        """Serve /metrics, /healthz, /readyz, /api/status and the status page while the block runs."""
        if not config.enabled:
            logger.info("monitoring endpoints off (monitor.enabled = false)")
            yield
            return
        from vvv.ops import web

        target = web.Target(url=self._url, collectors=tuple((c.spec, conf) for c, conf in self._collectors.values()),
                            metrics=self.metrics, health=self.health, instance=self.name, clock=self._clock,
                            status_options=lambda: {"spool": getattr(self, "spool", None),
                                                    "daily_reserve": getattr(self._client, "daily_reserve", 0),
                                                    "tape": self._tape_config})
        try:
            server = web.serve(config, token=token, target=target)
        except OSError as error:
            raise Fatal(f"monitor.port: cannot serve the monitoring endpoints on {config.address}:{config.port}:"
                        f" {error.strerror or error}; choose a free monitor.port, or set monitor.enabled = false") from None
        host, port = server.address
        shown = f"[{host}]" if ":" in host else host
        access = "with the access token (monitor.token_file)" if token else "without a token: this machine only"
        logger.info("monitoring on http://{}:{}/ ({}): /metrics /healthz /readyz /api/status", shown, port, access)
        try:
            yield
        finally:
            server.close()

    def health(self) -> Any:
        """What /healthz and /readyz report: the loop's last round, leadership, migrations."""
        from vvv.ops.web import Health

        loop_at = self._loop_at
        return Health(loop_age_s=None if loop_at is None else time.monotonic() - loop_at,
                      active=self._leader.held, migrated=self.migrated)

    def schedule_state(self) -> dict[str, Any]:
        """Per collector: running or not, next due time, and counters since start."""
        now = self._clock()
        with self._lock:
            state = {}
            for name, (_, config) in self._collectors.items():
                slot, stats = self._slots[name], self._stats[name]
                due = scheduling.next_due(config, slot.anchor, now)
                state[name] = {
                    "running": slot.running,
                    "next_due": None if due is None else due.isoformat(),
                    **attrs.asdict(stats),
                }
        if self.tape is not None:
            state["tape"] = self.tape.state()
        return state

    def _heartbeat(self) -> None:
        role = "active" if self._leader.held else "standby"
        parts = []
        for name, entry in self.schedule_state().items():
            due = "off" if entry["next_due"] is None else entry["next_due"][11:19]
            parts.append(f"{name}: {entry['passes']} passes, {entry['rows']} rows, {entry['failed']} failed,"
                         f" {entry['skipped']} skipped, next {due}")
        logger.info("heartbeat ({}): {}", role, "; ".join(parts) or "no collectors")

    def _publish(self) -> None:
        """Write this instance's role and schedule for `vvv status`."""
        conn = self._leader.conn
        if conn is None:
            return
        role = "active" if self._leader.held else "standby"
        try:
            store.publish_instance(conn, self.name, role=role, schedule=self.schedule_state())
        except psycopg.Error as error:
            logger.warning("could not publish this instance's state: {}", one_line(error))

    def _prune(self) -> None:
        """Keep vvv.runs (and stopped instances) to the configured retention."""
        conn = self._leader.conn
        if conn is None or not self._leader.held:
            return
        cutoff = self._clock() - timedelta(seconds=self._runs_retention_s)
        try:
            pruned = store.prune(conn, before=cutoff)
        except psycopg.Error as error:
            logger.warning("could not prune vvv.runs: {}", one_line(error))
            return
        if pruned:
            logger.info("pruned {} runs older than {}", pruned, cutoff.isoformat())
