"""The fake's endpoints for the issue 17 collectors answer as openapi.json describes them: the
documented fields (plus the live quirks), paging and filters, restated and added records, and
the same fault knobs as the older endpoints."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.conftest import ROOT
from tests.fakes.api import FakeApi
from vvv.core.calendar import NY

TOKEN = "test-token"
NOW = datetime(2025, 10, 22, 21, 30, tzinfo=UTC)  # a Wednesday, after the close
DAY = date(2025, 10, 22)
SCHEMAS = json.loads((ROOT / "tests" / "collectors" / "openapi_components.json").read_text(encoding="utf-8"))
# path served -> (component schema of its items, feed, partition) of the fake
ENDPOINTS = {
    "/api/earnings/premarket": ("Earnings", "earnings", ("premarket", DAY)),
    "/api/earnings/afterhours": ("Earnings", "earnings", ("afterhours", DAY)),
    "/api/market/market-tide": ("Daily Market Tide", "market_tide", (DAY, True)),
    "/api/stock/AAPL/ohlc/1m": ("Candle data", "ohlc", ("AAPL", "1m", DAY)),
    "/api/stock/AAPL/spot-exposures": ("Spot GEX exposures per 1min", "spot_exposures", ("AAPL", DAY)),
    "/api/stock/AAPL/net-prem-ticks": ("Net Prem Tick response.", "net_prem_ticks", ("AAPL", DAY)),
    "/api/insider/transactions": ("Insider Trade Agg", "insider_transactions", ()),
    "/api/congress/recent-trades": ("Senate Stock", "congress_trades", ()),
    "/api/market/fda-calendar": ("FDA Calendar", "fda_calendar", ()),
    "/api/darkpool/recent": ("Darkpool Trade", None, None),
}


@pytest.fixture
def api():
    with FakeApi(token=TOKEN, seed=3, now=NOW, darkpool_count=300) as fake:
        yield fake


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5,
                      trust_env=False) as c:
        yield c


def data(client: httpx.Client, path: str, **params) -> list:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def documented(schema: str) -> set[str]:
    return set(SCHEMAS[schema]["properties"])


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_each_endpoint_serves_the_documented_fields_with_the_live_quirks(client, path) -> None:
    schema = ENDPOINTS[path][0]
    items = data(client, path)
    assert items and all(isinstance(item, dict) for item in items)
    for item in items:
        assert documented(schema) <= set(item), documented(schema) - set(item)
    numbers_as_strings = [v for item in items for v in item.values()
                          if isinstance(v, str) and v.lstrip("-").replace(".", "", 1).isdigit()]
    blanks_or_extras = [item for item in items if "" in item.values() or set(item) - documented(schema)]
    assert numbers_as_strings or path.startswith("/api/congress")  # "123.45", as the live API sends numbers
    assert blanks_or_extras or path.endswith(("ohlc/1m", "net-prem-ticks", "spot-exposures"))
    again = data(client, path)
    assert again == items  # deterministic


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_each_endpoint_obeys_the_fault_knobs(api, client, path) -> None:
    api.fail_next(429, headers={"Retry-After": "7"})
    limited = client.get(path)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    api.fail_next(503)
    assert client.get(path).status_code == 503
    api.truncate_next()
    with pytest.raises(ValueError):
        json.loads(client.get(path).content)
    clean = data(client, path)
    api.malformed_items(2)
    broken = data(client, path)
    assert len(broken) == len(clean) and broken != clean
    feed, key = ENDPOINTS[path][1:]
    if feed is not None:  # the first page is what the feed serves first
        assert api.served_records(feed, key)[:len(broken)] == broken
    assert any(not isinstance(item, dict) or item != clean[i] for i, item in enumerate(broken))
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_earnings_pages_until_short_and_restate_and_add(api, client) -> None:
    key = ("premarket", date(2025, 10, 21))
    served = api.records("earnings", key)
    pages = [data(client, "/api/earnings/premarket", date="2025-10-21", page=p, limit=100) for p in range(3)]
    assert [len(p) for p in pages] == [min(100, len(served)), max(0, len(served) - 100), 0]
    assert pages[0] + pages[1] == served
    assert all(item["report_time"] == "premarket" and item["actual_eps"] not in (None, "") for item in served)
    later = data(client, "/api/earnings/afterhours", date="2025-10-24", limit=100)
    assert {item["report_time"] for item in later} == {"postmarket"}
    assert all(item["actual_eps"] in (None, "") for item in later)  # not reported yet
    assert client.get("/api/earnings/premarket", params={"limit": 101}).status_code == 422
    restated = api.restate_record("earnings", key, 0, actual_eps="9.99")
    assert data(client, "/api/earnings/premarket", date="2025-10-21", limit=1) == [restated]
    added = api.add_records("earnings", 2, key)
    everything = [item for p in range(3) for item in
                  data(client, "/api/earnings/premarket", date="2025-10-21", page=p, limit=100)]
    assert everything == [restated, *served[1:], *added]
    assert {a["symbol"] for a in added}.isdisjoint(s["symbol"] for s in served)


def test_market_tide_steps_by_the_interval_and_stops_at_now(client) -> None:
    five = data(client, "/api/market/market-tide", date="2025-10-21")
    one = data(client, "/api/market/market-tide", date="2025-10-21", interval_5m="false")
    assert (len(five), len(one)) == (78, 390)  # 09:30 to 16:00
    assert five[0]["timestamp"] == "2025-10-21 09:30:00-04:00" and five[0]["date"] == "2025-10-21"
    assert client.get("/api/market/market-tide", params={"interval_5m": "yes"}).status_code == 422
    assert data(client, "/api/market/market-tide", date="2025-10-18") == []  # a Saturday
    with FakeApi(token=TOKEN, now=datetime(2025, 10, 22, 14, 2, tzinfo=UTC)) as early:  # 10:02 in New York
        with httpx.Client(base_url=early.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            ticks = data(c, "/api/market/market-tide", interval_5m="false")
            assert len(ticks) == 33
            added = early.add_records("market_tide", 1, (DAY, False))
            last = early.restate_record("market_tide", (DAY, False), -1, net_volume=1)
            after = data(c, "/api/market/market-tide", interval_5m="false")
            assert after[:32] == ticks[:32] and after[-1] == last and last["timestamp"] == added[0]["timestamp"]
            assert datetime.fromisoformat(after[-1]["timestamp"]) - datetime.fromisoformat(after[-2]["timestamp"]) \
                == timedelta(minutes=1)


def test_ohlc_serves_newest_candles_first_with_the_open_one(client, api) -> None:
    candles = data(client, "/api/stock/aapl/ohlc/5m", date="2025-10-21")
    assert len(candles) == 192  # 04:00 to 20:00 in five minutes
    starts = [datetime.fromisoformat(c["start_time"]) for c in candles]
    assert starts == sorted(starts, reverse=True)
    assert {c["market_time"] for c in candles} == {"pr", "r", "po"}
    assert data(client, "/api/stock/AAPL/ohlc/5m", date="2025-10-21", limit=3) == candles[:3]
    bad = client.get("/api/stock/AAPL/ohlc/7m")
    assert bad.status_code == 422 and "7m" in bad.json()["msg"]
    with FakeApi(token=TOKEN, now=datetime(2025, 10, 22, 14, 2, 30, tzinfo=UTC)) as early:
        with httpx.Client(base_url=early.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            newest = data(c, "/api/stock/AAPL/ohlc/1m")[0]
            assert datetime.fromisoformat(newest["end_time"]) > early.now  # still open
            key = ("AAPL", "1m", DAY)
            closed = early.restate_record("ohlc", key, 0, close="1.23")
            added = early.add_records("ohlc", 2, key)
            served = data(c, "/api/stock/AAPL/ohlc/1m")
            assert served[:3] == [*added, closed]


@pytest.mark.parametrize("kind, time_field", [("spot-exposures", "time"), ("net-prem-ticks", "tape_time")])
def test_per_minute_series_serve_the_session_oldest_first(client, kind, time_field) -> None:
    ticks = data(client, f"/api/stock/TSLA/{kind}", date="2025-10-21")
    assert len(ticks) == 390
    times = [datetime.fromisoformat(t[time_field]) for t in ticks]
    assert times == sorted(times) and times[0].astimezone(NY).time().isoformat()[:5] == "09:30"
    assert data(client, f"/api/stock/TSLA/{kind}") != ticks  # another day
    assert client.get(f"/api/stock/TSLA/{kind}", params={"date": "2030-01-02"}).status_code == 422


def test_insider_transactions_page_filter_and_grow_on_top(api, client) -> None:
    served = api.records("insider_transactions")
    first = data(client, "/api/insider/transactions", limit=100)
    second = data(client, "/api/insider/transactions", limit=100, page=1)
    assert first + second == served[:200]
    assert [i["filing_date"] for i in served] == sorted((i["filing_date"] for i in served), reverse=True)
    assert any("id" not in item for item in served) and any("id" in item for item in served)
    meta = data(client, "/api/insider/transactions", ticker_symbol="META,aapl", is_director="true")
    assert meta and {i["ticker"] for i in meta} <= {"META", "AAPL"} and all(i["is_director"] for i in meta)
    sales = client.get("/api/insider/transactions?transaction_codes[]=S&transaction_codes[]=F").json()["data"]
    assert sales and {i["transaction_code"] for i in sales} <= {"S", "F"}
    assert client.get("/api/insider/transactions", params={"is_officer": "1", "limit": 501}).status_code == 422
    added = api.add_records("insider_transactions", 2)
    assert data(client, "/api/insider/transactions", limit=2) == added
    restated = api.restate_record("insider_transactions", (), 5, price="1.00")
    assert data(client, "/api/insider/transactions", limit=6)[5] == restated


def test_congress_trades_newest_first_with_limit_ticker_and_date(api, client) -> None:
    served = api.records("congress_trades")
    assert data(client, "/api/congress/recent-trades") == served[:100]
    assert len(data(client, "/api/congress/recent-trades", limit=200)) == 150
    assert client.get("/api/congress/recent-trades", params={"limit": 201}).status_code == 422
    msft = data(client, "/api/congress/recent-trades", ticker="msft", limit=200)
    assert msft and {t["ticker"] for t in msft} == {"MSFT"}
    old = data(client, "/api/congress/recent-trades", date="2025-10-01", limit=200)
    assert old and max(t["filed_at_date"] for t in old) <= "2025-10-01"
    added = api.add_records("congress_trades", 1)
    assert data(client, "/api/congress/recent-trades", limit=1) == added


def test_fda_calendar_filters_by_target_dates_in_every_format(api, client) -> None:
    served = api.records("fda_calendar")
    identities = {(e["ticker"], e["drug"], e["catalyst"], e["start_date"]) for e in served}
    assert len(identities) == len(served) == 60
    q4 = data(client, "/api/market/fda-calendar", target_date_min="2025-Q4", target_date_max="2025-Q4", limit=200)
    assert q4 and all(e["end_date"] >= "2025-10-01" and e["start_date"] <= "2025-12-31" for e in q4)
    assert len(q4) < len(served)
    assert data(client, "/api/market/fda-calendar", target_date_min="2025-10-22", limit=200) == \
        [e for e in served if e["end_date"] >= "2025-10-22"]
    assert all(e["ticker"] == "LLY" for e in data(client, "/api/market/fda-calendar", ticker="lly"))
    bad = client.get("/api/market/fda-calendar", params={"target_date_min": "2025-Q5"})
    assert bad.status_code == 422 and "target_date_min=2025-Q5" in bad.json()["msg"]
    restated = api.restate_record("fda_calendar", (), 0, outcome="Approved")
    assert data(client, "/api/market/fda-calendar", limit=1) == [restated]


def test_darkpool_recent_is_the_market_newest_first_with_size_filters(api, client) -> None:
    recent = data(client, "/api/darkpool/recent", limit=200)
    assert len(recent) == 200 and len({p["ticker"] for p in recent}) > 1
    times = [datetime.fromisoformat(p["executed_at"]) for p in recent]
    assert times == sorted(times, reverse=True)
    assert data(client, "/api/darkpool/recent") == recent[:100]
    big = data(client, "/api/darkpool/recent", min_size=10000, max_premium=10**9)
    assert big and all(p["size"] >= 10000 for p in big)
    assert client.get("/api/darkpool/recent", params={"limit": 201}).status_code == 422
    assert client.get("/api/darkpool/recent", params={"min_size": "lots"}).status_code == 422
    newest = recent[0]
    restated = api.restate_print(newest["ticker"], newest["tracking_id"], canceled=True)
    assert data(client, "/api/darkpool/recent", limit=1) == [restated]
    assert restated in data(client, f"/api/darkpool/{newest['ticker']}")
