"""Streaming: a pass holds one page of records at a time, counts the requests it makes ahead,
and the binary COPY path stores every value a record may hold exactly as it was."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, darkpool
from vvv.config import CollectorConfig
from vvv.core.base import record_row
from vvv.core.paging import SweepCursor
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.run.runner import run_once

DARKPOOL = COLLECTORS["darkpool"]
NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=2)


def _config(**options) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=darkpool.Settings(**options))


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=1500, per_minute_limit=10_000) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    yield http
    http.close()


def _runs_requests(conn: psycopg.Connection, run_id: int) -> int:
    requests = conn.execute("SELECT requests FROM vvv.runs WHERE id = %s", (run_id,)).fetchone()[0]
    conn.rollback()
    return requests


def test_a_pass_holds_one_page_of_records_however_long_the_day(conn, client, api, monkeypatch) -> None:
    """Every record parsed is tracked; when a batch is stored, only that page's may still be alive."""
    parsed: list[weakref.ref] = []
    held: list[int] = []

    def build(raw, values, extra, partition):
        record = darkpool.Trade(*values, extra)
        parsed.append(weakref.ref(record))
        return record

    real_store = store.store_batch

    def store_batch(conn, spec, **batch):
        gc.collect()
        held.append(sum(ref() is not None for ref in parsed))
        return real_store(conn, spec, **batch)

    monkeypatch.setattr(store, "store_batch", store_batch)
    collector = attrs.evolve(DARKPOOL, build=build)
    result = run_once(collector, _config(tickers=["SPY"], page_size=50, max_pages=1000), conn=conn, client=client,
                      clock=lambda: LATER)
    assert result.status == "ok", result.error
    assert result.inserted == len(api.darkpool("SPY")) > 15 * 50  # many pages...
    assert len(held) > 15 and max(held) <= 50  # ...and never more than one page's records held


def test_requests_made_ahead_are_counted_on_the_run(conn, client, api) -> None:
    before = len(api.requests)
    result = run_once(DARKPOOL, _config(tickers=["SPY", "QQQ"], page_size=100, max_pages=1000), conn=conn,
                      client=client, clock=lambda: LATER)
    assert result.status == "ok", result.error
    assert result.requests == len(api.requests) - before == _runs_requests(conn, result.run_id) > 15


def test_retries_of_a_request_made_ahead_are_counted_too(conn, api) -> None:
    patient = ApiClient(base_url=api.url, token=TOKEN, max_retries=3, sleep=lambda _: None)
    api.delay_next(0)  # the first page goes through; the next one, fetched ahead, fails twice first
    api.fail_next(503, times=2)
    before = len(api.requests)
    result = run_once(DARKPOOL, _config(tickers=["SPY"], page_size=100, max_pages=1000), conn=conn, client=patient,
                      clock=lambda: LATER)
    patient.close()
    assert result.status == "ok", result.error
    assert result.requests == len(api.requests) - before == _runs_requests(conn, result.run_id)


def test_a_request_in_flight_when_a_store_fails_is_counted_and_the_pass_is_partial(conn, client, api,
                                                                                   monkeypatch) -> None:
    real_store, calls = store.store_batch, []

    def failing_second(conn, spec, **batch):
        calls.append(1)
        if len(calls) == 2:
            raise psycopg.errors.DiskFull("could not extend file")
        return real_store(conn, spec, **batch)

    monkeypatch.setattr(store, "store_batch", failing_second)
    before = len(api.requests)
    result = run_once(DARKPOOL, _config(tickers=["SPY"], page_size=100, max_pages=1000), conn=conn, client=client,
                      clock=lambda: LATER)
    assert (result.status, result.inserted) == ("partial", 100)
    assert result.requests == len(api.requests) - before == 3  # the second page's, and the third's made ahead


def test_a_pass_stopped_between_pages_sends_at_most_the_request_made_ahead(conn, client, api) -> None:
    pages: list[int] = []
    real_store = store.store_batch

    def counting(conn, spec, **batch):
        pages.append(1)
        return real_store(conn, spec, **batch)

    before = len(api.requests)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "store_batch", counting)
        result = run_once(DARKPOOL, _config(tickers=["SPY"], page_size=100, max_pages=1000), conn=conn,
                          client=client, clock=lambda: LATER, stopping=lambda: len(pages) >= 3)
    assert "shutting down" in result.error
    assert result.fetched == 300
    assert len(api.requests) - before == result.requests == 4  # the fourth page was asked for before the stop


def test_the_staging_table_outlives_a_rolled_back_first_batch(conn) -> None:
    run_id = store.start_run(conn, "darkpool")
    first, second = _trade(1), _trade(2)
    with pytest.raises(ZeroDivisionError):
        with conn.transaction():  # an outer transaction, rolled back with the staging table it created
            _store(conn, run_id, [first])
            raise ZeroDivisionError
    assert _store(conn, run_id, [second]).inserted == 1
    assert _store(conn, run_id, [first, second]) == store.BatchResult(inserted=1, duplicates=1)


def _trade(tracking_id: int, **fields) -> darkpool.Trade:
    values = dict(
        tracking_id=tracking_id, executed_at=NOW, ticker="SPY", price=Decimal("1.5"), size=1, premium=None,
        volume=None, nbbo_bid=None, nbbo_ask=None, nbbo_bid_quantity=None, nbbo_ask_quantity=None,
        market_center=None, canceled=None, ext_hour_sold_codes=None, sale_cond_codes=None, trade_code=None,
        trade_settlement=None, trf_executed_at=None, created_at=None, extra={},
    )
    return darkpool.Trade(**{**values, **fields})


def _store(conn: psycopg.Connection, run_id: int, records: list) -> store.BatchResult:
    return store.store_batch(conn, darkpool.SPEC, run_id=run_id, records=records, rejects=[], received=len(records),
                             cursor=SweepCursor(), scope="SPY")


# Anything validate lets through: text without NUL or lone surrogates, any finite NUMERIC,
# any aware time, JSON of every shape in `extra`.
_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=30)
_decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.sampled_from(
    [Decimal("-0"), Decimal("1E+300"), Decimal("1E-300"), Decimal("123456789012345678901234567890.000000000001"),
     Decimal("0.10"), Decimal("1.000")])
_times = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC))
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=8,
)
_bigints = st.integers(-(2**63), 2**63 - 1)


@st.composite
def trades(draw: st.DrawFn, tracking_id: int) -> darkpool.Trade:
    maybe = st.none().__or__
    return _trade(
        tracking_id, executed_at=draw(_times), ticker=draw(_text), price=draw(_decimals), size=draw(_bigints),
        premium=draw(maybe(_decimals)), volume=draw(maybe(_bigints)), nbbo_bid=draw(maybe(_decimals)),
        nbbo_ask=draw(maybe(_decimals)), nbbo_bid_quantity=draw(maybe(_bigints)), canceled=draw(maybe(st.booleans())),
        market_center=draw(maybe(_text)), sale_cond_codes=draw(maybe(_text)), trade_settlement=draw(maybe(_text)),
        trf_executed_at=draw(maybe(_times)), created_at=draw(maybe(_times)),
        extra=draw(st.dictionaries(_text, _json, max_size=4)),
    )


@given(batch=st.lists(st.integers(1, 10**6), unique=True, max_size=8).flatmap(
    lambda ids: st.tuples(*(trades(i) for i in ids))))
def test_binary_copy_stores_every_value_exactly(conn: psycopg.Connection, batch: tuple) -> None:
    conn.execute("TRUNCATE trading.darkpool_trades")
    conn.commit()
    run_id = store.start_run(conn, "darkpool")
    assert _store(conn, run_id, list(batch)).inserted == len(batch)
    columns = ", ".join(darkpool.SPEC.column_names)
    rows = conn.execute(f"SELECT {columns} FROM trading.darkpool_trades ORDER BY tracking_id").fetchall()
    conn.rollback()
    assert [_numbers_as_decimals(row) for row in rows] == [
        _numbers_as_decimals(record_row(r)) for r in sorted(batch, key=lambda r: r.tracking_id)]


def _numbers_as_decimals(value):
    """jsonb keeps a JSON number as NUMERIC: 7.001933822265433e16 comes back as the integer it spells."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _numbers_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(map(_numbers_as_decimals, value))
    return value
