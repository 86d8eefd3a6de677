"""PostgreSQL: connections, batched idempotent writes, cursors, rejects and runs.

A batch is written by binary COPY into a temporary staging table (created once per
connection and collector, emptied at each commit), then one prepared statement that moves
the staged rows into the data table (`ON CONFLICT DO NOTHING`), counts them on the run and
saves the cursor: BEGIN, the COPY, that statement and COMMIT per batch, nothing per row. The
batch's rows, its rejects, the run's counters and the collector's new cursor commit in one
transaction: a crash can never leave the cursor ahead of the data.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from attrs import frozen
from psycopg import sql
from psycopg.types.json import Jsonb, JsonbDumper

from vvv.collectors.base import Reject, Spec, record_row
from vvv.collectors.convert import CONVERTER
from vvv.config import mask_dsn
from vvv.errors import Fatal, one_line


class DatabaseUnavailable(Fatal):
    """The database cannot be reached; the message is one line for the operator."""


@frozen
class BatchResult:
    inserted: int
    duplicates: int


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
    return conn


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


def load_cursor(conn: psycopg.Connection, spec: Spec, scope: str = "") -> Any:
    """The collector's saved position (for one scope, e.g. a ticker), or None when it never ran."""
    row = conn.execute(
        "SELECT position FROM vvv.cursors WHERE collector = %s AND scope = %s", (spec.name, scope)
    ).fetchone()
    conn.commit()
    return None if row is None else CONVERTER.structure(row[0], spec.cursor)


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
) -> BatchResult:
    """Write one page's records and rejects, count them on the run, and save the cursor: atomically."""
    with conn.transaction():
        if records and cursor is not None:  # the common case: one statement after the COPY
            inserted = _write_batch(conn, spec, records, run_id=run_id, received=received, rejects=len(rejects),
                                    scope=scope, cursor=cursor)
            _insert_rejects(conn, spec.name, run_id, rejects)
        else:
            inserted = _insert_records(conn, spec, records) if records else 0
            _insert_rejects(conn, spec.name, run_id, rejects)
            conn.execute(
                "UPDATE vvv.runs SET fetched = fetched + %s, inserted = inserted + %s, duplicates = duplicates + %s,"
                " rejects = rejects + %s WHERE id = %s",
                (received, inserted, len(records) - inserted, len(rejects), run_id),
            )
            if cursor is not None:  # None: a spooled batch cut short, whose cursor must not move
                _upsert_cursor(conn, spec, scope, cursor, run_id=run_id)
    if records and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        _staged.setdefault(conn, set()).add(spec.name)  # committed: the staging table is there to stay
    return BatchResult(inserted=inserted, duplicates=len(records) - inserted)


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
    insert: sql.Composed
    batch: sql.Composed
    types: tuple[str, ...]


_statements: dict[Spec, _Statements] = {}


def _statements_for(spec: Spec) -> _Statements:
    if spec not in _statements:
        schema, table = spec.table.split(".")
        staging = sql.Identifier(f"_vvv_batch_{spec.name}")
        columns = sql.SQL(", ").join(map(sql.Identifier, spec.column_names))
        keys = sql.SQL(", ").join(map(sql.Identifier, spec.key))
        _statements[spec] = _Statements(
            # CREATE ... AS copies the column types but none of the constraints or defaults.
            create=sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS SELECT {} FROM {}"
                           " WITH NO DATA").format(staging, columns, sql.Identifier(schema, table)),
            copy=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(staging, columns),
            insert=sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO NOTHING").format(
                sql.Identifier(schema, table), columns, columns, staging, keys),
            batch=sql.SQL(_BATCH).format(table=sql.Identifier(schema, table), columns=columns, staging=staging,
                                         keys=keys),
            types=tuple(column.type for column in spec.columns),
        )
    return _statements[spec]


# The staged rows into the table, their count onto the run, and the cursor: one round trip.
_BATCH = """
WITH new AS (
    INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ON CONFLICT ({keys}) DO NOTHING RETURNING 1
), counted AS (
    SELECT count(*)::bigint AS new_rows FROM new
), run AS (
    UPDATE vvv.runs SET fetched = fetched + %(received)s, inserted = inserted + counted.new_rows,
        duplicates = duplicates + %(records)s - counted.new_rows, rejects = rejects + %(rejects)s
    FROM counted WHERE id = %(run_id)s
), saved AS (
    INSERT INTO vvv.cursors (collector, scope, position, run_id) VALUES (%(collector)s, %(scope)s, %(position)s, %(run_id)s)
    ON CONFLICT (collector, scope) DO UPDATE SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, updated_at = now()
)
SELECT new_rows FROM counted
"""


def _write_batch(conn: psycopg.Connection, spec: Spec, records: Sequence[Any], *, run_id: int, received: int,
                 rejects: int, scope: str, cursor: Any) -> int:
    """COPY into the staging table, then the one statement of `_BATCH`: the new rows' count."""
    statements = _statements_for(spec)
    with conn.cursor() as cur:
        _copy_records(cur, conn, spec, statements, records)
        params = {"received": received, "records": len(records), "rejects": rejects, "run_id": run_id,
                  "collector": spec.name, "scope": scope, "position": Jsonb(CONVERTER.unstructure(cursor))}
        return cur.execute(statements.batch, params, prepare=True).fetchone()[0]


def _copy_records(cur: psycopg.Cursor, conn: psycopg.Connection, spec: Spec, statements: _Statements,
                  records: Sequence[Any]) -> None:
    if spec.name not in _staged.get(conn, ()):
        cur.execute(statements.create)
    with cur.copy(statements.copy) as copy:
        copy.set_types(statements.types)
        for record in records:
            copy.write_row(record_row(record))


def _insert_records(conn: psycopg.Connection, spec: Spec, records: Sequence[Any]) -> int:
    """Binary COPY into the staging table, then one prepared INSERT: the new rows' count."""
    statements = _statements_for(spec)
    with conn.cursor() as cur:
        _copy_records(cur, conn, spec, statements, records)
        return cur.execute(statements.insert, prepare=True).rowcount


def _insert_rejects(conn: psycopg.Connection, collector: str, run_id: int, rejects: Sequence[Reject]) -> None:
    if not rejects:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO vvv.rejects (collector, run_id, reason, raw) VALUES (%s, %s, %s, %s)",
            [(collector, run_id, r.reason, json.dumps(r.raw, default=str)) for r in rejects],
        )


def describe_db_error(error: Exception) -> str:
    """The first line of a database error: the DETAIL lines may quote row data."""
    lines = str(error).strip().splitlines()
    return f"database error: {lines[0] if lines else error.__class__.__name__}"
