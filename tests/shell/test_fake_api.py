"""The fake API behaves like the real one where the collectors depend on it."""

from __future__ import annotations

import collections
import json
import math
import os
import re
import select
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.fakes.api import DARKPOOL_PREFIX, FLOW_PATH, NEWS_PATH, FakeApi
from vvv.collectors import darkpool as darkpool_collector
from vvv.collectors import options_flow as flow_collector
from vvv.core.base import Page, advance_over, warnings_over
from vvv.core.calendar import NY
from vvv.io.http import ApiClient

TOKEN = "test-token"
NOW = datetime(2025, 10, 22, 21, 30, tzinfo=UTC)
SPACE_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\+00:00$")
Z_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
Z_MS_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RATE_HEADERS = (
    "x-uw-req-per-minute-remaining",
    "x-uw-req-per-minute-reset",
    "x-uw-minute-req-counter",
    "x-uw-daily-req-count",
    "x-uw-token-req-limit",
)


@pytest.fixture
def api():
    with FakeApi(token=TOKEN, seed=7, news_count=250, now=NOW) as fake:
        yield fake


@pytest.fixture
def client(api):
    with httpx.Client(
        base_url=api.url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
        trust_env=False,
    ) as c:
        yield c


def news(client: httpx.Client, **params) -> httpx.Response:
    return client.get(NEWS_PATH, params=params)


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_auth_requires_the_bearer_token(api):
    with httpx.Client(base_url=api.url, timeout=5, trust_env=False) as anon:
        missing = anon.get(NEWS_PATH)
        wrong = anon.get(NEWS_PATH, headers={"Authorization": "Bearer nope"})
        basic = anon.get(NEWS_PATH, headers={"Authorization": f"Basic {TOKEN}"})
        good = anon.get(NEWS_PATH, headers={"Authorization": f"Bearer {TOKEN}"})
    for resp in (missing, wrong, basic):
        assert resp.status_code == 401
        assert isinstance(resp.json()["msg"], str) and resp.json()["msg"]
    assert good.status_code == 200
    assert len(good.json()["data"]) == 50


def test_pages_are_consecutive_slices_of_the_feed(api, client):
    pages = [news(client, limit=100, page=p).json()["data"] for p in range(4)]
    assert [len(p) for p in pages] == [100, 100, 50, 0]
    assert pages[0] + pages[1] + pages[2] == api.news
    assert news(client).json()["data"] == api.news[:50]
    assert news(client, limit=1, page=249).json()["data"] == [api.news[249]]
    assert news(client, page=10_000).json() == {"data": []}


def test_feed_is_newest_first_and_ends_shortly_before_now(api):
    times = [parse_ts(item["created_at"]) for item in api.news]
    assert times == sorted(times, reverse=True)
    assert NOW - timedelta(minutes=1) < times[0] < NOW


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "limit=", "limit=1.5", "page=-1", "page=x", "limit=5&page=-2"],
)
def test_bad_paging_gets_422_in_the_error_message_shape(api, client, query):
    resp = client.get(f"{NEWS_PATH}?{query}")
    assert resp.status_code == 422
    body = resp.json()
    assert set(body) == {"msg", "path", "query", "url"}
    assert body["path"] == NEWS_PATH
    assert body["query"] == query
    assert body["url"].endswith(f"{NEWS_PATH}?{query}")
    bad = query.split("&")[-1]
    assert bad in body["msg"]


def test_same_arguments_give_the_same_news_and_another_seed_does_not():
    a = FakeApi(seed=3, news_count=120, now=NOW)
    b = FakeApi(seed=3, news_count=120, now=NOW)
    c = FakeApi(seed=4, news_count=120, now=NOW)
    assert a.news == b.news
    assert a.news != c.news
    assert a.add_news(10) == b.add_news(10)


def test_served_items_reproduce_the_real_quirks(client):
    items = news(client, limit=100).json()["data"] + news(client, limit=100, page=1).json()["data"]
    stamps = [item["created_at"] for item in items]
    assert any(SPACE_TS.match(s) for s in stamps)
    assert any(Z_TS.match(s) for s in stamps)
    assert any(Z_MS_TS.match(s) for s in stamps)
    assert all(SPACE_TS.match(s) or Z_TS.match(s) or Z_MS_TS.match(s) for s in stamps)
    seconds = [parse_ts(s).replace(microsecond=0) for s in stamps]
    assert len(set(seconds)) < len(seconds), "some headlines share a second"
    for item in items:
        assert {"created_at", "headline", "is_major", "meta", "sentiment", "source", "tags", "tickers"} <= set(item)
        assert isinstance(item["headline"], str) and isinstance(item["source"], str)
    assert any(item[k] is None for item in items for k in ("is_major", "meta", "sentiment", "tags", "tickers"))
    assert any(isinstance(item["meta"], dict) and any(isinstance(v, dict) for v in item["meta"].values()) for item in items)
    assert any("url" in item or "author" in item for item in items)
    text = " ".join(item["headline"] for item in items)
    assert "'" in text and '"' in text
    assert any(ord(ch) > 127 for ch in text)


def test_rate_limit_headers_are_on_every_response_and_count(api, client):
    responses = [news(client), news(client, limit=0), client.get("/api/nope")]
    with httpx.Client(base_url=api.url, timeout=5, trust_env=False) as anon:
        responses.append(anon.get(NEWS_PATH))
    assert [r.status_code for r in responses] == [200, 422, 404, 401]
    for resp in responses:
        assert all(h in resp.headers for h in RATE_HEADERS)
        assert 0 <= int(resp.headers["x-uw-req-per-minute-reset"]) <= 60_000
        assert resp.headers["x-uw-token-req-limit"] == "20000"
    assert [int(r.headers["x-uw-minute-req-counter"]) for r in responses] == [1, 2, 3, 4]
    assert [int(r.headers["x-uw-daily-req-count"]) for r in responses] == [1, 2, 3, 4]
    assert [int(r.headers["x-uw-req-per-minute-remaining"]) for r in responses] == [119, 118, 117, 116]
    assert responses[2].json() == {"msg": "not found"}


def test_exceeding_the_per_minute_limit_gets_429_with_retry_after():
    with FakeApi(token=TOKEN, news_count=5, per_minute_limit=2, daily_limit=50) as fake:
        with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=5, trust_env=False) as c:
            statuses = [news(c) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    last = statuses[-1]
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    assert last.headers["x-uw-req-per-minute-remaining"] == "0"
    assert last.headers["x-uw-token-req-limit"] == "50"


def test_fail_next_sends_status_and_headers_then_recovers(api, client):
    api.fail_next(429, times=2, headers={"Retry-After": "3", "x-uw-req-per-minute-remaining": "0"})
    first, second, third = news(client), news(client), news(client)
    for resp in (first, second):
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "3"
        assert resp.headers["x-uw-req-per-minute-remaining"] == "0"
        assert "x-uw-daily-req-count" in resp.headers
    assert third.status_code == 200 and len(third.json()["data"]) == 50


def test_a_500_fault_looks_like_the_api_own_500(api, client):
    api.fail_next(500)
    api.fail_next(503, body='{"msg": "maintenance"}')
    plain, custom = news(client), news(client)
    assert plain.status_code == 500
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text == "Something went wrong"
    assert custom.status_code == 503 and custom.json() == {"msg": "maintenance"}


def test_faults_apply_in_order_one_per_request(api, client):
    api.fail_next(502)
    api.truncate_next()
    api.fail_next(500)
    results = [news(client) for _ in range(4)]
    assert [r.status_code for r in results] == [502, 200, 500, 200]
    with pytest.raises(json.JSONDecodeError):
        json.loads(results[1].content)
    assert results[3].json()["data"] == api.news[:50]


def test_truncated_body_has_matching_length_and_is_not_json(api, client):
    full = news(client, limit=20).content
    api.truncate_next()
    cut = news(client, limit=20)
    assert cut.status_code == 200
    assert int(cut.headers["content-length"]) == len(cut.content) == len(full) // 2
    assert full.startswith(cut.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert news(client, limit=20).content == full


def test_delay_next_holds_the_answer(api, client):
    api.delay_next(0.3)
    started = time.monotonic()
    resp = news(client, limit=1)
    assert resp.status_code == 200
    assert time.monotonic() - started >= 0.3
    api.delay_next(0.5)
    with pytest.raises(httpx.ReadTimeout):
        client.get(NEWS_PATH, timeout=0.1)


def test_malformed_items_cycle_through_every_variant(api, client):
    clean = news(client, limit=12).json()["data"]
    api.malformed_items(1)
    bad = news(client, limit=12).json()["data"]
    assert news(client, limit=12).json()["data"] == bad, "deterministic"
    kinds = {_malformed_kind(item) for item in bad}
    assert kinds == {"no created_at", "bad created_at", "null headline", "numeric headline", "string item", "string tickers"}
    assert api.news[:12] == clean, "the feed itself is unchanged"
    api.malformed_items(0)
    assert news(client, limit=12).json()["data"] == clean


def test_malformed_items_every_nth_counts_from_the_oldest(api, client):
    api.malformed_items(5)
    served = news(client, limit=100, page=2).json()["data"]  # the 50 oldest items
    broken = [i for i, item in enumerate(served) if item != api.news[200 + i]]
    assert broken == [i for i in range(50) if (50 - i) % 5 == 0]
    api.add_news(3)
    again = news(client, limit=100, page=2).json()["data"][3:]
    assert again == served, "an item keeps its fate when newer ones arrive"


def _malformed_kind(item) -> str:
    if isinstance(item, str):
        assert isinstance(json.loads(item), dict)
        return "string item"
    if "created_at" not in item:
        return "no created_at"
    if item["created_at"] == "not a date":
        return "bad created_at"
    if item["headline"] is None:
        return "null headline"
    if item["headline"] == 12345:
        return "numeric headline"
    if item["tickers"] == "SPY":
        return "string tickers"
    return "clean"


def test_add_news_puts_newer_items_on_page_zero(api, client):
    before = news(client, limit=100).json()["data"]
    newest_before = parse_ts(before[0]["created_at"])
    added = api.add_news(7)
    page0 = news(client, limit=100).json()["data"]
    assert len(added) == 7
    assert page0[:7] == added
    assert page0[7:] == before[:93]
    times = [parse_ts(item["created_at"]) for item in page0]
    assert times == sorted(times, reverse=True)
    assert all(t > newest_before for t in times[:7])
    assert times[0] < newest_before + timedelta(seconds=30)


def test_add_news_at_a_time_keeps_the_feed_sorted(api):
    older = parse_ts(api.news[10]["created_at"]) - timedelta(milliseconds=1)
    added = api.add_news(2, at=older)
    assert all(parse_ts(item["created_at"]) == older for item in added)
    times = [parse_ts(item["created_at"]) for item in api.news]
    assert times == sorted(times, reverse=True)
    assert added[0] in api.news[:13] and added[1] in api.news[:13]


def test_add_raw_news_is_served_verbatim_on_top(api, client):
    weird = {"headline": "no timestamp", "source": None, "surprise": [1, {"x": "ü"}]}
    api.add_raw_news(weird)
    assert news(client, limit=2).json()["data"][0] == weird


def test_requests_are_recorded(api, client):
    client.get(NEWS_PATH, params={"limit": "5", "page": "1"}, headers={"X-Probe": "yes"})
    client.post("/api/other")
    first, second = api.requests
    assert (first.method, first.path, first.query) == ("GET", NEWS_PATH, {"limit": "5", "page": "1"})
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert first.headers["x-probe"] == "yes"
    assert (second.method, second.path, second.query) == ("POST", "/api/other", {})


def test_stop_closes_the_server(api):
    url = api.url
    api.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(url + NEWS_PATH, timeout=2, trust_env=False)


def test_non_loopback_host_is_refused():
    with pytest.raises(ValueError, match="loopback"):
        FakeApi(host="0.0.0.0")


def _cli(*args: str) -> subprocess.Popen:
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.api", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def test_cli_prints_its_url_serves_and_exits_cleanly_on_sigterm():
    proc = _cli("--port", "0", "--token", "cli-token", "--seed", "5", "--news", "30")
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "no URL line within 15 s"
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        resp = httpx.get(url + NEWS_PATH, params={"limit": 100},
                         headers={"Authorization": "Bearer cli-token"}, timeout=5, trust_env=False)
        assert resp.status_code == 200
        assert len(resp.json()["data"]) == 30
        assert resp.headers["x-uw-minute-req-counter"] == "1"
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0
    assert out == ""
    assert json.loads(err) == {"requests": 1, "statuses": {"200": 1}}  # its summary, for scripts/pacing


def test_cli_refuses_a_non_loopback_host():
    proc = _cli("--host", "0.0.0.0")
    try:
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 2
    assert out == ""
    assert "loopback" in err


# GET /api/darkpool/{ticker}

DAY = date(2025, 10, 22)  # NOW's New York day, a Wednesday
DARKPOOL_FIELDS = {
    "canceled", "executed_at", "ext_hour_sold_codes", "market_center", "nbbo_ask", "nbbo_ask_quantity", "nbbo_bid",
    "nbbo_bid_quantity", "premium", "price", "sale_cond_codes", "size", "ticker", "tracking_id", "trade_code",
    "trade_settlement", "volume",
}
LIVE_FIELDS = {"trf_executed_at", "created_at", "issue_type", "sector", "avg30_volume"}


def darkpool(client: httpx.Client, ticker: str = "SPY", **params) -> httpx.Response:
    return client.get(f"{DARKPOOL_PREFIX}{ticker}", params=params)


def ms_of(item: dict) -> int:
    return (parse_ts(item["executed_at"]) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def test_darkpool_serves_the_last_market_day_newest_first_up_to_500(api, client):
    day = api.darkpool("SPY")
    assert api.darkpool_day == DAY and len(day) > 600
    times = [ms_of(item) for item in day]
    assert times == sorted(times, reverse=True)
    assert all(parse_ts(item["executed_at"]).astimezone(NY).date() == DAY for item in day)
    assert max(times) <= ms_of({"executed_at": NOW.isoformat()}), "nothing after the fake's now"
    assert darkpool(client).json() == {"data": day[:500]}
    assert darkpool(client, "spy", limit=7, date="2025-10-22").json() == {"data": day[:7]}
    tuesday = darkpool(client, limit=500, date="2025-10-21").json()["data"]
    assert tuesday == api.darkpool("SPY", date(2025, 10, 21))[:500]


def _tied_instant(day: list[dict]) -> int:
    """The millisecond of the prints around the 100th from the newest, which share a second."""
    return ms_of(day[100])


def test_darkpool_bounds_are_exclusive_or_inclusive_as_the_knob_says(api, client):
    day = api.darkpool("SPY")
    t = _tied_instant(day)
    at_t = [item for item in day if ms_of(item) == t]
    assert len(at_t) >= 12
    for inclusive in (False, True):
        api.bounds_inclusive = inclusive
        older = darkpool(client, older_than=t).json()["data"]
        newer = darkpool(client, newer_than=t).json()["data"]
        assert older == [item for item in day if (ms_of(item) <= t if inclusive else ms_of(item) < t)][:500]
        assert newer == [item for item in day if (ms_of(item) >= t if inclusive else ms_of(item) > t)][:500]
        both = darkpool(client, newer_than=t - 60_000, older_than=t, limit=500).json()["data"]
        assert all(t - 60_000 <= ms_of(item) <= t for item in both)
        assert all(item in both for item in at_t) == inclusive
    assert FakeApi(bounds_inclusive=True, now=NOW).bounds_inclusive


def test_darkpool_bounds_take_unix_seconds_milliseconds_or_an_iso_date(api, client):
    day = api.darkpool("SPY")
    t = _tied_instant(day)
    assert t % 1000 == 0
    in_ms = darkpool(client, older_than=t, limit=50).json()
    assert darkpool(client, older_than=t // 1000, limit=50).json() == in_ms
    assert darkpool(client, newer_than="2025-10-22").json()["data"] == day[:500]
    assert darkpool(client, older_than="2025-10-22").json()["data"] == [], "midnight UTC is before the session"


def test_darkpool_is_empty_on_weekends_and_holidays(client):
    assert darkpool(client, date="2025-10-18").json() == {"data": []}
    assert darkpool(client, date="2025-07-04").json() == {"data": []}


@pytest.mark.parametrize(
    ("path", "query", "bad"),
    [
        ("MSFT%2F12", "", "MSFT%2F12"),
        ("%2E%2E", "", "%2E%2E"),
        ("SPY%3Fx%3D1", "", "SPY%3Fx%3D1"),
        ("ABCDEFGHIJK", "", "ABCDEFGHIJK"),
        ("SPY", "date=2023-02-140", "date=2023-02-140"),
        ("SPY", "date=2025-10-23", "date=2025-10-23"),
        ("SPY", "limit=0", "limit=0"),
        ("SPY", "limit=501", "limit=501"),
        ("SPY", "newer_than=yesterday", "newer_than=yesterday"),
        ("SPY", "older_than=-5", "older_than=-5"),
        ("SPY", "older_than=1.5", "older_than=1.5"),
    ],
)
def test_darkpool_bad_input_gets_422_in_the_error_message_shape(api, client, path, query, bad):
    resp = client.get(f"{DARKPOOL_PREFIX}{path}" + (f"?{query}" if query else ""))
    assert resp.status_code == 422
    body = resp.json()
    assert set(body) == {"msg", "path", "query", "url"}
    assert body["path"] == f"{DARKPOOL_PREFIX}{path}" and body["query"] == query
    assert bad in body["msg"]
    assert body["msg"].startswith("Invalid path input" if path != "SPY" else "Invalid query input(s)")


def test_darkpool_needs_the_token_and_only_one_path_segment(api):
    with httpx.Client(base_url=api.url, timeout=5, trust_env=False) as anon:
        assert anon.get(f"{DARKPOOL_PREFIX}SPY").status_code == 401
        assert anon.get(f"{DARKPOOL_PREFIX}SPY/extra", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_darkpool_prints_reproduce_the_live_quirks(api):
    day = api.darkpool("SPY", date(2025, 10, 21))
    assert len(day) == 1200, "a whole past day"
    for item in day:
        assert set(item) == DARKPOOL_FIELDS | LIVE_FIELDS
        assert isinstance(item["price"], str) and isinstance(item["premium"], str)
        assert isinstance(item["tracking_id"], int) and isinstance(item["size"], int)
        assert item["trade_settlement"] == "regular" and item["ticker"] == "SPY"
    stamps = [item["executed_at"] for item in day]
    assert any(SPACE_TS.match(s) for s in stamps) and any(Z_TS.match(s) for s in stamps)
    assert any(Z_MS_TS.match(s) for s in stamps)
    assert any(item["nbbo_bid"] is None for item in day) and any(item["trf_executed_at"] is None for item in day)
    assert any(item["ext_hour_sold_codes"] == "extended_hours_trade" for item in day)
    assert any(isinstance(item["volume"], str) for item in day)
    assert any(len(item["price"].split(".")[1]) == 4 for item in day)
    assert len({item["tracking_id"] for item in day}) == len(day)
    seconds = collections.Counter(ms_of(item) // 1000 for item in day)
    assert max(seconds.values()) >= 12
    for edge in (100, 500, 1000):
        assert ms_of(day[edge - 1]) == ms_of(day[edge]), f"prints around the {edge}th share a second"


def test_darkpool_tapes_depend_on_seed_ticker_and_day_only():
    first = FakeApi(seed=3, now=NOW)
    second = FakeApi(seed=3, now=NOW)
    second.darkpool("QQQ")
    second.darkpool("SPY", date(2025, 10, 21))
    assert first.darkpool("SPY") == second.darkpool("SPY"), "the order of first use does not matter"
    assert first.darkpool("SPY") != FakeApi(seed=4, now=NOW).darkpool("SPY")
    days = (DAY, date(2025, 10, 21))
    ids = [{item["tracking_id"] for item in first.darkpool(t, d)} for t in ("SPY", "QQQ") for d in days]
    assert sum(map(len, ids)) == len(set().union(*ids))


def test_darkpool_burst_knob_puts_more_than_a_page_in_one_second():
    with FakeApi(token=TOKEN, now=NOW, darkpool_burst=600) as fake:
        day = fake.darkpool("SPY")
        second, count = collections.Counter(ms_of(item) for item in day).most_common(1)[0]
        assert count >= 600
        with httpx.Client(base_url=fake.url, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False) as c:
            page = darkpool(c, older_than=second + 1).json()["data"]
    assert len(page) == 500 and {ms_of(item) for item in page} == {second}


def test_add_darkpool_publishes_new_prints_on_top_and_late_ones_in_place(api, client):
    before = api.darkpool("SPY")
    added = api.add_darkpool("spy", 5)
    assert len(added) == 5 and darkpool(client, limit=5).json()["data"] == added
    assert all(ms_of(item) > ms_of(before[0]) for item in added)
    late_at = parse_ts(before[300]["executed_at"]).replace(microsecond=0) - timedelta(milliseconds=1)
    late = api.add_darkpool("SPY", 3, at=late_at)
    assert {ms_of(item) for item in late} == {ms_of({"executed_at": late_at.isoformat()})}
    day = api.darkpool("SPY")
    assert len(day) == len(before) + 8
    assert [ms_of(item) for item in day] == sorted((ms_of(item) for item in day), reverse=True)
    window = darkpool(client, newer_than=ms_of(late[0]) - 1, older_than=ms_of(late[0]) + 1).json()["data"]
    assert all(item in window for item in late)
    other = api.add_darkpool("QQQ", 2, day=date(2025, 10, 21))
    assert api.darkpool("QQQ", date(2025, 10, 21))[:2] == other
    with pytest.raises(ValueError):
        api.add_darkpool("../etc", 1)


def test_darkpool_malformed_items_are_counted_from_the_oldest_print_of_the_day(api, client):
    clean = darkpool(client, limit=12).json()["data"]
    api.malformed_items(1)
    bad = darkpool(client, limit=12).json()["data"]
    assert bad != clean and darkpool(client, limit=12).json()["data"] == bad
    kinds = {_darkpool_malformed_kind(item) for item in bad}
    assert kinds == {"no executed_at", "bad executed_at", "bad price", "null tracking_id", "string item", "bad size"}
    api.malformed_items(7)
    served = darkpool(client, limit=500).json()["data"]
    total = len(api.darkpool("SPY"))
    assert [i for i, item in enumerate(served) if item != api.darkpool("SPY")[i]] == [
        i for i in range(500) if (total - i) % 7 == 0
    ]
    api.malformed_items(0)
    assert darkpool(client, limit=12).json()["data"] == clean


def _darkpool_malformed_kind(item) -> str:
    if isinstance(item, str):
        return "string item"
    if "executed_at" not in item:
        return "no executed_at"
    if item["executed_at"] == "not a date":
        return "bad executed_at"
    if item["price"] == "n/a":
        return "bad price"
    if item["tracking_id"] is None:
        return "null tracking_id"
    return "bad size" if item["size"] == "lots" else "clean"


@pytest.mark.parametrize("inclusive", [False, True])
def test_the_darkpool_collector_fetches_every_print_the_fake_serves(inclusive):
    """The collector's unfold over HTTP, as the runner drives it: a first pass, then new and late prints."""
    settings = darkpool_collector.Settings(tickers=["SPY"])
    with FakeApi(token=TOKEN, now=NOW, seed=11, bounds_inclusive=inclusive) as fake:
        client = ApiClient(base_url=fake.url, token=TOKEN)
        try:
            first, cursor, requests = _collect_darkpool(client, None, settings)
            served = {item["tracking_id"] for item in fake.darkpool("SPY")}
            assert first == served
            assert requests <= math.ceil(len(served) / 500) + 1 + 2, "ties at page edges cost a request at most"
            new = fake.add_darkpool("SPY", 40)
            late = fake.add_darkpool("SPY", 3, at=parse_ts(new[-1]["executed_at"]) - timedelta(seconds=20))
            again, cursor, requests = _collect_darkpool(client, cursor, settings)
            assert {item["tracking_id"] for item in new + late} <= again
            assert requests == 1
            assert cursor.newest == parse_ts(new[0]["executed_at"])
        finally:
            client.close()


def _collect_darkpool(client, cursor, settings):
    now, dp = NOW + timedelta(minutes=1), darkpool_collector.COLLECTOR
    start = dp.begin(cursor, "SPY", now, settings)
    pages, fetched = [], set()
    request = dp.next_request(start, None, None, settings, "SPY")
    while request is not None:
        payload = client.get_json(request)
        records, rejects = dp.parse(payload)
        assert rejects == [] and all(darkpool_collector.validate(r, now) is None for r in records)
        page = Page(request=request, received=len(payload["data"]), records=tuple(records))
        pages.append(page)
        fetched |= {r.tracking_id for r in records}
        request = dp.next_request(start, request, page, settings, "SPY")
    assert warnings_over(lambda *call: dp.warnings(*call, "SPY"), start, pages, settings) == []
    return fetched, advance_over(lambda *call: dp.advance(*call, "SPY"), start, pages, settings), len(pages)


def flow(client: httpx.Client, **params) -> httpx.Response:
    return client.get(FLOW_PATH, params=params)


def flow_ms(item: dict) -> int:
    return (parse_ts(item["created_at"]) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def test_flow_alerts_are_newest_first_100_by_default_at_most_200_and_parse_cleanly(api, client):
    alerts = api.flow_alerts()
    assert len(alerts) == 300
    times = [flow_ms(item) for item in alerts]
    assert times == sorted(times, reverse=True) and max(times) <= flow_ms({"created_at": NOW.isoformat()})
    assert flow(client).json() == {"data": alerts[:100]}
    assert flow(client, limit=200).json() == {"data": alerts[:200]}
    records, rejects = flow_collector.COLLECTOR.parse({"data": alerts})
    assert rejects == [] and len({r.id for r in records}) == len(alerts)
    assert len(set(times)) < len(times), "some alerts share an instant"
    assert any(r.underlying == "SPXW" and r.ticker == "SPX" for r in records)


def test_flow_bounds_are_exclusive_or_inclusive_as_the_knob_says(api, client):
    alerts = api.flow_alerts()
    t = flow_ms(alerts[50])
    for inclusive in (False, True):
        api.bounds_inclusive = inclusive
        older = flow(client, older_than=t, limit=200).json()["data"]
        newer = flow(client, newer_than=t, limit=200).json()["data"]
        assert older == [a for a in alerts if (flow_ms(a) <= t if inclusive else flow_ms(a) < t)][:200]
        assert newer == [a for a in alerts if (flow_ms(a) >= t if inclusive else flow_ms(a) > t)][:200]


def test_flow_filters_are_applied_and_repeated_array_params_recorded(api, client):
    resp = client.get(f"{FLOW_PATH}?limit=200&is_sweep=true&min_premium=100000&rule_name[]=RepeatedHits"
                      "&rule_name[]=FloorTradeMidCap&ticker_symbol=-SPY,QQQ")
    data = resp.json()["data"]
    assert data and all(a["has_sweep"] and float(a["total_premium"]) >= 100000 for a in data)
    assert {a["alert_rule"] for a in data} <= {"RepeatedHits", "FloorTradeMidCap"}
    assert not {a["ticker"] for a in data} & {"SPY", "QQQ"}
    pairs = api.requests[-1].pairs
    assert [v for n, v in pairs if n == "rule_name[]"] == ["RepeatedHits", "FloorTradeMidCap"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "newer_than=yesterday", "is_sweep=yes", "min_premium=lots"])
def test_flow_bad_input_gets_422_naming_it(api, client, query):
    resp = client.get(f"{FLOW_PATH}?{query}")
    assert resp.status_code == 422 and query in resp.json()["msg"]


def test_add_flow_publishes_new_alerts_on_top_and_late_ones_in_place(api, client):
    new = api.add_flow(5)
    assert api.flow_alerts()[:5] == new
    at = parse_ts(api.flow_alerts()[40]["created_at"])
    late = api.add_flow(2, at=at)
    assert all(parse_ts(a["created_at"]) == at for a in late)
    assert all(a in api.flow_alerts() for a in late)
    times = [flow_ms(a) for a in api.flow_alerts()]
    assert times == sorted(times, reverse=True)
