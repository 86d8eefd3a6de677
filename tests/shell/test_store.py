"""The store: idempotent batches, and rows, rejects, counters and cursor committed together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import DSN_PASSWORD
from vvv.collectors import COLLECTORS, news
from vvv.core.base import Reject, validate_all
from vvv.core.paging import PageCursor
from vvv.io import store

_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1, max_size=40)


@st.composite
def headlines(draw: st.DrawFn) -> news.Headline:
    created = draw(st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)))
    source, text = draw(_text), draw(_text)
    return news.Headline(
        id=news.headline_id(source=source, headline=text, created_at=created),
        created_at=created,
        headline=text,
        source=source,
        is_major=draw(st.none() | st.booleans()),
        sentiment=draw(st.none() | _text),
        tags=draw(st.none() | st.lists(_text, max_size=3)),
        tickers=draw(st.none() | st.lists(st.from_regex(r"[A-Z]{1,5}", fullmatch=True), max_size=3)),
        meta=draw(st.none() | st.dictionaries(_text, st.integers() | _text, max_size=2)),
        extra=draw(st.dictionaries(_text, st.none() | st.booleans() | _text, max_size=2)),
    )


def _table(conn: psycopg.Connection) -> list[tuple]:
    columns = ", ".join(news.SPEC.column_names)
    rows = conn.execute(f"SELECT {columns} FROM trading.news_headlines ORDER BY id").fetchall()
    conn.rollback()
    return rows


def _store(conn: psycopg.Connection, run_id: int, records: list, rejects: list[Reject] = ()) -> store.BatchResult:
    return store.store_batch(
        conn,
        news.SPEC,
        run_id=run_id,
        records=records,
        rejects=list(rejects),
        received=len(records) + len(rejects),
        cursor=PageCursor(newest=max((r.created_at for r in records), default=None)),
    )


@given(batch=st.lists(headlines(), max_size=12))
def test_storing_a_batch_twice_leaves_the_table_as_storing_it_once(conn: psycopg.Connection, batch: list) -> None:
    conn.execute("DELETE FROM trading.news_headlines")
    conn.commit()
    run_id = store.start_run(conn, "news")
    first = _store(conn, run_id, batch)
    once = _table(conn)
    second = _store(conn, run_id, batch)
    unique = len({r.id for r in batch})
    assert _table(conn) == once
    assert len(once) == unique
    assert (first.inserted, first.duplicates) == (unique, len(batch) - unique)
    assert (second.inserted, second.duplicates) == (0, len(batch))


@given(record=headlines())
def test_stored_values_read_back_exactly(conn: psycopg.Connection, record: news.Headline) -> None:
    conn.execute("DELETE FROM trading.news_headlines")
    conn.commit()
    _store(conn, store.start_run(conn, "news"), [record])
    (row,) = _table(conn)
    assert row == tuple(getattr(record, c) for c in news.SPEC.column_names)


def test_rows_rejects_counters_and_cursor_commit_together(conn: psycopg.Connection) -> None:
    now = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)
    good = news.Headline(
        id="a", created_at=now, headline="h", source="s", is_major=None, sentiment=None,
        tags=None, tickers=None, meta=None, extra={},
    )
    run_id = store.start_run(conn, "news")
    result = _store(conn, run_id, [good], [Reject({"headline": None}, "headline: expected a string")])
    assert result == store.BatchResult(inserted=1, duplicates=0, rejects=1)
    assert store.load_cursor(conn, news.SPEC) == PageCursor(newest=now)
    reject = conn.execute("SELECT reason, raw, run_id FROM vvv.rejects").fetchone()
    assert reject == ("headline: expected a string", '{"headline": null}', run_id)
    counters = conn.execute("SELECT fetched, inserted, duplicates, rejects FROM vvv.runs WHERE id = %s", (run_id,))
    assert counters.fetchone() == (2, 1, 0, 1)


def test_a_failed_batch_moves_neither_rows_nor_cursor(conn: psycopg.Connection) -> None:
    start = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)
    run_id = store.start_run(conn, "news")
    first = news.Headline(
        id="a", created_at=start, headline="h", source="s", is_major=None, sentiment=None,
        tags=None, tickers=None, meta=None, extra={},
    )
    _store(conn, run_id, [first])
    broken = news.Headline(
        id="b", created_at=start + timedelta(minutes=1), headline=None, source="s",  # NOT NULL violation
        is_major=None, sentiment=None, tags=None, tickers=None, meta=None, extra={},
    )
    with pytest.raises(psycopg.errors.NotNullViolation):
        _store(conn, run_id, [broken])
    conn.rollback()
    assert [r[0] for r in _table(conn)] == ["a"]
    assert store.load_cursor(conn, news.SPEC) == PageCursor(newest=start)


def test_a_cursor_never_saved_reads_as_none(conn: psycopg.Connection) -> None:
    assert store.load_cursor(conn, news.SPEC) is None
    assert store.load_cursor(conn, news.SPEC, "SPY") is None


def test_unreachable_database_is_one_clear_line() -> None:
    url = f"postgresql://vvv:{DSN_PASSWORD}@127.0.0.1:1/vvv"
    with pytest.raises(store.DatabaseUnavailable) as caught:
        store.connect(url, statement_timeout_s=5, connect_timeout_s=2)
    message = str(caught.value)
    assert "cannot connect to the database" in message
    assert DSN_PASSWORD not in message
    assert "\n" not in message


def test_prune_keeps_recent_and_running_runs_and_what_points_at_old_ones(conn: psycopg.Connection) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    for started, status_ in [(now - timedelta(days=100), "ok"), (now - timedelta(days=100), "running"),
                             (now - timedelta(days=1), "ok")]:
        conn.execute("INSERT INTO vvv.runs (collector, started_at, status) VALUES ('news', %s, %s)", (started, status_))
    conn.execute("INSERT INTO vvv.rejects (collector, run_id, reason, raw) VALUES ('news', 1, 'r', '{}')")
    conn.commit()
    assert store.prune(conn, before=now - timedelta(days=90)) == 1
    assert [r[0] for r in conn.execute("SELECT id FROM vvv.runs ORDER BY id")] == [2, 3]
    assert conn.execute("SELECT run_id FROM vvv.rejects").fetchone() == (None,)  # the reject itself is kept


_hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["'; DROP TABLE trading.news_headlines; --", "\\\\N", "\\\\", "\\t\\n", "$$ $tag$", '"', "\x00",
                     "Ω≈ç√ 🐳", "\\u0000", "%s %(x)s {}", "\ud800"]),
)


@given(headline=_hostile_text, source=_hostile_text, tag=_hostile_text, key=_hostile_text)
def test_hostile_text_is_stored_byte_for_byte_or_rejected_with_a_reason(
    conn: psycopg.Connection, headline: str, source: str, tag: str, key: str
) -> None:
    """Quotes, backslashes, SQL, COPY escapes and unicode survive; what PostgreSQL cannot store is a reject."""
    conn.execute("DELETE FROM trading.news_headlines; DELETE FROM vvv.rejects")
    conn.commit()
    item = {"created_at": "2026-01-02T15:00:00Z", "headline": headline, "source": source, "tags": [tag],
            "meta": {key: tag}, key or "k": headline}
    records, rejects = news.COLLECTOR.parse({"data": [item]})
    good, bad = validate_all(COLLECTORS["news"], records, datetime(2026, 1, 3, tzinfo=UTC),
                             payload={"data": [item]}, rejects=rejects)
    run_id = store.start_run(conn, "news")
    store.store_batch(conn, news.SPEC, run_id=run_id, records=good, rejects=[*rejects, *bad], received=1,
                      cursor=PageCursor())
    stored = conn.execute("SELECT headline, source, tags, meta, extra FROM trading.news_headlines").fetchall()
    reasons = [r[0] for r in conn.execute("SELECT reason FROM vvv.rejects")]
    conn.rollback()
    if good:
        (record,) = good
        assert stored == [(record.headline, record.source, record.tags, record.meta, record.extra)]
        assert (record.headline, record.source) == (headline, source)
    else:
        assert stored == [] and len(reasons) == 1 and reasons[0]
