"""`GET /api/insider/transactions` (paged, with filters) and `GET /api/congress/recent-trades`
(newest first, at most `limit`), as a FakeApi mixin: filings newest first by filing date."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.fakes.quirks import below, malforms, maybe_blank, pick, stable_uuid, with_
from tests.fakes.records import Feed, Key
from tests.fakes.server import (
    RecordedRequest,
    Response,
    check_types,
    date_of,
    invalid,
    json_response,
    limit_of,
    page_of,
)

INSIDER_PATH = "/api/insider/transactions"
CONGRESS_PATH = "/api/congress/recent-trades"
_TICKERS = ("META", "AAPL", "NVDA", "TSLA", "MSFT", "AMZN", "JPM", "XOM", "PFE", "BRK.B")
_OWNERS = (("ZUCKERBERG MARK", "COB and CEO"), ("COOK TIMOTHY D", "CEO"), ("HUANG JEN HSUN", "President and CEO"),
           ("KIRKHORN ZACHARY", "CFO"), ("DOE JANE", None), ("MÜLLER ZOË", "Director"))
_CODES = ("S", "S", "P", "M", "A", "F", "G")
_POLITICIANS = (("Stephen Cohen", "Stephen C.", "house"), ("Deborah Ross", "Debby Ross", "house"),
                ("Tommy Tuberville", "Thomas H Tuberville", "senate"), ("Nancy Pelosi", "Nancy Pelosi", "house"))
_AMOUNTS = ("$1,001 - $15,000", "$15,001 - $50,000", "$50,001 - $100,000", "$100,001 - $250,000")
_TXN_TYPES = ("Buy", "Sell", "Sell (partial)", "Purchase", "Sale (Full)", "Exchange", "Receive")
_INSIDER_BOOLEANS = frozenset({"is_director", "is_officer", "is_s_p_500", "is_ten_percent_owner",
                               "common_stock_only", "group"})
_INSIDER_NUMBERS = frozenset(f"{edge}_{name}" for edge in ("min", "max") for name in (
    "value", "price", "marketcap", "earnings_dte", "amount"))
INSIDER_MALFORMS = malforms("filing_date", with_("price", "n/a"), with_("ticker", None), with_("amount", "lots"))
CONGRESS_MALFORMS = malforms("filed_at_date", with_("name", None), with_("ticker", 12345), with_("amounts", None))


def _days_back(api: Any, rng: random.Random, n: int, span: int) -> list[date]:
    """n filing dates over the `span` days before `now`, newest first."""
    today = api.now.date()
    return sorted((today - timedelta(days=below(rng, span)) for _ in range(n)), reverse=True)


def _insider(api: Any, rng: random.Random, key: Key) -> list[dict]:
    return [_insider_item(api, rng, day, serial) for serial, day in
            enumerate(_days_back(api, rng, api.insider_count, 30))]


def _more_insider(api: Any, rng: random.Random, key: Key, items: list[dict], n: int) -> list[dict]:
    """n filings of today, after every other."""
    return [_insider_item(api, rng, api.now.date(), len(items) + i) for i in range(n)][::-1]


def _insider_item(api: Any, rng: random.Random, filed: date, serial: int) -> dict:
    owner, title = pick(rng, _OWNERS)
    code = pick(rng, _CODES)
    amount = (1 + below(rng, 50_000)) * (-1 if code in ("S", "F", "G") else 1)
    price = Decimal(f"{5 + rng.random() * 700:.2f}")
    before = below(rng, 10**7)
    item: dict[str, Any] = {
        "amount": amount, "date_excercisable": None, "director_indirect": maybe_blank(rng, None),
        "expiration_date": None, "filing_date": filed.isoformat(), "formtype": pick(rng, ("4", "4", "144", "5")),
        "ids": [stable_uuid("insider-part", api.seed, serial)], "is_10b5_1": rng.random() < 0.3,
        "is_director": title in (None, "Director", "COB and CEO"), "is_officer": title not in (None, "Director"),
        "is_s_p_500": rng.random() < 0.6, "is_ten_percent_owner": rng.random() < 0.05,
        "marketcap": str(10**9 + below(rng, 10**12)), "natureofownership": maybe_blank(rng, "D"),
        "next_earnings_date": (filed + timedelta(days=20 + below(rng, 70))).isoformat(),
        "officer_title": title, "owner_name": owner,
        "price": str(price) if rng.random() < 0.9 else str(price.to_integral_value()),
        "price_excercisable": None, "sector": pick(rng, ("Technology", "Communication Services", "Energy")),
        "security_ad_code": None, "security_title": maybe_blank(rng, "Common Stock"),
        "shares_owned_after": before + amount if before + amount >= 0 else None,
        "shares_owned_before": before, "stock_price": maybe_blank(rng, str(price)),
        "ticker": pick(rng, _TICKERS), "transaction_code": code,
        "transaction_date": (filed - timedelta(days=below(rng, 3))).isoformat(), "transactions": 1 + below(rng, 4),
    }
    if serial % 10 != 9:  # the provider's id; some aggregated filings come without one
        item["id"] = stable_uuid("insider", api.seed, serial)
    return item


def _congress(api: Any, rng: random.Random, key: Key) -> list[dict]:
    return [_congress_item(rng, day) for day in _days_back(api, rng, api.congress_count, 60)]


def _more_congress(api: Any, rng: random.Random, key: Key, items: list[dict], n: int) -> list[dict]:
    return [_congress_item(rng, api.now.date()) for _ in range(n)]


def _congress_item(rng: random.Random, filed: date) -> dict:
    name, reporter, chamber = pick(rng, _POLITICIANS)
    item: dict[str, Any] = {
        "amounts": pick(rng, _AMOUNTS), "filed_at_date": filed.isoformat(), "is_active": rng.random() < 0.9,
        "issuer": pick(rng, ("not-disclosed", "joint", "self", "spouse")), "member_type": chamber,
        "name": name, "notes": maybe_blank(rng, f"Subholding Of: Brokerage Account stock {below(rng, 90_000)}"),
        "politician_id": stable_uuid("politician", name), "reporter": reporter,
        "ticker": pick(rng, _TICKERS), "transaction_date": (filed - timedelta(days=1 + below(rng, 40))).isoformat(),
        "txn_type": pick(rng, _TXN_TYPES),
    }
    if rng.random() < 0.3:
        item["asset_type"] = pick(rng, ("stock", "mutual-fund", "option"))  # a field the description lacks
    return item


class FilingFeeds:
    """Feeds "insider_transactions" and "congress_trades", one partition `()` each, newest first;
    `insider_count` (300) and `congress_count` (150) set their size before first use; `add_records`
    files new ones today, on top."""

    ROUTES = ((INSIDER_PATH, "_insider_transactions"), (CONGRESS_PATH, "_congress_trades"))
    FEEDS = {"insider_transactions": Feed(_insider, _more_insider, newest_first=True, malforms=INSIDER_MALFORMS),
             "congress_trades": Feed(_congress, _more_congress, newest_first=True, malforms=CONGRESS_MALFORMS)}

    def _init_filings(self) -> None:
        self.insider_count = 300
        self.congress_count = 150

    def _insider_transactions(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """`page` from 0, `limit` 1..500 (default 500). Filters applied: ticker_symbol (comma list),
        owner_name (case-blind part), is_director, is_officer, is_ten_percent_owner, is_s_p_500,
        transaction_codes[], min_price/max_price, start_date/end_date (transaction date); the other
        documented ones are checked for their type and otherwise ignored."""
        problems: list[str] = []
        limit = limit_of(req.query, 500, 500, problems)
        page = page_of(req.query, problems)
        check_types(req.pairs, _INSIDER_BOOLEANS, _INSIDER_NUMBERS, problems)
        start, end = date_of(req.query, "start_date", problems), date_of(req.query, "end_date", problems)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        q = req.query
        tickers = {t.strip().upper() for t in q.get("ticker_symbol", "").split(",") if t.strip()}
        codes = {v for n, v in req.pairs if n == "transaction_codes[]"}
        flags = {name: q[name] == "true" for name in ("is_director", "is_officer", "is_ten_percent_owner",
                                                      "is_s_p_500") if name in q}

        def keep(item: dict) -> bool:
            price = Decimal(str(item.get("price") or 0))
            return ((not tickers or item.get("ticker") in tickers)
                    and q.get("owner_name", "").lower() in str(item.get("owner_name")).lower()
                    and all(item.get(name) == wanted for name, wanted in flags.items())
                    and (not codes or item.get("transaction_code") in codes)
                    and ("min_price" not in q or price >= Decimal(q["min_price"]))
                    and ("max_price" not in q or price <= Decimal(q["max_price"]))
                    and (start is None or str(item.get("transaction_date")) >= start.isoformat())
                    and (end is None or str(item.get("transaction_date")) <= end.isoformat()))

        with self._lock:
            items = self._partition("insider_transactions", ()).items
            chosen = [i for i, item in enumerate(items) if keep(item)][page * limit:(page + 1) * limit]
            return json_response(200, {"data": self._served_records("insider_transactions", (), chosen)})

    def _congress_trades(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """At most `limit` (1..200, default 100) trades, newest first: filed on or before `date` when
        given (the fake's reading of "a trading date"), of `ticker` when given. No paging."""
        problems: list[str] = []
        limit = limit_of(req.query, 100, 200, problems)
        day = date_of(req.query, "date", problems)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        ticker = req.query.get("ticker", "").upper()
        with self._lock:
            items = self._partition("congress_trades", ()).items
            chosen = [i for i, item in enumerate(items)
                      if (day is None or str(item.get("filed_at_date")) <= day.isoformat())
                      and (not ticker or item.get("ticker") == ticker)][:limit]
            return json_response(200, {"data": self._served_records("congress_trades", (), chosen)})
