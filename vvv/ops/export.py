"""`vvv export`: a trading.* or vvv.* table (or view) to CSV, JSON lines or Parquet, streamed.

CSV is PostgreSQL's own `COPY (...) TO STDOUT`, written to the file by psql's `\\copy` (the
embedded PostgreSQL's psql, at C speed); JSON lines and Parquet read a server-side cursor in
batches. Memory stays flat in the table's size. No statement timeout applies. The session runs
in UTC, so every time is written in UTC; `--from`/`--to` are New York days of the table's time
column (the collector's, else a date column `day`, else its first timestamptz column).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vvv.errors import UsageError

BATCH_ROWS = 10_000
_NAME = re.compile(r"^(trading|vvv)\.([a-z_][a-z0-9_]*)$")
_EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}


def export(conn: psycopg.Connection, *, table: str, start: date | None, end: date | None, fmt: str, out: str,
           by_day: bool = False, progress: bool = False) -> list[dict[str, Any]]:
    """Write the rows and return `[{"path", "rows"}]`, one per file written."""
    if fmt == "parquet":
        _require_pyarrow()
    schema, name = _check_table(conn, table)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute("SET statement_timeout = 0")  # the numeric digits' scan and the COPY take what they take
    conn.commit()
    time_column = _time_column(conn, schema, name) if (start or end or by_day) else None
    if (start or end or by_day) and time_column is None:
        raise UsageError(f"{table} has no time column: --from, --to and --by-day need one")
    if start and end and end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    meter = _Progress(enabled=progress)
    if not by_day:
        whole = start is None and end is None and _is_plain_table(conn, schema, name)
        query = _select(schema, name, time_column, start, end)
        # COPY of a plain table reads it straight, faster than COPY of the same rows as a query
        written = [_write(conn, query, Path(out), fmt, meter, table=(schema, name) if whole else None)]
        meter.done()
        return written
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for day in _days(conn, schema, name, time_column, start, end):
        path = directory / f"{schema}.{name}-{day}.{_EXTENSIONS[fmt]}"
        item = _write(conn, _select(schema, name, time_column, day, day), path, fmt, meter)
        if item["rows"]:
            written.append(item)
        else:
            path.unlink()  # a weekend or a holiday: no file
    meter.done()
    return written


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UsageError("--format parquet needs pyarrow, which is not installed: pip install 'vvv[parquet]'"
                         " (the single executable has none: export csv or jsonl there)") from None


def _check_table(conn: psycopg.Connection, table: str) -> tuple[str, str]:
    match = _NAME.match(table)
    if match is None:
        raise UsageError(f"--table {table!r}: only trading.* and vvv.* tables can be exported (e.g. trading.darkpool_trades)")
    found = conn.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm')",
        (match[1], match[2]),
    ).fetchone()
    conn.rollback()
    if found is None:
        raise UsageError(f"--table {table}: no such table or view")
    return match[1], match[2]


def _time_column(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    from vvv.collectors import COLLECTORS

    for collector in COLLECTORS.values():
        if collector.spec.table == f"{schema}.{name}":
            return collector.spec.time_column
    columns = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (f"{schema}.{name}",),
    ).fetchall()
    conn.rollback()
    for column, kind in columns:
        if column == "day" and kind == "date":
            return column
    return next((column for column, kind in columns if kind == "timestamp with time zone"), None)


def _select(schema: str, name: str, column: str | None, start: date | None, end: date | None) -> sql.Composed:
    """The rows of New York days start..end, in the table's order (a sort would cost what COPY saves)."""
    where: list[sql.Composable] = []
    col = sql.Identifier(column) if column else None
    if start is not None:
        where.append(sql.SQL("{} >= {}").format(col, _ny_midnight(start)))
    if end is not None:
        where.append(sql.SQL("{} < {}").format(col, _ny_midnight(end + timedelta(days=1))))
    query = sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    return query


def _ny_midnight(day: date) -> sql.Composed:
    # Works for a date column too: the comparison casts the timestamptz back to the (UTC) session's date.
    return sql.SQL("({}::timestamp AT TIME ZONE 'America/New_York')").format(sql.Literal(day.isoformat()))


def _days(conn: psycopg.Connection, schema: str, name: str, column: str, start: date | None,
          end: date | None) -> Iterator[date]:
    if start is None or end is None:
        low, high = conn.execute(
            sql.SQL("SELECT min({c} AT TIME ZONE 'America/New_York')::date, max({c} AT TIME ZONE 'America/New_York')::date"
                    " FROM {s}.{t}").format(c=sql.Identifier(column), s=sql.Identifier(schema), t=sql.Identifier(name))
        ).fetchone()
        conn.rollback()
        if low is None:
            return
        start, end = start or low, end or high
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _is_plain_table(conn: psycopg.Connection, schema: str, name: str) -> bool:
    kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", (f"{schema}.{name}",)).fetchone()[0]
    conn.rollback()
    return kind == "r"


def _write(conn: psycopg.Connection, query: sql.Composed, path: Path, fmt: str, meter: _Progress, *,
           table: tuple[str, str] | None = None) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        source = sql.SQL("{}.{}").format(*map(sql.Identifier, table)) if table else sql.SQL("({})").format(query)
        rows = _write_csv(conn, source, path, meter)
    else:
        rows = {"jsonl": _write_jsonl, "parquet": _write_parquet}[fmt](conn, query, path, meter)
    conn.rollback()
    return {"path": str(path), "rows": rows}


def _write_csv(conn: psycopg.Connection, source: sql.Composed, path: Path, meter: _Progress) -> int:
    """PostgreSQL's COPY TO STDOUT, written to the file by the embedded PostgreSQL's own psql (`\\copy`):
    psycopg hands COPY data over a row at a time, which costs more than the COPY itself."""
    import subprocess

    from vvv.io import embedded
    from vvv.ops import query as queries

    if "'" in str(path) or "\n" in str(path):
        raise UsageError(f"--out {str(path)!r}: a CSV file name cannot hold a quote or a newline")
    select = source.as_string(conn)  # a table, or a (query)
    dsn, env = queries.psql_environment(_dsn(conn), os.environ)
    env["PGTZ"] = "UTC"  # every time written in UTC
    copy = f"\\copy {select} TO '{path.resolve()}' WITH (FORMAT csv, HEADER)"
    command = [str(embedded.psql(None)), "-X", "-v", "ON_ERROR_STOP=1", "--dbname", dsn, "-c", copy]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as psql:
        while True:
            try:
                psql.wait(timeout=0.25)  # it writes a line or two to its pipes: no deadlock
                break
            except subprocess.TimeoutExpired:
                meter.add(bytes_=path.stat().st_size - meter.bytes if path.exists() else 0)
        said = psql.stdout.read().decode().split() if psql.stdout else []
        errors = psql.stderr.read().decode("utf-8", "replace").strip().splitlines() if psql.stderr else []
    if psql.returncode != 0 or said[:1] != ["COPY"]:
        from vvv.errors import Fatal

        raise Fatal(f"database error: {errors[0] if errors else f'psql exited {psql.returncode}'}")
    return int(said[1])


def _dsn(conn: psycopg.Connection) -> str:
    """The connection's own parameters, password included, for psql."""
    from psycopg.conninfo import make_conninfo

    params = conn.info.get_parameters()
    # one statement however long the table: the last -c wins over vvv's statement_timeout
    params["options"] = f"{params.get('options', '')} -c statement_timeout=0".strip()
    password = conn.info.password
    return make_conninfo(**params, **({"password": password} if password else {}))


def _batches(conn: psycopg.Connection, query: sql.Composed) -> Iterator[tuple[list[Any], list[tuple[Any, ...]]]]:
    """The description, then the rows, BATCH_ROWS at a time, from a server-side cursor."""
    with conn.cursor(name="vvv_export") as cur:
        cur.itersize = BATCH_ROWS
        cur.execute(query)
        while True:
            rows = cur.fetchmany(BATCH_ROWS)
            if not rows:
                break
            yield list(cur.description or []), rows


def _write_jsonl(conn: psycopg.Connection, query: sql.Composed, path: Path, meter: _Progress) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as file:
        for description, rows in _batches(conn, query):
            names = [c.name for c in description]
            for row in rows:
                file.write(json.dumps(dict(zip(names, row)), default=_json_value, ensure_ascii=False) + "\n")
            count += len(rows)
            meter.add(rows=len(rows))
    return count


def _json_value(value: Any) -> Any:
    """NUMERIC as a decimal string (a float would round it), times in ISO 8601 (UTC)."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value)


def _write_parquet(conn: psycopg.Connection, query: sql.Composed, path: Path, meter: _Progress) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(conn, query)
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for _, rows in _batches(conn, query):
            columns = list(zip(*rows))
            arrays = [pa.array([_arrow_value(v, f.type) for v in col], type=f.type) for col, f in zip(columns, schema)]
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            count += len(rows)
            meter.add(rows=len(rows))
    return count


def _arrow_schema(conn: psycopg.Connection, query: sql.Composed) -> Any:
    """The Parquet columns from PostgreSQL's: NUMERIC as a decimal wide enough for every value
    (an unconstrained NUMERIC's digits are measured first), timestamptz as UTC timestamps."""
    import pyarrow as pa

    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM ({}) q LIMIT 0").format(query))
        description = list(cur.description or [])
    conn.rollback()
    names = {}
    for column in description:
        info = conn.adapters.types.get(column.type_code)
        if info is not None:  # an array's oid finds its element's type: named `_text` as in pg_type
            names[column.type_code] = info.name if info.oid == column.type_code else f"_{info.name}"
    fields = []
    measured = _numeric_digits(conn, query, [c.name for c in description if names.get(c.type_code) == "numeric"])
    for column in description:
        kind = names.get(column.type_code, "")
        if kind == "numeric":
            precision, scale = column.precision, column.scale
            if precision is None:
                whole, scale = measured[column.name]
                precision = max(whole + scale, 1)
            fields.append(pa.field(column.name, (pa.decimal128 if precision <= 38 else pa.decimal256)(precision, scale)))
        else:
            fields.append(pa.field(column.name, _ARROW.get(kind, pa.string)()))
    return pa.schema(fields)


def _numeric_digits(conn: psycopg.Connection, query: sql.Composed, columns: list[str]) -> dict[str, tuple[int, int]]:
    """Per NUMERIC column: the most digits before the point and after it, over the rows exported."""
    if not columns:
        return {}
    parts = [sql.SQL("coalesce(max(length(trunc(abs({c}))::text)), 1), coalesce(max(scale({c})), 0)").format(
        c=sql.Identifier(c)) for c in columns]
    row = conn.execute(sql.SQL("SELECT {} FROM ({}) q").format(sql.SQL(", ").join(parts), query)).fetchone()
    conn.rollback()
    return {c: (row[2 * i], row[2 * i + 1]) for i, c in enumerate(columns)}


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "int2": pa.int16, "int4": pa.int32, "int8": pa.int64, "bool": pa.bool_, "float4": pa.float32,
        "float8": pa.float64, "date": pa.date32, "timestamptz": lambda: pa.timestamp("us", tz="UTC"),
        "timestamp": lambda: pa.timestamp("us"), "_text": lambda: pa.list_(pa.string()),
        "_int8": lambda: pa.list_(pa.int64()), "bytea": pa.binary,
    }


class _LazyTypes(dict):
    def get(self, key: str, default: Any = None) -> Any:
        if not self:
            self.update(_arrow_types())
        return super().get(key, default)


_ARROW = _LazyTypes()


def _arrow_value(value: Any, kind: Any) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_string(kind) and not isinstance(value, str):
        return json.dumps(value, default=_json_value) if isinstance(value, dict | list) else str(value)
    return value


class _Progress:
    """One line on stderr, redrawn at most once a second, when stderr is a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled, self.rows, self.bytes, self.started, self.shown = enabled, 0, 0, time.monotonic(), 0.0

    def add(self, *, rows: int = 0, bytes_: int = 0) -> None:
        self.rows += rows
        self.bytes += bytes_
        if self.enabled and time.monotonic() - self.shown >= 1:
            self._draw()

    def done(self) -> None:
        """The final figures, and the line ended."""
        if self.enabled:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _draw(self) -> None:
        self.shown = now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        if self.rows:
            what = f"{self.rows:,} rows ({self.rows / elapsed:,.0f}/s)"
        else:
            what = f"{self.bytes / 2**20:,.1f} MB ({self.bytes / 2**20 / elapsed:,.1f} MB/s)"
        sys.stderr.write(f"\rexporting: {what}   ")
        sys.stderr.flush()
