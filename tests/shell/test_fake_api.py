"""The fake API behaves like the real one where the collectors depend on it."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from vvv.fake_api import NEWS_PATH, FakeApi

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
        [sys.executable, "-m", "vvv.fake_api", *args],
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
    assert out == "" and err == ""


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
