"""The `vvv` command line. Heavy libraries load only in the commands that use them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from vvv import __version__, build_commit

if TYPE_CHECKING:
    import psycopg

    from vvv.config import CollectorConfig, Config
    from vvv.core.base import Collector
    from vvv.io.http import ApiClient
    from vvv.io.spool import Spool

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vvv",
        description="Collect Unusual Whales market data (news, dark pool, options flow) into PostgreSQL.",
        epilog="Configuration: VVV_* environment variables over a TOML file (VVV_CONFIG) over defaults.",
    )
    commit = build_commit()
    parser.add_argument("--version", action="version", version=f"vvv {__version__}" + (f" ({commit})" if commit else ""))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    once = commands.add_parser("once", help="apply migrations, run one pass of one collector, and exit",
                               description="Apply pending migrations, run one collection pass of one collector, "
                               "record it in vvv.runs and print a summary. Exit 0 when the pass succeeded, 1 when not.")
    once.add_argument("--collector", required=True, metavar="NAME", help="the collector to run (see `vvv collectors`)")
    once.add_argument("--ticker", action="append", metavar="T", help="only these tickers (per-ticker collectors)")
    once.add_argument("--json", action="store_true", help="print the run as one JSON object on stdout")

    run = commands.add_parser("run", help="apply migrations, then run every enabled collector on its schedule",
                              description="Apply pending migrations, then run every enabled collector (or the "
                              "ones named) on its market-hours-aware intervals until SIGTERM or SIGINT. Only one "
                              "`vvv run` collects per database; a second one waits as a hot standby.")
    run.add_argument("--collector", action="append", metavar="NAME", help="run only this collector (repeatable)")

    back = commands.add_parser("backfill", help="collect every market day in a range, resumably",
                               description="Apply pending migrations, then collect every NYSE market day from "
                               "--from to --to (default: today), each day paged completely, ticker by ticker. "
                               "Progress is kept in the database: run the same command again after an "
                               "interruption (Ctrl-C stops cleanly) and it skips what is finished. A day is "
                               "finished only once its after-hours session has ended: today is collected as far as "
                               "it goes, and each re-run collects what came since. Weekends and "
                               "holidays cost no request; the incremental cursor is never moved backward.")
    back.add_argument("--collector", required=True, metavar="NAME", help="the collector (see `vvv collectors`)")
    back.add_argument("--from", dest="start", required=True, type=_date, metavar="YYYY-MM-DD", help="first day")
    back.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD",
                      help="last day (default: today in New York; a later day is an error)")
    back.add_argument("--ticker", action="append", metavar="T", help="only these tickers (default: the watchlist)")

    cal = commands.add_parser("calendar", help="print the NYSE sessions vvv schedules around",
                              description="Print each NYSE trading day in the range with its pre-market open, "
                              "regular open, regular close (13:00 on early-close days) and after-hours close, in "
                              "America/New_York, computed by rule. Holidays and weekends are left out.")
    cal.add_argument("--from", dest="start", required=True, type=_date, metavar="YYYY-MM-DD", help="first day")
    cal.add_argument("--to", dest="end", required=True, type=_date, metavar="YYYY-MM-DD", help="last day (inclusive)")
    cal.add_argument("--json", action="store_true", help="print the sessions as one JSON object on stdout")

    migrate = commands.add_parser("migrate", help="apply pending SQL migrations",
                                  description="Apply the SQL migrations under sql/ that the database has not seen.")
    migrate.add_argument("--dry-run", action="store_true", help="list what would be applied, change nothing")
    migrate.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")

    check = commands.add_parser("check", help="check the database schema against what the collectors need",
                                description="Compare the live tables, columns, types and keys with what every "
                                "collector needs. Exit 0 when all is there, 1 naming each problem.")
    check.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")

    status = commands.add_parser("status", help="show each collector's state, last run, rows, lag, rejects, next "
                                 "due time and the API budget",
                                 description="Show per collector its state, the last run and its outcome, rows "
                                 "stored in the last run and the last 24 h, the newest record's age, rejects, the "
                                 "next due time, the running instances and the API budget. Exit 1 when an enabled "
                                 "collector's last run failed or its data is stale during the regular session.")
    status.add_argument("--json", action="store_true", help="print the status as one JSON object on stdout")

    stream = commands.add_parser("stream", help="apply migrations, then store the socket's channels as they come",
                                 description="Apply pending migrations, then join the provider's WebSocket channels "
                                 "([stream] channels, or the ones named) on one socket and store every message, until "
                                 "SIGTERM or SIGINT or --for has passed; gaps are filled from the REST twins. Exit 0 "
                                 "with everything received stored (or spooled), 2 when the socket refuses the token.")
    stream.add_argument("--channel", action="append", metavar="NAME",
                        help="join this channel (repeatable): flow-alerts, news, off_lit_trades, option_trades[:T],"
                        " price:T, gex:T")
    stream.add_argument("--for", dest="duration", metavar="DURATION", help='stop after this long, e.g. "30s", "1h"')

    listing = commands.add_parser("collectors", help="list the collectors and their schedules",
                                  description="List every collector with its table, whether it is enabled, "
                                  "and its intervals (regular, extended hours, closed).")
    listing.add_argument("--json", action="store_true", help="print the list as one JSON object on stdout")
    _add_data_commands(commands)
    _add_tape_command(commands)
    return parser


def _add_tape_command(commands: Any) -> None:
    tape = commands.add_parser("tape", help="load the full options tape of market days into trading.option_trades",
                               description="Download the full options tape (every option trade of a day, Advanced "
                               "plan) of each market day asked for, load it by COPY into a fresh partition and swap "
                               "it in for the day: a reader sees the old day or the new one, never half. --date loads "
                               "that day (again, if it was loaded); --from/--to loads the market days of the range "
                               "not loaded yet, so the same command resumes. Weekends and holidays cost no request. "
                               "Exit 0 when every day loaded, 1 when one failed (the API's answer is shown).")
    which = tape.add_mutually_exclusive_group(required=True)
    which.add_argument("--date", type=_date, metavar="YYYY-MM-DD", help="one market day, loaded even if it was")
    which.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD", help="first day of a range")
    tape.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD",
                      help="last day of the range (default: today once tape.at has passed in New York,"
                      " else yesterday)")
    tape.add_argument("--json", action="store_true", help="print the days loaded as one JSON object on stdout")


def _add_data_commands(commands: Any) -> None:
    psql = commands.add_parser("psql", help="an interactive psql on the database vvv uses",
                               description="Run psql on the database vvv uses: VVV_DATABASE_URL, or the embedded "
                               "PostgreSQL (started if needed, kept up while psql runs). Every argument after "
                               "`psql` goes to psql, e.g. `vvv psql -c 'select count(*) from trading.news_headlines'`."
                               " Uses the embedded PostgreSQL's own psql: no PostgreSQL needs to be installed.")
    psql.add_argument("args", nargs=argparse.REMAINDER, metavar="PSQL ARGS", help="passed to psql as they are")

    sql = commands.add_parser("sql", help="run one read-only query and print its rows",
                              description="Run one SQL statement in a READ ONLY transaction and print its rows "
                              "as an aligned table (or JSON, or CSV). A statement that writes fails with "
                              "PostgreSQL's error and exit 1, and changes nothing. Bind values with "
                              "--param NAME=VALUE and %%(NAME)s in the query: they are never pasted into its text.")
    sql.add_argument("query", metavar="QUERY", help="one SQL statement, e.g. \"SELECT * FROM trading.darkpool_daily\"")
    out = sql.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the rows as one JSON object on stdout")
    out.add_argument("--csv", action="store_true", help="print the rows as CSV with a header line")
    sql.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a bound parameter, used as %%(NAME)s in the query (repeatable)")

    db = commands.add_parser("db", help="where the database is: a URL other programs can use",
                             description="Print the database vvv uses as a connection URI for psql, pandas, "
                             "Grafana or DBeaver: VVV_DATABASE_URL, or the embedded server's unix socket under the "
                             "data dir (and its loopback TCP port when database.listen_port is set).")
    db_commands = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    url = db_commands.add_parser("url", help="print the connection URI (password redacted)",
                                 description="Print the connection URI of the database vvv uses, its password "
                                 "replaced by *** unless --show-password.")
    url.add_argument("--show-password", action="store_true", help="print the password as it is")
    url.add_argument("--json", action="store_true", help="print the URIs as one JSON object on stdout")

    export = commands.add_parser("export", help="write a table to CSV, JSON lines or Parquet, streamed",
                                 description="Write a collector's table (or any trading.* or vvv.* table or view) "
                                 "to a file, streamed: COPY for CSV, a server-side cursor for JSON lines and Parquet, "
                                 "never the whole table in memory. --from/--to are New York days of the table's time "
                                 "column; --by-day writes one file per New York day into the directory --out. "
                                 "Parquet needs pyarrow: pip install 'vvv[parquet]'.")
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--collector", metavar="NAME", help="the collector's table (see `vvv collectors`)")
    which.add_argument("--table", metavar="SCHEMA.TABLE", help="a trading.* or vvv.* table or view")
    export.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD", help="first New York day")
    export.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD", help="last New York day (inclusive)")
    export.add_argument("--format", required=True, choices=("csv", "jsonl", "parquet"), help="the file format")
    export.add_argument("--out", required=True, metavar="PATH", help="the file (with --by-day: a directory)")
    export.add_argument("--by-day", action="store_true", help="one file per New York day, named TABLE-DAY.EXT")
    export.add_argument("--json", action="store_true", help="print what was written as one JSON object on stdout")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-02, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    passed = None
    if argv[:1] == ["psql"] and argv[1:] not in (["-h"], ["--help"]):  # psql's options are psql's, -c and -h too
        passed, argv = argv[1:], ["psql"]
    args = build_parser().parse_args(argv)
    if passed is not None:
        args.args = passed
    if args.command is None:
        build_parser().print_help(sys.stderr)
        return EXIT_USAGE
    from vvv import logs
    from vvv.errors import Fatal

    logs.setup()
    try:
        return _dispatch(args)
    except Fatal as error:
        _report(args, str(error))
        return error.exit_code
    except KeyboardInterrupt:
        _report(args, "interrupted")
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from vvv import config, logs

    conf = config.load()
    os.environ.pop("VVV_UW_TOKEN", None)  # read once: no child process (the embedded PostgreSQL) inherits it
    os.environ.pop("VVV_MONITOR_TOKEN", None)
    secrets = [conf.token or "", conf.monitor_token or ""]
    if conf.database.url:
        secrets.append(config.dsn_password(conf.database.url) or "")
    logs.setup(level=conf.log.level, fmt=conf.log.format, secrets=secrets)
    warning = config.token_file_warning(os.environ)
    if warning:
        from loguru import logger

        logger.warning(warning)
    command = {
        "once": _once,
        "run": _run,
        "migrate": _migrate,
        "check": _check,
        "status": _status,
        "collectors": _collectors,
        "calendar": _calendar,
        "backfill": _backfill,
        "psql": _psql,
        "sql": _sql,
        "db": _db_url,
        "export": _export,
        "stream": _stream,
        "tape": _tape,
    }[args.command]
    try:
        return command(args, conf)
    except Exception as error:
        psycopg = sys.modules.get("psycopg")
        if psycopg is not None and isinstance(error, psycopg.Error):
            from vvv.io.store import describe_db_error

            _report(args, describe_db_error(error))
            return EXIT_FAILED
        raise


def _report(args: argparse.Namespace, message: str) -> None:
    """Errors go to stderr as one line; with --json, stdout still gets one JSON object."""
    from loguru import logger

    logger.error(message)
    if getattr(args, "json", False):
        _print_json({"ok": False, "error": message})


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def _database(conf: Config, *, url: str | None = None) -> Iterator[psycopg.Connection]:
    from vvv.io import embedded, store

    url = url or conf.database.url or embedded.start(conf.data_dir, listen_port=conf.database.listen_port)
    conn = store.connect(url, statement_timeout_s=conf.database.statement_timeout_seconds)
    try:
        yield conn
    finally:
        conn.close()


def _apply_migrations(conn: psycopg.Connection, *, dry_run: bool = False) -> list[str]:
    from vvv.io import migrate

    return migrate.migrate(conn, migrate.discover(migrate.sql_dir()), dry_run=dry_run)


def _collector(name: str) -> Collector:
    from vvv.collectors import COLLECTORS
    from vvv.config import ConfigError

    if name not in COLLECTORS:
        raise ConfigError(f"--collector: unknown collector {name!r} (known: {', '.join(COLLECTORS)})")
    return COLLECTORS[name]


def _client(conf: Config) -> ApiClient:
    from vvv.io.http import ApiClient, Pacer

    return ApiClient(
        base_url=conf.api.base_url,
        token=conf.require_token(),
        connect_timeout=conf.api.connect_timeout,
        read_timeout=conf.api.read_timeout,
        max_retries=conf.api.max_retries,
        max_response_mb=conf.api.max_response_mb,
        request_timeout=conf.api.request_timeout,
        pacer=Pacer(conf.api.requests_per_minute),
        daily_reserve=conf.api.daily_reserve,
    )


def _spool(conf: Config) -> Spool:
    from vvv.io.spool import Spool

    return Spool(conf.data_dir / "spool", max_bytes=conf.spool.max_size_mb * 2**20)


def _once(args: argparse.Namespace, conf: Config) -> int:
    from vvv.config import ConfigError

    collector = _collector(args.collector)
    settings = conf.collectors[args.collector]
    if args.ticker:
        if collector.partitions is None:
            raise ConfigError(f"--ticker: the {args.collector} collector does not collect per ticker")
        settings = _with_tickers(settings, args.ticker)
    conf.require_token()

    from vvv.run import runner

    with _database(conf) as conn:
        _apply_migrations(conn)
        client = _client(conf)
        try:
            result = runner.run_once(collector, settings, conn=conn, client=client, spool=_spool(conf))
        finally:
            client.close()
    import attrs

    if args.json:
        _print_json({"ok": result.status == "ok", **attrs.asdict(result)})
    else:
        print(result.summary())
    return EXIT_OK if result.status == "ok" else EXIT_FAILED


def _with_tickers(settings: CollectorConfig, tickers: list[str]) -> CollectorConfig:
    """The collector's settings with `--ticker` as its watchlist, validated like the TOML one."""
    import attrs

    from vvv.config import ConfigError

    try:
        return attrs.evolve(settings, options=attrs.evolve(settings.options, tickers=tuple(tickers)))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"--ticker: {error}") from None


def _run(args: argparse.Namespace, conf: Config) -> int:
    from loguru import logger

    from vvv.collectors import COLLECTORS
    from vvv.io import embedded, store
    from vvv.run.service import Service

    names = args.collector or [n for n in COLLECTORS if conf.collectors[n].enabled]
    chosen = {name: (_collector(name), conf.collectors[name]) for name in names}
    conf.require_token()
    url = conf.database.url or embedded.start(conf.data_dir, listen_port=conf.database.listen_port)
    client, spool = _client(conf), _spool(conf)
    service = Service(
        url=url,
        collectors=chosen,
        client=client,
        spool=spool,
        statement_timeout_s=conf.database.statement_timeout_seconds,
        runs_retention_s=conf.service.runs_retention_seconds,
        migrated=False,
        tape=_nightly_tape(conf, url),
        tape_config=conf.tape,
    )
    if conf.stream.channels:  # beside the collectors, on the one socket of the token
        from vvv.run.stream import open_stream

        service.stream, _ = open_stream(conf, url=url, client=client, spool=spool, instance=service.instance)
    with service.monitoring(conf.monitor, token=conf.monitor_token):  # /healthz and /readyz answer from here on
        try:
            _migrate_at(conf, url)
        except store.DatabaseUnavailable as away:
            if not service.can_collect_offline():
                raise
            logger.error("{}: starting without it, collecting into the spool from the cursors last known;"
                         " the migrations are applied once it is back", away)
            service.migrate_later = lambda: _migrate_at(conf, url)
        else:
            service.migrated = True
        return service.run()


def _stream(args: argparse.Namespace, conf: Config) -> int:
    import signal
    import threading
    import time

    from vvv.config import ConfigError, parse_duration
    from vvv.io import embedded
    from vvv.run.stream import open_stream

    try:
        seconds = None if args.duration is None else parse_duration(args.duration)
    except ValueError as error:
        raise ConfigError(f"--for: {error}") from None
    from vvv.streams import channel

    try:
        names = [channel(name).name for name in args.channel or ()] or list(conf.stream.channels)
    except ValueError as error:
        raise ConfigError(f"--channel: {error}") from None
    if not names:
        raise ConfigError("no channel to stream: name one with --channel, or list them in [stream] channels")
    conf.require_token()
    url = conf.database.url or embedded.start(conf.data_dir, listen_port=conf.database.listen_port)
    _migrate_at(conf, url)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    deadline = None if seconds is None else time.monotonic() + seconds
    stream, close = open_stream(conf, url=url, client=_client(conf), spool=_spool(conf), channels=names,
                                instance=f"stream {os.uname().nodename}:{os.getpid()}")
    try:
        stream.run(lambda: stop.is_set() or (deadline is not None and time.monotonic() >= deadline))
    finally:
        close()
    return EXIT_OK


def _nightly_tape(conf: Config, url: str) -> Any:
    """The `[tape]` job of `vvv run`, when enabled."""
    if not conf.tape.enabled:
        return None
    from vvv.run.tape import NightlyTape

    return NightlyTape(url=url, base_url=conf.api.base_url, token=conf.require_token(), data_dir=conf.data_dir,
                       config=conf.tape, statement_timeout_s=conf.database.statement_timeout_seconds)


def _migrate_at(conf: Config, url: str) -> None:
    with _database(conf, url=url) as conn:
        _apply_migrations(conn)


def _migrate(args: argparse.Namespace, conf: Config) -> int:
    with _database(conf) as conn:
        names = _apply_migrations(conn, dry_run=args.dry_run)
    if args.json:
        _print_json({"ok": True, "dry_run": args.dry_run, "migrations": names})
    elif not names:
        print("the database is up to date")
    else:
        verb = "would apply" if args.dry_run else "applied"
        print("\n".join(f"{verb} {name}" for name in names))
    return EXIT_OK


def _check(args: argparse.Namespace, conf: Config) -> int:
    from vvv.collectors import COLLECTORS
    from vvv.ops import check

    from vvv.streams import STREAM_SPECS

    with _database(conf) as conn:
        found = check.problems(conn, [*(c.spec for c in COLLECTORS.values()), *STREAM_SPECS])
    if args.json:
        _print_json({"ok": not found, "problems": found})
    else:
        print("\n".join(found) if found else "the database schema has everything the collectors need")
    return EXIT_FAILED if found else EXIT_OK


def _status(args: argparse.Namespace, conf: Config) -> int:
    from datetime import UTC, datetime

    from vvv.collectors import COLLECTORS
    from vvv.errors import Fatal
    from vvv.io import store
    from vvv.io.store import DatabaseUnavailable
    from vvv.ops import status

    try:
        with _database(conf) as conn:
            if not store.has_operations_tables(conn):
                raise Fatal("the database has no vvv tables yet: run `vvv migrate` or `vvv once` first")
            chosen = [(c.spec, conf.collectors[name]) for name, c in COLLECTORS.items()]
            report = status.collect_status(conn, chosen, now=datetime.now(UTC), spool=_spool(conf),
                                           daily_reserve=conf.api.daily_reserve, tape=conf.tape)
    except DatabaseUnavailable as error:
        report = status.offline_status(str(error), _spool(conf))
    healthy = not report["problems"]
    if args.json:
        _print_json({"ok": healthy, **report})
    else:
        print(status.render(report))
    return EXIT_OK if healthy else EXIT_FAILED


def _collectors(args: argparse.Namespace, conf: Config) -> int:
    from vvv.collectors import COLLECTORS

    rows = []
    for name, collector in COLLECTORS.items():
        settings = conf.collectors[name]
        rows.append(
            {
                "name": name,
                "enabled": settings.enabled,
                "table": collector.spec.table,
                "interval_s": settings.interval,
                "extended_interval_s": settings.extended_interval,
                "closed_interval_s": settings.closed_interval,
                "description": collector.spec.description,
            }
        )
    if args.json:
        _print_json({"ok": True, "collectors": rows})
        return EXIT_OK
    width = max((len(row["name"]) for row in rows), default=0)  # the longest name sets the column
    for row in rows:
        intervals = "/".join(_duration(row[k]) for k in ("interval_s", "extended_interval_s", "closed_interval_s"))
        state = "enabled" if row["enabled"] else "disabled"
        print(f"{row['name']:<{width}} {state:<9} every {intervals:<14} -> {row['table']}")
        print(f"{'':<{width}} {row['description']}")
    return EXIT_OK


def _backfill(args: argparse.Namespace, conf: Config) -> int:
    import signal
    import threading
    from datetime import UTC, datetime

    from vvv.collectors import COLLECTORS
    from vvv.config import ConfigError
    from vvv.core import calendar
    from vvv.run import backfill

    collector = _collector(args.collector)
    if not collector.strategy.backfills:
        supported = ", ".join(name for name, c in COLLECTORS.items() if c.strategy.backfills)
        raise ConfigError(f"--collector: {args.collector} has no backfill (collectors with one: {supported})")
    settings = conf.collectors[args.collector]
    if args.ticker:
        if collector.partitions is None:
            raise ConfigError(f"--ticker: the {args.collector} collector does not collect per ticker")
        settings = _with_tickers(settings, args.ticker)
    now = datetime.now(UTC)
    today = now.astimezone(calendar.NY).date()
    end = args.end or today
    for flag, day in (("--from", args.start), ("--to", end)):
        if backfill.is_future(day, now):
            raise ConfigError(f"{flag} {day} is in the future (today is {today} in New York): nothing to collect yet")
    if end < args.start:
        raise ConfigError(f"--to {end} is before --from {args.start}")
    units = backfill.plan(args.start, end, collector.partitions_of(settings.options))
    conf.require_token()
    stop = threading.Event()

    def interrupt(signum: int, _: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        from loguru import logger

        logger.warning("interrupted: finishing the page in flight; run the same command again to resume")
        stop.set()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    with _database(conf) as conn:
        _apply_migrations(conn)
        client = _client(conf)
        try:
            progress = backfill.backfill(collector, settings, units, conn=conn, client=client, stopping=stop.is_set)
        finally:
            client.close()
    print(f"{args.collector} backfill {args.start}..{end}: {progress.line()}")
    session = calendar.session(end)
    if session is not None and not backfill.is_over(end, datetime.now(UTC)):
        print(f"{end} is not over (after-hours ends {session.after_close:%H:%M} New York): collected so far,"
              " not marked finished; run the same command again for what comes later", file=sys.stderr)
    if stop.is_set() and progress.done < progress.units:
        print("interrupted: run the same command again to resume", file=sys.stderr)
    return EXIT_OK if progress.done == progress.units else EXIT_FAILED


def _calendar(args: argparse.Namespace, conf: Config) -> int:
    from vvv.config import ConfigError
    from vvv.core import calendar

    if args.end < args.start:
        raise ConfigError(f"--to {args.end} is before --from {args.start}")
    found = calendar.sessions(args.start, args.end)
    if args.json:
        keys = ("day", "pre_open", "open", "close", "after_close", "early_close")
        _print_json({"ok": True, "timezone": "America/New_York",
                     "sessions": [{k: _iso(getattr(s, k)) for k in keys} for s in found]})
        return EXIT_OK
    print("DAY         PRE-MARKET  OPEN   CLOSE  AFTER-HOURS  (America/New_York)")
    for s in found:
        note = "  early close" if s.early_close else ""
        print(f"{s.day}  {s.pre_open:%H:%M}       {s.open:%H:%M}  {s.close:%H:%M}  {s.after_close:%H:%M}{note}")
    return EXIT_OK


def _database_url(conf: Config) -> str:
    from vvv.io import embedded

    return conf.database.url or embedded.start(conf.data_dir, listen_port=conf.database.listen_port)


def _psql(args: argparse.Namespace, conf: Config) -> int:
    import signal
    import subprocess

    from vvv.io import embedded
    from vvv.ops import query

    url = _database_url(conf)  # the embedded server stays up while this process, psql's parent, lives
    program = embedded.psql(None if conf.database.url else conf.data_dir)
    dsn, env = query.psql_environment(url, os.environ)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is psql's to handle
    try:
        return subprocess.call([str(program), "--dbname", dsn, *args.args], env=env)
    except OSError as error:
        from vvv.errors import Fatal

        raise Fatal(f"cannot run psql ({program}): {error.strerror}") from None
    finally:
        signal.signal(signal.SIGINT, previous)


def _sql(args: argparse.Namespace, conf: Config) -> int:
    from vvv.ops import query

    params = query.parse_params(args.param)
    query.bind(args.query, params)  # a placeholder without its --param is exit 2 before any connection
    with _database(conf) as conn:
        result = query.run_query(conn, args.query, params)
    if args.json:
        _print_json(query.as_json(result))
    elif args.csv:
        sys.stdout.write(query.render_csv(result))
    else:
        print(query.render_table(result))
    return EXIT_OK


def _db_url(args: argparse.Namespace, conf: Config) -> int:
    from vvv.io import embedded
    from vvv.ops import query

    url = query.display_url(_database_url(conf), show_password=args.show_password)
    tcp = None
    if not conf.database.url and conf.database.listen_port is not None:
        tcp = embedded.tcp_url(conf.data_dir)
        if tcp is None:
            from loguru import logger

            logger.warning("database.listen_port is set, but the embedded server was started without it by a vvv"
                           " still running: it listens on TCP once every vvv using it has exited and it starts again")
        else:
            tcp = query.display_url(tcp, show_password=args.show_password)
    if args.json:
        _print_json({"ok": True, "url": url, "tcp_url": tcp, "embedded": not conf.database.url})
    else:
        print(url if tcp is None else f"{url}\n{tcp}")
    return EXIT_OK


def _export(args: argparse.Namespace, conf: Config) -> int:
    from vvv.ops import export

    table = _collector(args.collector).spec.table if args.collector else args.table
    with _database(conf) as conn:
        written = export.export(conn, table=table, start=args.start, end=args.end, fmt=args.format,
                                out=args.out, by_day=args.by_day, progress=sys.stderr.isatty())
    if args.json:
        _print_json({"ok": True, "table": table, "files": written})
    else:
        for item in written:
            print(f"wrote {item['rows']} rows to {item['path']}")
    return EXIT_OK


def _tape(args: argparse.Namespace, conf: Config) -> int:
    from datetime import UTC, datetime, timedelta

    from vvv.config import ConfigError
    from vvv.core import calendar
    from vvv.run import tape

    now = datetime.now(UTC)
    today = now.astimezone(calendar.NY).date()
    if args.end is not None and args.start is None:
        raise ConfigError("--to needs --from")
    for flag, day in (("--date", args.date), ("--from", args.start), ("--to", args.end)):
        if day is not None and day > today:
            raise ConfigError(f"{flag} {day} is in the future (today is {today} in New York): no tape yet")
    if args.date is not None:
        if not calendar.is_trading_day(args.date):
            why = calendar.holidays(args.date.year).get(args.date) or args.date.strftime("a %A")
            raise ConfigError(f"--date {args.date} is not a market day ({why}): there is no tape of it")
        days, start = [args.date], args.date
    else:
        start, end = args.start, args.end or today
        if args.end is None and now < tape.published_at(today, conf.tape.at_time):
            end = today - timedelta(days=1)  # today's tape is not out before tape.at
            if end < start:
                raise ConfigError(f"--from {start}: today's tape is not out before {conf.tape.at} New York"
                                  " (tape.at): nothing to load yet")
        if end < start:
            raise ConfigError(f"--to {end} is before --from {start}")
        days = tape.market_days(start, end)
    token = conf.require_token()
    kept = conf.tape.retention_days
    if kept is not None and start < today - timedelta(days=kept):
        from loguru import logger

        logger.warning("tape.retention_days is {}: `vvv run` drops the days before {} again", kept,
                       today - timedelta(days=kept))
    results = []
    with _database(conf) as conn:
        _apply_migrations(conn)
        if args.date is None:
            loaded = {d for d, state in tape.read_loads(conn, start).items() if state.status == "ok"}
            skipped = [d for d in days if d in loaded]
            days = [d for d in days if d not in loaded]
            if skipped:
                print(f"{len(skipped)} market days of the range are loaded already; loading {len(days)}",
                      file=sys.stderr)
        url = conf.database.url or _database_url(conf)
    for day in days:
        try:
            done = tape.fetch_and_load(url, day, base_url=conf.api.base_url, token=token, data_dir=conf.data_dir,
                                       keep_files=conf.tape.keep_files,
                                       statement_timeout_s=conf.database.statement_timeout_seconds,
                                       meter=tape.Meter())
        except tape.TapeFailed as failed:
            from loguru import logger

            logger.error("{}", failed)
            results.append({"day": day.isoformat(), "ok": False, "error": str(failed), "http_status": failed.status,
                            "api_answer": failed.answer})
            continue
        if not args.json:
            print(done.line())
        results.append({"day": day.isoformat(), "ok": True, "rows": done.rows, "rejects": done.rejects,
                        "bytes": done.bytes, "seconds": round(done.seconds, 1), "replaced": done.replaced})
    ok = all(r["ok"] for r in results)
    if args.json:
        _print_json({"ok": ok, "days": results})
    elif not days:
        print("nothing to load: every market day of the range is loaded")
    return EXIT_OK if ok else EXIT_FAILED


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "off"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
