"""PostgreSQL: connections, batched idempotent writes, cursors, rejects and runs.

A batch is written by binary COPY into a temporary staging table (created once per
connection and collector, emptied at each commit), then one prepared statement that moves
the staged rows into the data table (`ON CONFLICT DO NOTHING`), keeps the rejects, counts
them on the run and saves the cursor: BEGIN, the COPY, that statement and COMMIT per batch,
nothing per row. The batch's rows, its rejects, the run's counters and the collector's new
cursor commit in one transaction: a crash can never leave the cursor ahead of the data.

A revisable data set (`Spec.revisable`) keeps one current row per key: a record served
again with other content replaces it, and the replaced row goes to `vvv.revisions` in the
same statement; a record served again unchanged writes nothing. A reject is kept once per
collector and raw item (`vvv.rejects.raw_md5`): seeing it again only moves `last_seen`.
"""

from __future__ import annotations

import json
import operator
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from attrs import frozen
from psycopg import sql
from psycopg.types.json import Jsonb, JsonbDumper, set_json_dumps

from vvv.config import mask_dsn
from vvv.core.base import Reject, Spec, read_cursor, record_row
from vvv.core.convert import CONVERTER
from vvv.errors import Fatal, one_line


class DatabaseUnavailable(Fatal):
    """The database cannot be reached; the message is one line for the operator."""


@frozen
class BatchResult:
    inserted: int
    duplicates: int
    revised: int = 0  # stored records replaced by a new version (revisable data sets)
    rejects: int = 0  # rejects never seen before; one seen again is not counted twice


def connect(
    url: str, *, statement_timeout_s: int, connect_timeout_s: int = 10, extra_options: str = "", **params: Any
) -> psycopg.Connection:
    """A connection named `vvv` in pg_stat_activity, with a statement timeout."""
    try:
        conn = psycopg.connect(
            url,
            application_name="vvv",
            connect_timeout=connect_timeout_s,
            options=f"-c statement_timeout={statement_timeout_s * 1000} {extra_options}".strip(),
            **params,
        )
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(f"cannot connect to the database {mask_dsn(url)}: {one_line(error)}") from None
    conn.adapters.register_dumper(dict, JsonbDumper)
    set_json_dumps(json_dumps, conn)
    return conn


_ENCODE = msgspec.json.Encoder().encode


def json_dumps(value: Any) -> bytes | str:
    """JSON for a jsonb value (every record's `extra`): msgspec, many times faster than json; json for
    what msgspec refuses (a value it has no encoding for, a lone surrogate)."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError):
        return json.dumps(value)


# A pass holds a session-level advisory lock on its run (two-int form: this class, the run id)
# until it finishes it. PostgreSQL frees it when the session ends, however the process ended,
# so a 'running' run whose lock is free belongs to a pass that will never finish it.
RUN_LOCK_CLASS = 0x767676  # "vvv"
_RUN_KEY = "({}::bigint & 2147483647)::integer"  # the run id, as the lock's int4 key
DEAD_RUN = "the process running this pass ended without finishing it (killed or crashed)"


def start_run(conn: psycopg.Connection, collector: str, *, instance: str | None = None) -> int:
    """A new run, locked by this session until `finish_run`: visible to others only with its lock held."""
    with conn.transaction():
        run_id = conn.execute(
            "INSERT INTO vvv.runs (collector, instance) VALUES (%s, %s) RETURNING id", (collector, instance)
        ).fetchone()[0]
        conn.execute("SELECT pg_advisory_lock(%s, " + _RUN_KEY.format("%s") + ")", (RUN_LOCK_CLASS, run_id))
    return run_id


def finish_run(
    conn: psycopg.Connection,
    run_id: int,
    *,
    status: str,
    requests: int,
    error: str | None,
    notes: str | None = None,
    api_budget: dict[str, Any] | None,
) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE vvv.runs SET finished_at = now(), status = %s, requests = %s, error = %s, notes = %s,"
            " api_budget = %s WHERE id = %s",
            (status, requests, error, notes, Jsonb(api_budget) if api_budget else None, run_id),
        )
        conn.execute("SELECT pg_advisory_unlock(%s, " + _RUN_KEY.format("%s") + ")", (RUN_LOCK_CLASS, run_id))


# The runs still 'running' whose lock this session can take: no live session holds them. Each
# lock taken is given back at once; the materialized steps keep that order of evaluation.
_CLOSE_DEAD = f"""
WITH open AS MATERIALIZED (
    SELECT id FROM vvv.runs WHERE collector = %(collector)s AND status = 'running' AND id <> %(own)s
), dead AS MATERIALIZED (
    SELECT id FROM open WHERE pg_try_advisory_lock(%(class)s, {_RUN_KEY.format("id")})
), released AS MATERIALIZED (
    SELECT id, pg_advisory_unlock(%(class)s, {_RUN_KEY.format("id")}) FROM dead
)
UPDATE vvv.runs SET status = 'failed', finished_at = now(), error = %(error)s
FROM released WHERE vvv.runs.id = released.id AND vvv.runs.status = 'running'
RETURNING vvv.runs.id
"""


def close_dead_runs(conn: psycopg.Connection, collector: str, *, own: int) -> list[int]:
    """Mark failed the collector's runs left 'running' by passes that died; returns their ids."""
    with conn.transaction():
        rows = conn.execute(_CLOSE_DEAD, {"collector": collector, "own": own, "class": RUN_LOCK_CLASS,
                                         "error": DEAD_RUN}).fetchall()
    return [row[0] for row in rows]


def start_spooled_run(conn: psycopg.Connection, collector: str, *, started_at: str, instance: str | None) -> int:
    """The run of a pass that could not record itself: every batch it fetched went to the spool."""
    with conn.transaction():
        return conn.execute(
            "INSERT INTO vvv.runs (collector, started_at, instance, status) VALUES (%s, %s, %s, 'spooled')"
            " RETURNING id", (collector, started_at, instance),
        ).fetchone()[0]


def mark_spooled(conn: psycopg.Connection, run_id: int, *, batches: int) -> None:
    """Record that `batches` of a run came through the spool, now that they are stored.

    A run closed as dead meanwhile (its pass lost the database, so its lock) was spooled, not failed.
    """
    with conn.transaction():
        conn.execute(
            "UPDATE vvv.runs SET status = 'spooled', spooled = spooled + %s, finished_at = coalesce(finished_at, now()),"
            " error = CASE WHEN error IS NULL OR error = %s THEN 'the database was unreachable during this pass:"
            " its batches were spooled to local disk and stored when it was back' ELSE error END WHERE id = %s",
            (batches, DEAD_RUN, run_id),
        )


def run_exists(conn: psycopg.Connection, run_id: int) -> bool:
    """Whether the run is in vvv.runs; ends its transaction, so the caller's next write commits on its own."""
    exists = conn.execute("SELECT EXISTS (SELECT 1 FROM vvv.runs WHERE id = %s)", (run_id,)).fetchone()[0]
    conn.commit()
    return exists


def prune(conn: psycopg.Connection, *, before: datetime) -> int:
    """Delete finished runs started before `before`, and instances silent for a day; returns runs deleted."""
    with conn.transaction():
        deleted = conn.execute("DELETE FROM vvv.runs WHERE started_at < %s AND status <> 'running'", (before,))
        conn.execute("DELETE FROM vvv.instances WHERE heartbeat_at < now() - interval '1 day'")
    return deleted.rowcount


def fail_running_runs_of_other_instances(conn: psycopg.Connection, instance: str | None, *, error: str) -> None:
    """A new leader closes the runs other instances left 'running' (their passes died with them)."""
    conn.execute(
        "UPDATE vvv.runs SET status = 'failed', finished_at = now(), error = %s"
        " WHERE status = 'running' AND instance IS NOT NULL AND instance <> %s",
        (error, instance),
    )


def fail_running_runs_of_instance(conn: psycopg.Connection, instance: str | None, *, error: str) -> None:
    """An instance shutting down closes its own runs still 'running'."""
    conn.execute("UPDATE vvv.runs SET status = 'failed', finished_at = now(), error = %s"
                 " WHERE status = 'running' AND instance = %s", (error, instance))


def last_run_starts(conn: psycopg.Connection, collectors: Sequence[str]) -> dict[str, datetime]:
    """When each of `collectors` last started a run (those that never ran are absent)."""
    rows = conn.execute("SELECT collector, max(started_at) FROM vvv.runs WHERE collector = ANY(%s)"
                        " GROUP BY collector", (list(collectors),)).fetchall()
    return dict(rows)


def publish_instance(conn: psycopg.Connection, name: str, *, role: str, schedule: Any) -> None:
    """Record an instance's role and schedule, with a fresh heartbeat, for `vvv status`."""
    conn.execute(
        "INSERT INTO vvv.instances (name, role, schedule) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, schedule = EXCLUDED.schedule,"
        " heartbeat_at = now()",
        (name, role, Jsonb(schedule)),
    )


def mark_instance_stopped(conn: psycopg.Connection, name: str) -> None:
    conn.execute("UPDATE vvv.instances SET role = 'stopped', heartbeat_at = now() WHERE name = %s", (name,))


def has_operations_tables(conn: psycopg.Connection) -> bool:
    """Whether the database has vvv's tables at all (a fresh one has had no migration yet)."""
    return conn.execute("SELECT to_regclass('vvv.runs')").fetchone()[0] is not None


_LAST_RUN = """
SELECT id, status, started_at, finished_at, inserted, revised, duplicates, rejects, error
FROM vvv.runs WHERE collector = %s ORDER BY started_at DESC, id DESC LIMIT 1
"""
_LAST_DAY = """
SELECT coalesce(sum(inserted), 0), coalesce(sum(revised), 0), coalesce(sum(rejects), 0),
       count(*) FILTER (WHERE status <> 'ok')
FROM vvv.runs WHERE collector = %s AND started_at > %s - interval '24 hours'
"""
_BUDGET = """
SELECT api_budget, finished_at FROM vvv.runs
WHERE api_budget IS NOT NULL ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1
"""
_INSTANCES = """
SELECT name, role, started_at, heartbeat_at, schedule FROM vvv.instances
WHERE role <> 'stopped' AND heartbeat_at > %s ORDER BY role, name
"""
_COLLECTED_DAYS = """
SELECT day.lo FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS day(lo, hi)
WHERE EXISTS (SELECT 1 FROM vvv.runs WHERE collector = %s AND status IN ('ok', 'partial')
              AND started_at >= day.lo AND started_at < day.hi)
ORDER BY day.lo DESC LIMIT %s
"""
_HOURLY = """
SELECT collector, date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour, sum(inserted)
FROM vvv.runs WHERE collector = ANY(%s) AND started_at >= %s GROUP BY collector, hour
"""
_RECENT = """
SELECT c.name, r.status, r.started_at, r.finished_at, r.inserted, r.error
FROM unnest(%s::text[]) AS c(name)
CROSS JOIN LATERAL (
    SELECT status, started_at, finished_at, inserted, error FROM vvv.runs
    WHERE collector = c.name ORDER BY started_at DESC LIMIT %s
) AS r
"""
_LAST_SUCCESS = """
SELECT finished_at FROM vvv.runs WHERE collector = %s AND status = 'ok' ORDER BY started_at DESC LIMIT 1
"""


def last_run(conn: psycopg.Connection, collector: str) -> tuple[Any, ...] | None:
    """The collector's latest run: (id, status, started_at, finished_at, inserted, revised, duplicates,
    rejects, error), or None when it never ran."""
    return conn.execute(_LAST_RUN, (collector,)).fetchone()


def last_day_totals(conn: psycopg.Connection, collector: str, now: datetime) -> tuple[int, int, int, int]:
    """Over the runs started in the 24 hours before `now`: (rows inserted, revised, rejects, runs not ok)."""
    return conn.execute(_LAST_DAY, (collector, now)).fetchone()


def last_reported_budget(conn: psycopg.Connection) -> tuple[dict[str, Any], datetime | None] | None:
    """The API budget the latest finished run recorded, and when it finished; None before any did."""
    return conn.execute(_BUDGET).fetchone()


def live_instances(conn: psycopg.Connection, since: datetime) -> list[tuple[Any, ...]]:
    """Instances not stopped that have beaten since `since`: (name, role, started_at, heartbeat_at, schedule)."""
    return conn.execute(_INSTANCES, (since,)).fetchall()


def collected_days(conn: psycopg.Connection, collector: str, starts: Sequence[datetime], ends: Sequence[datetime],
                   *, limit: int) -> list[datetime]:
    """Of the [start, end) days given, the starts of the newest `limit` in which the collector had a run
    ok or partial, newest first."""
    rows = conn.execute(_COLLECTED_DAYS, (list(starts), list(ends), collector, limit)).fetchall()
    return [row[0] for row in rows]


def hourly_inserted(conn: psycopg.Connection, collectors: Sequence[str], since: datetime
                    ) -> list[tuple[str, datetime, int]]:
    """Rows inserted per collector and hour (UTC) of the runs started since `since`."""
    return conn.execute(_HOURLY, (list(collectors), since)).fetchall()


def recent_runs(conn: psycopg.Connection, collectors: Sequence[str], *, limit: int) -> list[tuple[Any, ...]]:
    """The last `limit` runs of each collector, newest first: (collector, status, started_at, finished_at,
    inserted, error)."""
    return conn.execute(_RECENT, (list(collectors), limit)).fetchall()


def last_success(conn: psycopg.Connection, collector: str) -> datetime | None:
    """When the collector's latest ok run finished, or None."""
    row = conn.execute(_LAST_SUCCESS, (collector,)).fetchone()
    return row[0] if row else None


def newest_record_at(conn: psycopg.Connection, spec: Spec) -> datetime | None:
    """The time of the collector's newest record (its time index answers), or None for an empty table."""
    return conn.execute(sql.SQL("SELECT max({}) FROM {}").format(
        sql.Identifier(spec.time_column), sql.Identifier(*spec.table.split(".")))).fetchone()[0]


def load_cursor(conn: psycopg.Connection, spec: Spec, scope: str = "") -> Any:
    """The collector's saved position (for one scope, e.g. a ticker), or None when it never ran."""
    row = conn.execute(
        "SELECT position FROM vvv.cursors WHERE collector = %s AND scope = %s", (spec.name, scope)
    ).fetchone()
    conn.commit()
    return None if row is None else read_cursor(spec.cursor, row[0])


def save_cursor(conn: psycopg.Connection, spec: Spec, scope: str, cursor: Any) -> None:
    """Seed a cursor (a backfill's window) before any page is stored under it."""
    with conn.transaction():
        _upsert_cursor(conn, spec, scope, cursor, run_id=None)


def store_batch(
    conn: psycopg.Connection,
    spec: Spec,
    *,
    run_id: int,
    records: Sequence[Any],
    rejects: Sequence[Reject],
    received: int,
    cursor: Any,
    scope: str = "",
    text_copy: bool = False,
) -> BatchResult:
    """Write one page's records and rejects, count them on the run, and save the cursor: atomically.

    `text_copy`: the records are row tuples whose uuid, numeric, array and jsonb values are already
    PostgreSQL's text input (the option trades firehose, as the socket sent them, checked): COPY in
    text format, with no conversion in Python, about twice as fast as binary here (see scripts/bench);
    the server parses them, so a value it refuses fails the batch."""
    reasons, raws = _reject_columns(rejects)
    with conn.transaction():
        if records and cursor is not None:  # the common case: one statement after the COPY
            inserted, revised, new_rejects = _write_batch(
                conn, spec, records, run_id=run_id, received=received, reasons=reasons, raws=raws, scope=scope,
                cursor=cursor, text_copy=text_copy)
        else:
            inserted, revised = _insert_records(conn, spec, records, text_copy=text_copy) if records else (0, 0)
            new_rejects = _insert_rejects(conn, spec.name, run_id, reasons, raws)
            conn.execute(
                "UPDATE vvv.runs SET fetched = fetched + %s, inserted = inserted + %s, duplicates = duplicates + %s,"
                " revised = revised + %s, rejects = rejects + %s WHERE id = %s",
                (received, inserted, len(records) - inserted - revised, revised, new_rejects, run_id),
            )
            if cursor is not None:  # None: a spooled batch cut short, whose cursor must not move
                _upsert_cursor(conn, spec, scope, cursor, run_id=run_id)
    if records and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        _staged.setdefault(conn, set()).add(spec.name)  # committed: the staging table is there to stay
    return BatchResult(inserted=inserted, duplicates=len(records) - inserted - revised, revised=revised,
                       rejects=new_rejects)


def _reject_columns(rejects: Sequence[Reject]) -> tuple[list[str], list[str]]:
    """The rejects as (reasons, raw JSON texts), one per distinct raw item, the last reason winning:
    one statement cannot both insert an item and update it as seen again."""
    distinct = {json.dumps(r.raw, default=str): r.reason for r in rejects}
    return list(distinct.values()), list(distinct)


def _upsert_cursor(conn: psycopg.Connection, spec: Spec, scope: str, cursor: Any, *, run_id: int | None) -> None:
    conn.execute(
        "INSERT INTO vvv.cursors (collector, scope, position, run_id) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (collector, scope) DO UPDATE"
        " SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, updated_at = now()",
        (spec.name, scope, Jsonb(CONVERTER.unstructure(cursor)), run_id),
    )


# The staging tables each connection has committed: creating one is a round trip, and a
# rolled-back transaction takes an uncommitted one with it, so only committed ones count.
_staged: weakref.WeakKeyDictionary[psycopg.Connection, set[str]] = weakref.WeakKeyDictionary()


@frozen
class _Statements:
    """The SQL of one collector's batch write, composed once per process."""

    create: sql.Composed
    copy: sql.Composed
    copy_text: sql.Composed
    insert: sql.Composed
    batch: sql.Composed
    types: tuple[str, ...]
    text_types: tuple[str, ...]  # for `text_copy`: what the rows hand as PostgreSQL's text input, dumped as text


_statements: dict[Spec, _Statements] = {}
_AS_TEXT = ("uuid", "numeric", "jsonb")


def _statements_for(spec: Spec) -> _Statements:
    if spec not in _statements:
        schema, table = spec.table.split(".")
        staging = sql.Identifier(f"_vvv_batch_{spec.name}")
        columns = sql.SQL(", ").join(map(sql.Identifier, spec.column_names))
        write = sql.SQL(_REVISE if spec.revisable else _INSERT).format(**_write_parts(spec, staging))
        _statements[spec] = _Statements(
            # CREATE ... AS copies the column types but none of the constraints or defaults.
            create=sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {}"
                           " WITH NO DATA").format(staging, columns, sql.Identifier(schema, table)),
            copy=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staging, columns),
            copy_text=sql.SQL("COPY {} ({}) FROM STDIN").format(staging, columns),
            insert=sql.SQL("WITH {} SELECT new_rows, revised FROM written").format(write),
            batch=sql.SQL(_BATCH).format(write=write, rejected=sql.SQL(_REJECTS)),
            types=tuple(column.type for column in spec.columns),
            text_types=tuple("text" if column.type in _AS_TEXT or column.type.endswith("[]") else column.type
                             for column in spec.columns),
        )
    return _statements[spec]


def _write_parts(spec: Spec, staging: sql.Identifier) -> dict[str, sql.Composable]:
    """The identifiers `_INSERT` and `_REVISE` are written with; values are the non-key columns."""
    schema, table = spec.table.split(".")
    values = [name for name in spec.column_names if name not in spec.key]

    def row(alias: str, names: Sequence[str]) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(alias, name) for name in names)

    return {
        "table": sql.Identifier(schema, table),
        "staging": staging,
        "columns": sql.SQL(", ").join(map(sql.Identifier, spec.column_names)),
        "keys": sql.SQL(", ").join(map(sql.Identifier, spec.key)),
        "values": sql.SQL(", ").join(map(sql.Identifier, values)),
        "s_values": row("s", values),
        "t_values": row("t", values),
        "c_values": row("c", values),
        "excluded_values": row("excluded", values),
        "c_key": sql.Identifier(spec.key[0]),
        "c_match": sql.SQL(" AND ").join(sql.SQL("{} = {}").format(sql.Identifier("c", k), sql.Identifier("s", k))
                                         for k in spec.key),
        "old_key": sql.SQL(" || ' ' || ").join(sql.SQL("{}::text").format(sql.Identifier(k)) for k in spec.key),
        "collector": sql.Literal(spec.name),
    }


# An insert-only data set: a record stored before is a duplicate, whatever its content.
_INSERT = """
new AS (
    INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT ({keys}) DO NOTHING RETURNING 1
), written AS (
    SELECT count(*)::bigint AS new_rows, 0::bigint AS revised FROM new
)"""

# A revisable data set: `staged` looks each staged row's current version up once, before any is
# replaced (every part of one statement sees the same snapshot); unchanged rows are left out of
# the INSERT, so they take neither a row lock nor a write, and each replaced one is kept whole.
# The look-up is a LATERAL ... LIMIT 1, which is always one index probe per staged row: a plain
# join, prepared while the table was small, would keep a plan that reads the whole table.
_REVISE = """
staged AS (
    SELECT s.*, c.{c_key} IS NULL AS _vvv_new, ({c_values}) IS DISTINCT FROM ({s_values}) AS _vvv_changed,
        CASE WHEN ({c_values}) IS DISTINCT FROM ({s_values}) THEN to_jsonb(c) END AS _vvv_current
    FROM {staging} s LEFT JOIN LATERAL (SELECT * FROM {table} c WHERE {c_match} LIMIT 1) c ON true
), changed AS (
    INSERT INTO {table} AS t ({columns}) SELECT {columns} FROM staged WHERE _vvv_new OR _vvv_changed
    ON CONFLICT ({keys}) DO UPDATE SET ({values}) = ROW({excluded_values}), collected_at = now()
    WHERE ({t_values}) IS DISTINCT FROM ({excluded_values})
    RETURNING t.xmax = 0 AS new
), kept AS (
    INSERT INTO vvv.revisions (collector, key, old_row)
    SELECT {collector}, {old_key}, _vvv_current FROM staged WHERE NOT _vvv_new AND _vvv_changed
), written AS (
    SELECT count(*) FILTER (WHERE new)::bigint AS new_rows, count(*) FILTER (WHERE NOT new)::bigint AS revised
    FROM changed
)"""

# The rejects, once per raw item: one seen before only has its last_seen (and reason) updated.
# xmax is 0 on a row this statement inserted, and the updating transaction's id on one it updated.
_REJECTS = """
rejected AS (
    INSERT INTO vvv.rejects AS r (collector, run_id, reason, raw)
    SELECT %(collector)s, %(run_id)s, u.reason, u.raw FROM unnest(%(reasons)s::text[], %(raws)s::text[]) AS u (reason, raw)
    ON CONFLICT (collector, raw_md5) DO UPDATE SET last_seen = now(), reason = EXCLUDED.reason
    RETURNING r.xmax = 0 AS new
), new_rejects AS (
    SELECT count(*) FILTER (WHERE new)::bigint AS n FROM rejected
)"""

# The staged rows into the table, the rejects, their counts onto the run, and the cursor: one round trip.
_BATCH = """
WITH {write}, {rejected}, run AS (
    UPDATE vvv.runs r SET fetched = r.fetched + %(received)s, inserted = r.inserted + written.new_rows,
        revised = r.revised + written.revised,
        duplicates = r.duplicates + %(records)s - written.new_rows - written.revised, rejects = r.rejects + new_rejects.n
    FROM written, new_rejects WHERE r.id = %(run_id)s
), saved AS (
    INSERT INTO vvv.cursors (collector, scope, position, run_id) VALUES (%(collector)s, %(scope)s, %(position)s, %(run_id)s)
    ON CONFLICT (collector, scope) DO UPDATE SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, updated_at = now()
)
SELECT new_rows, revised, n FROM written, new_rejects
"""


def _write_batch(conn: psycopg.Connection, spec: Spec, records: Sequence[Any], *, run_id: int, received: int,
                 reasons: list[str], raws: list[str], scope: str, cursor: Any,
                 text_copy: bool = False) -> tuple[int, int, int]:
    """COPY into the staging table, then the one statement of `_BATCH`: new rows, revised rows, new rejects."""
    statements = _statements_for(spec)
    with conn.cursor() as cur:
        _copy_records(cur, conn, spec, statements, records, text_copy=text_copy)
        params = {"received": received, "records": len(records), "reasons": reasons, "raws": raws,
                  "run_id": run_id, "collector": spec.name, "scope": scope,
                  "position": Jsonb(CONVERTER.unstructure(cursor))}
        return cur.execute(statements.batch, params, prepare=True).fetchone()


def _copy_records(cur: psycopg.Cursor, conn: psycopg.Connection, spec: Spec, statements: _Statements,
                  records: Sequence[Any], *, text_copy: bool = False) -> None:
    if spec.name not in _staged.get(conn, ()):
        cur.execute(statements.create)
    if spec.revisable:  # one version per key: a row cannot be replaced twice by one statement
        records = _last_per_key(spec, records)
    with cur.copy(statements.copy_text if text_copy else statements.copy) as copy:
        copy.set_types(statements.text_types if text_copy else statements.types)
        for record in records:  # a stream's firehose hands its rows as tuples already, in column order
            copy.write_row(record if type(record) is tuple else record_row(record))


def _last_per_key(spec: Spec, records: Sequence[Any]) -> Sequence[Any]:
    """The last version of each key in `records`, in their order; `records` itself when keys are unique."""
    key = operator.attrgetter(*spec.key)
    latest = {key(record): record for record in records}
    return records if len(latest) == len(records) else list(latest.values())


def _insert_records(conn: psycopg.Connection, spec: Spec, records: Sequence[Any], *,
                    text_copy: bool = False) -> tuple[int, int]:
    """Binary COPY into the staging table, then one prepared statement: new rows and revised rows."""
    statements = _statements_for(spec)
    with conn.cursor() as cur:
        _copy_records(cur, conn, spec, statements, records, text_copy=text_copy)
        return cur.execute(statements.insert, prepare=True).fetchone()


_INSERT_REJECTS = sql.SQL("WITH {} SELECT n FROM new_rejects").format(sql.SQL(_REJECTS))


def _insert_rejects(conn: psycopg.Connection, collector: str, run_id: int, reasons: list[str], raws: list[str]) -> int:
    """Keep the rejects (once each): how many were never seen before."""
    if not raws:
        return 0
    params = {"collector": collector, "run_id": run_id, "reasons": reasons, "raws": raws}
    return conn.execute(_INSERT_REJECTS, params).fetchone()[0]


def note_run(conn: psycopg.Connection, run_id: int, *, note: str | None = None, error: str | None = None) -> None:
    """Add a note (a gap) or set the error of a run still going, so `vvv status` shows it before the run ends."""
    with conn.transaction():
        conn.execute(
            "UPDATE vvv.runs SET notes = CASE WHEN %(note)s::text IS NULL THEN notes"
            " ELSE concat_ws('; ', notes, %(note)s::text) END, error = coalesce(%(error)s, error) WHERE id = %(id)s",
            {"note": note, "error": error, "id": run_id},
        )


def describe_db_error(error: Exception) -> str:
    """The first line of a database error: the DETAIL lines may quote row data."""
    lines = str(error).strip().splitlines()
    return f"database error: {lines[0] if lines else error.__class__.__name__}"
