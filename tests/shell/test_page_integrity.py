"""Pages that cannot be taken at their word: a 200 that is not a page, a page no item of which
can be read. Neither may end a sweep as if the window were read, so nothing below is skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, darkpool, options_flow
from vvv.config import CollectorConfig
from vvv.core.convert import parse_timestamp
from vvv.core.paging import SweepCursor
from vvv.io import store
from vvv.io.http import ApiClient
from vvv.ops import status
from vvv.run.runner import RunResult, run_once

DARKPOOL = COLLECTORS["darkpool"]
NOW = datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # a Tuesday night in New York: the day's 2,000 prints are out
LATER = NOW + timedelta(hours=1)
NOT_PAGES = ['{"data": null}', '{"data": "oops"}', "[1,2,3]", "null", '{"msg": "ok"}']


def _config(**options) -> CollectorConfig:
    return CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                           options=darkpool.Settings(**options))


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=2000) as fake:
        yield fake


@pytest.fixture
def client(api: FakeApi) -> Iterator[ApiClient]:
    http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None, max_retries=2)
    yield http
    http.close()


def _pass(conn: psycopg.Connection, client: ApiClient, **options) -> RunResult:
    return run_once(DARKPOOL, _config(tickers=["SPY"], **options), conn=conn, client=client, clock=lambda: LATER)


def _stored(conn: psycopg.Connection) -> set[int]:
    ids = {r[0] for r in conn.execute("SELECT tracking_id FROM trading.darkpool_trades WHERE ticker = 'SPY'")}
    conn.rollback()
    return ids


def _served(api: FakeApi) -> set[int]:
    return {int(item["tracking_id"]) for item in api.darkpool("SPY")}


def _cursor(conn: psycopg.Connection) -> SweepCursor:
    cursor = store.load_cursor(conn, DARKPOOL.spec, "SPY")
    conn.rollback()
    return cursor


@pytest.mark.parametrize("body", NOT_PAGES)
def test_a_200_that_is_not_a_page_then_a_page_loses_nothing(conn, api, client, body: str) -> None:
    api.fail_next(200, body=body)
    result = _pass(conn, client)
    assert result.status == "ok", result.error
    assert _stored(conn) == _served(api) and len(_served(api)) == 2000


@pytest.mark.parametrize("body", NOT_PAGES)
def test_a_hole_answered_only_by_bodies_that_are_not_pages_stays_owed(conn, api, client, body: str) -> None:
    cut = _pass(conn, client, max_pages=2)  # 1,000 of the day's 2,000 prints, the rest owed as a hole
    owed = _cursor(conn)
    assert cut.status == "ok" and owed.resume_before is not None
    api.fail_next(200, body=body, times=3)
    result = _pass(conn, client, max_pages=2)
    assert result.status == "failed"
    assert "got a 200 that is not a page: " + body.replace(",", ", ") in result.error
    assert _cursor(conn) == owed
    for _ in range(3):  # the fake behaves again: the hole is filled, nothing was skipped
        assert _pass(conn, client, max_pages=2).status == "ok"
    assert _stored(conn) == _served(api) and len(_stored(conn)) == 2000


# A page none of whose items can be read.

VALUE = "12/01/2026 14:00:00 ET"
STUCK = (f"SPY: a full page of 500 prints for 2026-03-10{{}} could not be read (executed_at: Invalid isoformat"
         f" string: '{VALUE}'); the sweep stops there and resumes from it next pass")


def _readable(api: FakeApi) -> set[int]:
    return {int(item["tracking_id"]) for item in api.darkpool("SPY") if item["executed_at"] != VALUE}


def _problems(conn: psycopg.Connection) -> list[str]:
    report = status.collect_status(conn, [(DARKPOOL.spec, _config(tickers=["SPY"]))], now=LATER)
    conn.rollback()
    return report["problems"]


@pytest.mark.parametrize("every", [1, 10], ids=["burst-gone", "burst-partly-readable"])
def test_an_unreadable_burst_on_a_first_pass_stops_it_there_until_it_can_be_read(conn, every: int) -> None:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=50) as api:
        http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
        below = _readable(api)
        api.unreadable_darkpool("SPY", 600, executed_at=VALUE)  # above the day's readable prints
        for _ in range(2):  # not ok with nothing stored, pass after pass: it says why, and status pages
            result = _pass(conn, http)
            assert (result.status, result.inserted, result.error) == ("failed", 0, STUCK.format(""))
            assert any(STUCK.format("") in problem for problem in _problems(conn))
        assert api.mend_darkpool("SPY", every=every) == 600 // every
        result = _pass(conn, http)
        http.close()
    assert result.status == "ok", result.error
    assert _stored(conn) == _readable(api) and len(_readable(api)) == len(below) + 600 // every
    assert below and below <= _stored(conn)
    assert _problems(conn) == []


@pytest.mark.parametrize("every", [1, 10], ids=["burst-gone", "burst-partly-readable"])
def test_an_unreadable_burst_above_a_cursor_never_costs_the_prints_below_it(conn, every: int) -> None:
    with FakeApi(token=TOKEN, seed=5, now=NOW, darkpool_count=100) as api:
        http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
        assert _pass(conn, http).status == "ok"
        below = {int(item["tracking_id"]) for item in api.add_darkpool("SPY", 50)}
        api.unreadable_darkpool("SPY", 600, executed_at=VALUE)
        above = {int(item["tracking_id"]) for item in api.add_darkpool("SPY", 10)}
        stuck = _pass(conn, http)
        assert stuck.status == "partial"
        assert stuck.error.startswith("SPY: a full page of 500 prints for 2026-03-10 older than ")
        assert stuck.error.endswith(STUCK.format("").split(" could not")[1])
        assert above <= _stored(conn) and not below & _stored(conn)
        kept = _cursor(conn)
        again = _pass(conn, http)  # still stuck: the cursor does not move past the unreadable page
        assert again.status in ("partial", "failed") and "resumes from it next pass" in again.error
        assert _cursor(conn) == kept
        assert any("is stuck" in problem or "failed" in problem for problem in _problems(conn))
        api.mend_darkpool("SPY", every=every)
        result = _pass(conn, http)
        http.close()
    assert result.status == "ok", result.error
    assert below <= _stored(conn) and _stored(conn) == _readable(api)
    assert _problems(conn) == []


def test_an_unreadable_page_of_news_does_not_end_the_pass_nor_skip_what_lies_below(conn) -> None:
    news = COLLECTORS["news"]
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None,
                             stale_after=None, options=news.spec.settings())
    with FakeApi(token=TOKEN, seed=5, now=NOW, news_count=250) as api:
        http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
        assert run_once(news, config, conn=conn, client=http, clock=lambda: LATER).status == "ok"
        below = api.add_news(150)
        for n in range(100):
            api.add_raw_news({"created_at": VALUE, "headline": f"unreadable {n}", "source": "x"})
        above = api.add_news(20)
        result = run_once(news, config, conn=conn, client=http, clock=lambda: LATER)
        http.close()
    assert result.status == "ok", result.error
    stored = {r[0] for r in conn.execute("SELECT headline FROM trading.news_headlines")}
    assert {item["headline"] for item in [*below, *above]} <= stored


FLOW = COLLECTORS["options_flow"]


def _flow_pass(conn: psycopg.Connection, client: ApiClient) -> RunResult:
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None,
                             stale_after=None, options=options_flow.Settings(first_run_hours=3))
    return run_once(FLOW, config, conn=conn, client=client, clock=lambda: NOW)


def _alert_ids(conn: psycopg.Connection) -> set[str]:
    ids = {r[0] for r in conn.execute("SELECT id FROM trading.options_flow_alerts")}
    conn.rollback()
    return ids


def _position(conn: psycopg.Connection) -> tuple:
    """Where the flow cursor stands: its newest alert and what it owes (a first pass saves no more)."""
    cursor = store.load_cursor(conn, FLOW.spec, "") or SweepCursor()
    conn.rollback()
    return cursor.newest, cursor.resume_before, cursor.resume_after, cursor.cut_at


def _unreadable_alerts(api: FakeApi) -> str:
    """A full page of alerts none of which can be read, answered in place of the real one."""
    alert = {**api.flow_alerts()[0], "created_at": VALUE}
    return json.dumps({"data": [alert] * options_flow.MAX_PAGE_SIZE})


@pytest.mark.parametrize("with_cursor", [False, True], ids=["first-pass", "with-cursor"])
def test_an_unreadable_page_of_flow_alerts_stops_the_sweep_until_it_can_be_read(conn, with_cursor: bool) -> None:
    with FakeApi(token=TOKEN, seed=5, now=NOW, flow_count=600) as api:
        http = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
        if with_cursor:
            assert _flow_pass(conn, http).status == "ok"
            api.add_flow(300)
        kept = _position(conn)
        api.fail_next(200, body=_unreadable_alerts(api), times=2)
        for _ in range(2):
            result = _flow_pass(conn, http)
            assert result.status == "failed" and result.inserted == 0
            assert result.error == ("a full page of 200 alerts could not be read (created_at: Invalid isoformat"
                                    f" string: '{VALUE}'); the sweep stops there and resumes from it next pass")
        assert _position(conn) == kept
        result = _flow_pass(conn, http)
        http.close()
        served, _ = options_flow.COLLECTOR.parse({"data": api.flow_alerts()})
    assert result.status == "ok", result.error
    assert _alert_ids(conn) == {alert.id for alert in served}


def test_a_full_page_of_prints_refused_by_a_rule_still_says_where_the_sweep_goes_on(conn, api, client) -> None:
    """Found by scripts/bench: prints stamped beyond the clock's skew are refused, yet their times are
    readable, so the sweep pages on below them instead of stopping (or, before, ending) there."""
    prints = api.darkpool("SPY")
    times = [parse_timestamp(item["executed_at"]) for item in prints]
    clock = times[599] - darkpool.SPEC.future_skew - timedelta(milliseconds=1)  # the newest 600 lie in its future
    early = run_once(DARKPOOL, _config(tickers=["SPY"]), conn=conn, client=client, clock=lambda: clock)
    assert early.status == "ok", early.error
    readable = {int(item["tracking_id"]) for item, at in zip(prints, times) if at <= clock + darkpool.SPEC.future_skew}
    assert _stored(conn) == readable and len(readable) >= 1300
    assert early.rejects == len(prints) - len(readable)
    later = _pass(conn, client)  # the clock catches up: the prints it refused are read from the top
    assert later.status == "ok" and _stored(conn) == _served(api)
