"""`GET /api/option-trades/flow-alerts`: options flow alerts, newest first, with the documented
filters, as a FakeApi mixin."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.quirks import (
    EPOCH,
    as_utc,
    below,
    malformed,
    malforms,
    maybe_null,
    pick,
    stable_uuid,
    to_ms,
    with_,
)
from tests.fakes.server import (
    RecordedRequest,
    Response,
    bounds_of,
    check_types,
    invalid,
    json_response,
    limit_of,
    within,
)

FLOW_PATH = "/api/option-trades/flow-alerts"
FLOW_MAX_LIMIT = 200
MALFORMS = malforms("created_at", with_("option_chain", "n/a"), with_("strike", "0.5"), with_("total_size", "lots"))
_FLOW_BOOLEANS = frozenset({
    "all_opening", "is_floor", "is_sweep", "is_call", "is_put", "is_ask_side", "is_bid_side", "is_otm",
    "is_multi_leg", "size_greater_oi", "vol_greater_oi",
})
_FLOW_NUMBERS = frozenset(f"{edge}_{name}" for edge in ("min", "max") for name in (
    "premium", "size", "volume", "open_interest", "volume_oi_ratio", "diff", "dte", "ask_perc", "bid_perc",
    "bull_perc", "bear_perc", "skew", "price", "iv_change", "size_vol_ratio", "spread", "marketcap",
))
_FLOW_LISTS = {"rule_name[]": "alert_rule", "issue_types[]": "issue_type"}
_FLOW_RULES = (
    "RepeatedHits", "RepeatedHitsAscendingFill", "RepeatedHitsDescendingFill", "FloorTradeSmallCap",
    "FloorTradeMidCap", "FloorTradeLargeCap", "OtmEarningsFloor", "LowHistoricVolumeFloor", "SweepsFollowedByFloor",
)
# (ticker, issue type, OCC root, a price): SPX weeklies trade under the root SPXW.
_FLOW_UNDERLYINGS = (
    ("SPY", "ETF", "SPY", 580), ("QQQ", "ETF", "QQQ", 500), ("AAPL", "Common Stock", "AAPL", 230),
    ("TSLA", "Common Stock", "TSLA", 250), ("NVDA", "Common Stock", "NVDA", 140), ("MSFT", "Common Stock", "MSFT", 420),
    ("SPX", "Index", "SPXW", 5800), ("BABA", "ADR", "BABA", 95), ("F", "Common Stock", "F", 11),
)


class FlowFeed:
    """Flow alert knobs: `flow_count` alerts over the three hours before `now`, a few sharing one instant."""

    ROUTES = ((FLOW_PATH, "_flow_alerts"),)

    def _init_flow(self, flow_count: int) -> None:
        if flow_count < 0:
            raise ValueError("flow_count must be >= 0")
        self._flow_rng = self.rng("flow")
        self._flow_serial = 0
        self._flow: list[tuple[int, dict[str, Any]]] = self._generate_flow(flow_count)

    def flow_alerts(self) -> list[dict]:
        """Every flow alert, newest first, as served without filters."""
        with self._lock:
            return [item for _, item in self._flow]

    def add_flow(self, n: int, *, at: datetime | None = None) -> list[dict]:
        """Publish n alerts newer than all others, or all created at `at` (a burst, or alerts
        published late). Returns them newest first."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            if at is not None:
                times = [to_ms(as_utc(at)) * 1000 + as_utc(at).microsecond % 1000] * n
            else:
                newest = self._flow[0][0] if self._flow else to_ms(self.now) * 1000
                times = sorted((newest + 1 + below(self._flow_rng, 4_000_000) for _ in range(n)), reverse=True)
            added = [(us, self._flow_item(us)) for us in times]
            for us, item in added:
                keys = [-existing for existing, _ in self._flow]
                self._flow.insert(bisect.bisect_right(keys, -us), (us, item))
            return [item for _, item in added]

    def twin_flow_alert(self, index: int) -> dict:
        """Publish a second alert that shares the option chain, rule and instant of alert `index` (newest
        first) but is another alert of the provider's, with an `id` of its own; returns it."""
        with self._lock:
            us, item = self._flow[index]
            twin = {**item, "id": stable_uuid(self.seed, f"twin:{self._flow_serial}"),
                    "total_size": item["total_size"] + 1}
            self._flow_serial += 1
            self._flow.insert(index + 1, (us, twin))
            return dict(twin)

    def _served_flow(self) -> list[Any]:
        items = [item for _, item in self._flow]
        return [malformed(item, len(items) - i, self._malformed_every, MALFORMS) for i, item in enumerate(items)]

    def _flow_alerts(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """`GET /api/option-trades/flow-alerts`: newest first, filtered by time and filters, at most `limit`.

        Of the documented filters, ticker_symbol, min_premium, max_premium, is_sweep, rule_name[]
        and issue_types[] filter; the others are checked for their type and otherwise ignored.
        """
        pairs = req.pairs or tuple(parse_qsl(raw_query, keep_blank_values=True))
        newer, older, limit, keep, problems = _flow_query(pairs)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        with self._lock:
            alerts = list(self._flow)
            inclusive, every = self.bounds_inclusive, self._malformed_every
        chosen = [(i, item) for i, (us, item) in enumerate(alerts)
                  if within(us // 1000, newer, older, inclusive) and keep(item)][:limit]
        data = [malformed(item, len(alerts) - i, every, MALFORMS) for i, item in chosen]
        return json_response(200, {"data": data})

    def _generate_flow(self, count: int) -> list[tuple[int, dict[str, Any]]]:
        """`count` alerts over the three hours before `now`, newest first (times in microseconds)."""
        rng = self._flow_rng
        top = to_ms(self.now) * 1000 - 2_000_000
        span = 3 * 3600 * 1_000_000
        times: list[int] = []
        while len(times) < count:
            us = top - below(rng, span)
            times += [us] * min(count - len(times), 1 if rng.random() < 0.9 else 2 + below(rng, 3))
        times.sort()
        return [(us, self._flow_item(us)) for us in times][::-1]

    def _flow_item(self, us: int) -> dict[str, Any]:
        """One alert with the live API's habits: numbers as strings, two timestamp spellings, extras."""
        rng = self._flow_rng
        serial = self._flow_serial
        self._flow_serial += 1
        ticker, issue_type, root, spot = pick(rng, _FLOW_UNDERLYINGS)
        created = EPOCH + timedelta(microseconds=us)
        expiry = created.date() + timedelta(days=(4 - created.weekday()) % 7 + 7 * below(rng, 6))
        kind = "call" if rng.random() < 0.55 else "put"
        step = Decimal("5") if spot > 100 else Decimal("1")
        strike = (Decimal(spot) * Decimal(str(round(0.8 + rng.random() * 0.4, 3))) / step).quantize(Decimal(1)) * step
        if rng.random() < 0.1:
            strike += Decimal("0.5")
        size = 10 + below(rng, 2000)
        price = Decimal(f"{0.05 + rng.random() * 20:.2f}")
        premium = price * size * 100
        ask = (premium * Decimal(str(round(rng.random(), 2)))).quantize(Decimal("0.01"))
        volume, oi = size + below(rng, 20_000), below(rng, 50_000)
        spelled = (created.strftime("%Y-%m-%d %H:%M:%S.%f+00:00") if serial % 2
                   else created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        item: dict[str, Any] = {
            "alert_rule": pick(rng, _FLOW_RULES),
            "all_opening_trades": rng.random() < 0.1,
            "created_at": spelled,
            "expiry": expiry.isoformat(),
            "expiry_count": 1,
            "has_floor": rng.random() < 0.1,
            "has_multileg": False,
            "has_singleleg": True,
            "has_sweep": rng.random() < 0.4,
            "issue_type": maybe_null(rng, issue_type),
            "open_interest": oi,
            "option_chain": f"{root}{expiry:%y%m%d}{'C' if kind == 'call' else 'P'}{int(strike * 1000):08d}",
            "price": str(price),
            "strike": str(int(strike)) if strike == strike.to_integral_value() else str(strike),
            "ticker": ticker,
            "total_ask_side_prem": str(ask),
            "total_bid_side_prem": str(premium - ask),
            "total_premium": str(premium),
            "total_size": size,
            "trade_count": 1 + below(rng, 40),
            "type": kind,
            "underlying_price": maybe_null(rng, f"{spot * (0.99 + rng.random() * 0.02):.2f}"),
            "volume": volume,
            "volume_oi_ratio": str(Decimal(volume) / max(oi, 1)),
        }
        if rng.random() < 0.3:  # fields live alerts carry that the description lacks
            item.update({"iv_start": f"{rng.random():.4f}", "marketcap": str(10**9 + below(rng, 10**12))})
        # The live API's own ids (UUIDs, as in the websocket samples); some alerts come without `id`.
        # Derived from the serial, not drawn: the rest of the feed stays what the seed made it.
        if serial % 10 != 9:
            item["id"] = stable_uuid(self.seed, serial)
        item["rule_id"] = stable_uuid("rule", item["alert_rule"])
        return item


def _flow_query(
    pairs: tuple[tuple[str, str], ...],
) -> tuple[int | None, int | None, int, Callable[[dict], bool], list[str]]:
    """Parse bounds, limit (1..200, default 100) and filters; the predicate keeps what the filters allow."""
    query = dict(pairs)
    problems: list[str] = []
    newer, older = bounds_of(query, problems)
    limit = limit_of(query, 100, FLOW_MAX_LIMIT, problems)
    check_types(pairs, _FLOW_BOOLEANS, _FLOW_NUMBERS, problems)
    if problems:
        return None, None, 0, lambda _: True, problems
    lists = {field: {v for n, v in pairs if n == name} for name, field in _FLOW_LISTS.items()
             if any(n == name for n, _ in pairs)}

    def keep(item: dict) -> bool:
        if not isinstance(item, dict):
            return True
        tickers = query.get("ticker_symbol")
        if tickers:
            listed = {t.strip().upper() for t in tickers.lstrip("-").split(",")}
            if (item.get("ticker") in listed) == tickers.startswith("-"):
                return False
        premium = Decimal(str(item.get("total_premium") or 0))
        if "min_premium" in query and premium < Decimal(query["min_premium"]):
            return False
        if "max_premium" in query and premium > Decimal(query["max_premium"]):
            return False
        if "is_sweep" in query and item.get("has_sweep") != (query["is_sweep"] == "true"):
            return False
        return all(item.get(field) in allowed for field, allowed in lists.items())

    return newer, older, limit or 0, keep, []
