"""`GET /api/market/economic-calendar` (the whole calendar, one answer) and
`GET /api/market/fda-calendar` (FDA events filtered by target date, ticker and drug), as a
FakeApi mixin."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.fakes.quirks import below, malforms, maybe_blank, pick, with_
from tests.fakes.records import Feed, Key
from tests.fakes.server import (
    RecordedRequest,
    Response,
    date_of,
    invalid,
    iso_date,
    json_response,
    limit_of,
)

ECONOMIC_CALENDAR_PATH = "/api/market/economic-calendar"
FDA_CALENDAR_PATH = "/api/market/fda-calendar"
_TARGET = re.compile(r"([0-9]{4})-(Q[1-4]|H[1-2]|MID|LATE|[0-9]{2}-[0-9]{2})")
_ECONOMIC_EVENTS = (
    ("CPI", "report", "10:30", "0.3%"), ("Initial jobless claims", "report", "12:30", "221K"),
    ("FOMC rate decision", "fomc", "18:00", None), ("Fed Chair Powell speaks", "fed-speaker", "14:00", None),
    ("Consumer sentiment (final)", "report", "14:00", "69.4"), ("PCE index", "report", "12:30", "0.2%"),
)
_FDA_COMPANIES = (("IOVA", "Lifileucel", "Advanced Melanoma"), ("MRNA", "mRNA-1345", "RSV"),
                  ("VRTX", "Suzetrigine", "Acute Pain"), ("SRPT", "Elevidys", "Duchenne Muscular Dystrophy"),
                  ("ALNY", "Vutrisiran", "ATTR Cardiomyopathy"), ("AXSM", "AXS-07", "Migraine"),
                  ("BMY", "Cobenfy", "Schizophrenia"), ("LLY", "Donanemab", "Alzheimer's Disease"),
                  ("NVO", "CagriSema", "Obesity"), ("REGN", "Odronextamab", "Follicular Lymphoma"))
_CATALYSTS = ("PDUFA Date", "Advisory Committee Meeting", "Phase 3 Data Readout", "Phase 2 Data Readout")
_STATUSES = ("NDA", "BLA", "sNDA", "sBLA", "Phase 3", "Phase 2")
FDA_MALFORMS = malforms("start_date", with_("ticker", None), with_("drug", 12345), with_("marketcap", "lots"))


def _economic_events(now: datetime, rng: random.Random) -> list[dict]:
    """Deterministic events over this week and next, both timestamp spellings, nulls as the API sends."""
    monday = (now - timedelta(days=now.weekday())).date()
    events = []
    for day in range(10):
        when = monday + timedelta(days=day + (day // 5) * 2)
        name, kind, at, forecast = _ECONOMIC_EVENTS[day % len(_ECONOMIC_EVENTS)]
        moment = datetime.combine(when, datetime.strptime(at, "%H:%M").time(), tzinfo=UTC)
        events.append({
            "event": name,
            "time": moment.isoformat(sep=" ") if day % 2 else moment.isoformat().replace("+00:00", "Z"),
            "type": kind,
            "reported_period": moment.strftime("%B") if kind == "report" else None,
            "forecast": forecast if rng.random() < 0.8 else None,
            "prev": forecast,
        })
    return events


def _fda_events(api: Any, rng: random.Random, key: Key) -> list[dict]:
    """`fda_count` events from 60 days before `now` to 180 after, by target date; each (ticker, drug,
    catalyst) once. Passed ones carry an outcome."""
    today = api.now.date()
    events = []
    for serial in range(api.fda_count):
        ticker, drug, indication = _FDA_COMPANIES[serial % len(_FDA_COMPANIES)]
        catalyst = _CATALYSTS[(serial // len(_FDA_COMPANIES)) % len(_CATALYSTS)]
        if serial >= len(_FDA_COMPANIES) * len(_CATALYSTS):
            drug = f"{drug}-{serial}"
        start = today + timedelta(days=below(rng, 240) - 60)
        events.append(_fda_event(rng, ticker, drug, indication, catalyst, start, today))
    return sorted(events, key=lambda event: (event["start_date"], event["ticker"], event["drug"]))


def _more_fda(api: Any, rng: random.Random, key: Key, items: list[dict], n: int) -> list[dict]:
    """New events (new drugs), announced now for dates ahead."""
    today = api.now.date()
    return [_fda_event(rng, "NEWB", f"NB-{len(items) + i}", "Psoriasis", "PDUFA Date",
                       today + timedelta(days=30 + below(rng, 120)), today) for i in range(n)]


def _fda_event(rng: random.Random, ticker: str, drug: str, indication: str, catalyst: str, start: date,
               today: date) -> dict:
    ranged = rng.random() < 0.2  # a window, e.g. "in Q3", rather than one day
    end = start + timedelta(days=30 + below(rng, 60)) if ranged else start
    passed = end < today
    event: dict[str, Any] = {
        "catalyst": catalyst,
        "description": f"FDA decision for {drug} in {indication.lower()}",
        "drug": drug,
        "end_date": end.isoformat(),
        "has_options": rng.random() < 0.9,
        "indication": indication,
        "marketcap": str(10**8 + below(rng, 10**12)),
        "notes": maybe_blank(rng, "Important milestone for the company's drug pipeline"),
        "outcome": pick(rng, ("Approved", "CRL", "Positive", "Delayed")) if passed else None,
        "outcome_brief": maybe_blank(rng, "Met primary endpoint") if passed else None,
        "source_link": maybe_blank(rng, f"https://www.fda.gov/news-events/{drug.lower()}"),
        "start_date": start.isoformat(),
        "status": pick(rng, _STATUSES),
        "ticker": ticker,
    }
    if rng.random() < 0.3:  # live events carry fields the description lacks
        event["announced_date"] = (start - timedelta(days=90 + below(rng, 200))).isoformat()
    return event


def target_range(text: str, last: bool) -> date | None:
    """The first (or last) day a target date names: `2024-Q1`, `2024-H2`, `2024-MID`, `2024-LATE`, a date."""
    match = _TARGET.fullmatch(text)
    if match is None:
        return None
    year, part = int(match[1]), match[2]
    months = {"Q1": (1, 3), "Q2": (4, 6), "Q3": (7, 9), "Q4": (10, 12), "H1": (1, 6), "H2": (7, 12),
              "MID": (5, 8), "LATE": (9, 12)}.get(part)
    if months is None:
        return iso_date(text)
    if not last:
        return date(year, months[0], 1)
    return date(year + months[1] // 12, months[1] % 12 + 1, 1) - timedelta(days=1)


class CalendarFeeds:
    """The economic calendar (`economic_events`, `revise_economic_event`) and the FDA calendar:
    feed "fda_calendar", one partition `()`, `fda_count` events (default 60)."""

    ROUTES = ((ECONOMIC_CALENDAR_PATH, "_economic_calendar"), (FDA_CALENDAR_PATH, "_fda_calendar"))
    FEEDS = {"fda_calendar": Feed(_fda_events, _more_fda, newest_first=False, malforms=FDA_MALFORMS)}

    def _init_calendar(self) -> None:
        self.economic_events: list[dict] = _economic_events(self.now, self.rng("economic"))
        """The calendar served whole, as the API does: this week and next, nulls where it has no number."""
        self.fda_count = 60

    def revise_economic_event(self, index: int, **changes: Any) -> dict:
        """Change an event as the API does when a forecast is revised; returns the new version."""
        with self._lock:
            self.economic_events[index] = {**self.economic_events[index], **changes}
            return dict(self.economic_events[index])

    def _economic_calendar(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """`GET /api/market/economic-calendar`: no parameters, the whole calendar in one answer."""
        with self._lock:
            return json_response(200, {"data": [dict(event) for event in self.economic_events]})

    def _fda_calendar(self, req: RecordedRequest, raw_query: str, host: str) -> Response:
        """`GET /api/market/fda-calendar`: events by target date (start_date ascending), at most `limit`
        (1..200, default 100). target_date_min keeps events whose window ends on or after it,
        target_date_max those starting on or before it; ticker is exact, drug a case-blind
        substring; announced_date_min/max are checked and, as the description gives no field, ignored."""
        problems: list[str] = []
        limit = limit_of(req.query, 100, 200, problems)
        for name in ("announced_date_min", "announced_date_max"):
            date_of(req.query, name, problems)
        low = high = None
        for name in ("target_date_min", "target_date_max"):
            if name in req.query:
                edge = target_range(req.query[name], last=name.endswith("max"))
                if edge is None:
                    problems.append(f"{name}={req.query[name]} (valid example: {name}=2024-Q1)")
                low, high = (edge, high) if name.endswith("min") else (low, edge)
        if problems:
            return invalid(req, raw_query, host, query=problems)
        ticker, drug = req.query.get("ticker", "").upper(), req.query.get("drug", "").lower()
        with self._lock:
            items = self._partition("fda_calendar", ()).items
            chosen = [i for i, event in enumerate(items)
                      if (low is None or event["end_date"] >= low.isoformat())
                      and (high is None or event["start_date"] <= high.isoformat())
                      and (not ticker or event["ticker"] == ticker)
                      and drug in str(event["drug"]).lower()][:limit]
            return json_response(200, {"data": self._served_records("fda_calendar", (), chosen)})
