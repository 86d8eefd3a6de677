"""`vvv check`: does the live database have what every collector and the runner need?

The expectation comes from the specs (tables, keys) and their record classes (columns, types,
nullability: `vvv.core.schema`), not from the migration files, so a table changed by hand is
caught and named precisely.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from vvv.core.base import Spec
from vvv.core.schema import Column


def _core(unique: tuple[str, ...], /, **types: str) -> tuple[tuple[Column, ...], tuple[str, ...]]:
    """A core table's columns, declared here (no record class writes them), and its key."""
    return tuple(Column(name, type_) for name, type_ in types.items()), unique


_TS = "timestamp with time zone"
CORE_TABLES: dict[str, tuple[tuple[Column, ...], tuple[str, ...]]] = {
    "vvv.schema_migrations": _core(("name",), name="text", checksum="text"),
    "vvv.runs": _core(("id",), id="bigint", collector="text", started_at=_TS, finished_at=_TS, status="text",
                      requests="integer", fetched="integer", inserted="integer", duplicates="integer",
                      rejects="integer", revised="integer", error="text", api_budget="jsonb"),
    "vvv.cursors": _core(("collector", "scope"), collector="text", scope="text", position="jsonb"),
    # A reject is kept once per collector and raw item: the store's ON CONFLICT needs that unique index.
    "vvv.rejects": _core(("collector", "raw_md5"), collector="text", run_id="bigint", reason="text", raw="text",
                         raw_md5="uuid", rejected_at=_TS, last_seen=_TS),
    "vvv.revisions": _core(("id",), collector="text", key="text", old_row="jsonb", replaced_at=_TS),
}

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""
_UNIQUE_KEYS = """
SELECT array_agg(a.attname::text ORDER BY a.attname)
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indpred IS NULL
GROUP BY i.indexrelid
"""


def problems(conn: psycopg.Connection, specs: Iterable[Spec]) -> list[str]:
    """Every mismatch as one sentence; empty when the schema is fine."""
    expected = dict(CORE_TABLES)
    expected.update({s.table: (s.columns, s.key) for s in specs})
    found = []
    for table, (columns, key) in expected.items():
        found.extend(table_problems(conn, table, columns, key))
    conn.rollback()
    return found


def table_problems(conn: psycopg.Connection, table: str, columns: Iterable[Column], key: tuple[str, ...]) -> list[str]:
    actual = {name: (type_, not_null) for name, type_, not_null in conn.execute(_COLUMNS, (table,)).fetchall()}
    if not actual:
        return [f"table {table} is missing"]
    found = []
    for column in columns:
        if column.name not in actual:
            found.append(f"column {table}.{column.name} is missing (expected {column.type})")
        elif actual[column.name][0] != column.type:
            found.append(f"column {table}.{column.name} has type {actual[column.name][0]}, expected {column.type}")
        elif column.nullable and actual[column.name][1] and column.name not in key:
            found.append(f"column {table}.{column.name} is NOT NULL, but vvv stores null in it")
    unique_keys = {tuple(row[0]) for row in conn.execute(_UNIQUE_KEYS, (table,)).fetchall()}
    if tuple(sorted(key)) not in unique_keys:
        found.append(f"table {table} has no primary key or unique index on ({', '.join(key)})")
    return found
