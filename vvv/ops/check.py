"""`vvv check`: does the live database have what every collector and the runner need?

The expectation comes from the specs (tables, columns, types, keys), not from the
migration files, so a table changed by hand is caught and named precisely.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from vvv.core.base import Column, Spec

CORE_TABLES: dict[str, tuple[tuple[Column, ...], tuple[str, ...]]] = {
    "vvv.schema_migrations": ((Column("name", "text"), Column("checksum", "text")), ("name",)),
    "vvv.runs": (
        tuple(
            Column(n, t)
            for n, t in [
                ("id", "bigint"),
                ("collector", "text"),
                ("started_at", "timestamp with time zone"),
                ("finished_at", "timestamp with time zone"),
                ("status", "text"),
                ("requests", "integer"),
                ("fetched", "integer"),
                ("inserted", "integer"),
                ("duplicates", "integer"),
                ("rejects", "integer"),
                ("revised", "integer"),
                ("error", "text"),
                ("api_budget", "jsonb"),
            ]
        ),
        ("id",),
    ),
    "vvv.cursors": (
        (Column("collector", "text"), Column("scope", "text"), Column("position", "jsonb")),
        ("collector", "scope"),
    ),
    # A reject is kept once per collector and raw item: the store's ON CONFLICT needs that unique index.
    "vvv.rejects": (
        (Column("collector", "text"), Column("run_id", "bigint"), Column("reason", "text"), Column("raw", "text"),
         Column("raw_md5", "uuid"), Column("rejected_at", "timestamp with time zone"),
         Column("last_seen", "timestamp with time zone")),
        ("collector", "raw_md5"),
    ),
    "vvv.revisions": (
        (Column("collector", "text"), Column("key", "text"), Column("old_row", "jsonb"),
         Column("replaced_at", "timestamp with time zone")),
        ("id",),
    ),
}

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
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
    actual = dict(conn.execute(_COLUMNS, (table,)).fetchall())
    if not actual:
        return [f"table {table} is missing"]
    found = []
    for column in columns:
        if column.name not in actual:
            found.append(f"column {table}.{column.name} is missing (expected {column.type})")
        elif actual[column.name] != column.type:
            found.append(f"column {table}.{column.name} has type {actual[column.name]}, expected {column.type}")
    unique_keys = {tuple(row[0]) for row in conn.execute(_UNIQUE_KEYS, (table,)).fetchall()}
    if tuple(sorted(key)) not in unique_keys:
        found.append(f"table {table} has no primary key or unique index on ({', '.join(key)})")
    return found
