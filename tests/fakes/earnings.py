"""`GET /api/earnings/premarket` and `/api/earnings/afterhours`: the companies reporting on a date,
in pages, as a FakeApi mixin. Past dates carry results; later ones `actual_eps` null or `""`."""

from __future__ import annotations

import random
import string
from datetime import date, timedelta
from typing import Any

from tests.fakes.quirks import below, malforms, maybe_blank, pick, with_
from tests.fakes.records import Feed, Key
from tests.fakes.server import (
    RecordedRequest,
    Response,
    date_of,
    invalid,
    json_response,
    limit_of,
    page_of,
)
from vvv.core.calendar import NY, is_trading_day, previous_trading_day

EARNINGS_PREFIX = "/api/earnings/"
_REPORT_TIMES = {"premarket": "premarket", "afterhours": "postmarket"}
_SECTORS = ("Technology", "Healthcare", "Real Estate", "Basic Materials", "Energy", "Financial Services")
_COUNTRIES = (("North America", "US", "UNITED STATES"), ("Europe", "LU", "LUXEMBOURG"),
              ("Asia", "JP", "JAPAN"), ("North America", "CA", "CANADA"))
MALFORMS = malforms("report_date", with_("symbol", None), with_("symbol", 12345), with_("marketcap", "lots"))


def _earnings(api: Any, rng: random.Random, key: Key) -> list[dict]:
    """20 to 150 companies for (variant, day), by market cap, so that some days take two pages."""
    variant, day = key
    return _companies(api, rng, variant, day, 20 + below(rng, 131), set())


def _more_earnings(api: Any, rng: random.Random, key: Key, items: list[dict], n: int) -> list[dict]:
    """Companies that announce a report date late; they come after the others."""
    variant, day = key
    return _companies(api, rng, variant, day, n, {item.get("symbol") for item in items})


def _companies(api: Any, rng: random.Random, variant: str, day: date, n: int, taken: set) -> list[dict]:
    reported = day < api.now.astimezone(NY).date()
    items = []
    for _ in range(n):
        symbol = "".join(pick(rng, string.ascii_uppercase) for _ in range(2 + below(rng, 3)))
        while symbol in taken:
            symbol += pick(rng, string.ascii_uppercase)
        taken.add(symbol)
        items.append(_company(rng, symbol, _REPORT_TIMES[variant], day, reported))
    return sorted(items, key=lambda item: -int(item["marketcap"]))


def _company(rng: random.Random, symbol: str, report_time: str, day: date, reported: bool) -> dict:
    close = 5 + rng.random() * 500
    estimate = round(rng.random() * 4 - 0.5, 2)
    reaction = rng.random() * 0.2 - 0.1
    continent, code, country = pick(rng, _COUNTRIES)
    before = previous_trading_day(day)
    after = day if report_time == "premarket" else _next_trading_day(day)
    quarter_end = date(day.year, (day.month - 1) // 3 * 3 + 1, 1) - timedelta(days=1)
    item: dict[str, Any] = {
        "actual_eps": f"{estimate + rng.random() - 0.5:.2f}" if reported else maybe_blank(rng, None),
        "continent": continent,
        "country_code": code,
        "country_name": country,
        "ending_fiscal_quarter": quarter_end.isoformat(),
        "expected_move": f"{close * 0.07:.2f}",
        "expected_move_perc": f"{0.02 + rng.random() * 0.1:.4f}",
        "full_name": f"{symbol} HOLDINGS INC",
        "has_options": rng.random() < 0.8,
        "is_s_p_500": rng.random() < 0.1,
        "marketcap": str(10**8 + below(rng, 10**12)),
        "post_earnings_close": f"{close * (1 + reaction):.2f}" if reported else None,
        "post_earnings_date": after.isoformat() if reported else None,
        "pre_earnings_close": f"{close:.2f}",
        "pre_earnings_date": before.isoformat(),
        "reaction": f"{reaction:.3f}" if reported else maybe_blank(rng, None),
        "report_date": day.isoformat(),
        "report_time": report_time,
        "sector": maybe_blank(rng, pick(rng, _SECTORS)),
        "source": pick(rng, ("company", "estimation")),
        "street_mean_est": f"{estimate:.2f}" if rng.random() < 0.9 else "",
        "symbol": symbol,
    }
    if rng.random() < 0.3:  # live items carry fields the description lacks
        item["implied_move_30d"] = f"{rng.random():.4f}"
    return item


def _next_trading_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


class EarningsFeed:
    """Feed "earnings", partitions (variant, day): variant "premarket" or "afterhours" (the path's),
    day the report date. `add_records` adds late announced companies at the end."""

    ROUTES = ((EARNINGS_PREFIX + "(premarket|afterhours)", "_earnings"),)
    FEEDS = {"earnings": Feed(_earnings, _more_earnings, newest_first=False, malforms=MALFORMS)}

    def _earnings(self, req: RecordedRequest, raw_query: str, host: str, variant: str) -> Response:
        """`date` (any date; default the last market day), `page` from 0, `limit` 1..100 (default 50)."""
        problems: list[str] = []
        day = date_of(req.query, "date", problems) or self.market_day
        limit = limit_of(req.query, 50, 100, problems)
        page = page_of(req.query, problems)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        key = (variant, day)
        with self._lock:
            total = len(self._partition("earnings", key).items)
            chosen = list(range(total))[page * limit:(page + 1) * limit]
            return json_response(200, {"data": self._served_records("earnings", key, chosen)})
