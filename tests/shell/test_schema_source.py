"""The record class is the one source of a table's shape: the migrations, applied to a real
PostgreSQL, make for each collector exactly the table its record class describes (its columns,
their types and nullability; the order may differ, as a later migration adds a column at the
end and the store names every column), and `vvv check` reads the same expectation from the record."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import attrs
import psycopg
import pytest
from attrs import frozen

from vvv.collectors import COLLECTORS
from vvv.core.convert import JsonObject
from vvv.core.schema import PG_TYPE, Column, columns
from vvv.io import migrate
from vvv.ops import check

# Columns a table has beyond its record: written by PostgreSQL, never by a record.
_STORE_COLUMNS = {"collected_at": ("timestamp with time zone", False)}

_TABLE = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""


@pytest.fixture
def migrated(empty_db_url: str) -> psycopg.Connection:
    with psycopg.connect(empty_db_url) as conn:
        migrate.migrate(conn, migrate.discover(migrate.sql_dir()))
        yield conn


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_each_collectors_table_is_its_record_class(migrated: psycopg.Connection, name: str) -> None:
    spec = COLLECTORS[name].spec
    table = {name: (type_, nullable) for name, type_, nullable in migrated.execute(_TABLE, (spec.table,))}
    assert table, f"no table {spec.table}"
    assert table == {c.name: (c.type, c.nullable) for c in columns(spec.record)} | _STORE_COLUMNS


def test_check_reads_its_expectation_from_the_records(migrated: psycopg.Connection) -> None:
    specs = [c.spec for c in COLLECTORS.values()]
    assert check.problems(migrated, specs) == []
    migrated.execute("ALTER TABLE trading.darkpool_trades ALTER COLUMN premium SET NOT NULL")
    migrated.execute("ALTER TABLE trading.news_headlines ALTER COLUMN tags TYPE jsonb USING to_jsonb(tags)")
    migrated.commit()
    assert check.problems(migrated, specs) == [
        "column trading.news_headlines.tags has type jsonb, expected text[]",
        "column trading.darkpool_trades.premium is NOT NULL, but vvv stores null in it",
    ]


@frozen
class _Row:
    number: Decimal
    count: int
    at: datetime
    day: date | None
    text: str
    flag: bool | None
    tags: tuple[str, ...]
    names: list[str] | None
    doc: JsonObject
    uid: str = attrs.field(metadata={PG_TYPE: "uuid"})


def test_types_map_from_the_annotations_and_metadata_overrides_them() -> None:
    assert columns(_Row) == (
        Column("number", "numeric"), Column("count", "bigint"), Column("at", "timestamp with time zone"),
        Column("day", "date", nullable=True), Column("text", "text"), Column("flag", "boolean", nullable=True),
        Column("tags", "text[]"), Column("names", "text[]", nullable=True), Column("doc", "jsonb"),
        Column("uid", "uuid"),
    )


@frozen
class _Unmapped:
    ratio: float


def test_a_field_without_a_postgresql_type_is_named() -> None:
    with pytest.raises(TypeError, match=r"_Unmapped.ratio: no PostgreSQL type"):
        columns(_Unmapped)
