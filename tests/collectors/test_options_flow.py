"""The options flow collector's contract: parse, identity, the option symbol, filters, and paging by time.

The paging tests drive the pure functions as the runner does (begin, then next_request / parse /
validate / advance after every page) against a model of the endpoint that serves ties in an
order that changes from request to request, under either reading of its bounds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rescan import check_fold
from strategies import (
    api_integers,
    api_numbers,
    aware_datetimes,
    json_values,
    json_values_of,
    refused,
    space_spelling,
    spellings,
    z_spelling,
)

from vvv.collectors import options_flow
from vvv.core.base import HALT_MARK, Halt, Page, Request, record_row, warnings_over
from vvv.core.convert import CONVERTER
from vvv.core.paging import SweepCursor
from vvv.core.params import Param, query

NOW = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)

roots = st.from_regex(r"[A-Z][A-Z0-9.]{0,5}", fullmatch=True)
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
strikes = st.integers(min_value=0, max_value=99_999_999).map(lambda n: Decimal(n) / 1000)
symbols = st.builds(options_flow.OptionSymbol, roots, expiries, st.sampled_from(["call", "put"]), strikes)


def _spelled_strike(strike: Decimal) -> str:
    return str(int(strike)) if strike == strike.to_integral_value() else str(strike)


@st.composite
def alert_items(draw: st.DrawFn) -> dict[str, Any]:
    """An alert as the API sends it: the symbol and the fields restating it agree, numbers often as strings."""
    symbol = draw(symbols)
    item: dict[str, Any] = {
        "created_at": draw(aware_datetimes.flatmap(spellings)),
        "option_chain": str(symbol),
        "alert_rule": draw(st.sampled_from(options_flow.RULE_NAMES) | st.text(min_size=1, max_size=8)),
    }
    restated = {
        "ticker": st.none() | st.just(symbol.root),
        "expiry": st.none() | st.just(symbol.expiry.isoformat()),
        "type": st.none() | st.sampled_from([symbol.option_type, symbol.option_type.capitalize()]),
        "strike": st.none() | st.sampled_from([_spelled_strike(symbol.strike), str(symbol.strike)]),
    }
    optional = {
        **dict.fromkeys(("price", "underlying_price", "total_premium", "total_ask_side_prem",
                         "total_bid_side_prem", "volume_oi_ratio"), st.none() | api_numbers),
        **dict.fromkeys(("total_size", "trade_count", "volume", "open_interest", "expiry_count"),
                        st.none() | api_integers),
        **dict.fromkeys(("has_sweep", "has_floor", "has_multileg", "has_singleleg", "all_opening_trades"),
                        st.none() | st.booleans()),
        "issue_type": st.none() | st.sampled_from(options_flow.ISSUE_TYPES),
    }
    item.update(draw(st.fixed_dictionaries({}, optional={**restated, **optional})))
    item.update(draw(st.dictionaries(st.sampled_from(["iv_start", "marketcap", "x"]), json_values, max_size=2)))
    return item


def _record(item: dict[str, Any]) -> options_flow.Alert:
    records, rejects = options_flow.COLLECTOR.parse({"data": [item]})
    assert rejects == [], rejects
    return records[0]


wrong_types = st.fixed_dictionaries({}, optional={
    name: json_values_of(st.text(max_size=6)) for name in (
        "created_at", "option_chain", "alert_rule", "ticker", "expiry", "type", "strike", "price", "total_size",
        "has_sweep", "volume",
    )
})
payloads = json_values | st.lists(json_values | alert_items() | wrong_types
                                  | st.builds(lambda a, b: {**a, **b}, alert_items(), wrong_types),
                                  max_size=6).map(lambda data: {"data": data})


@given(payloads)
@example(None)
@example({"data": None})
@example({"data": [None, "x", 1, [], {}]})
def test_parse_never_raises_and_accounts_for_every_item(payload):
    before = repr(payload)
    records, rejects = options_flow.COLLECTOR.parse(payload)
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, list):
        assert len(records) + len(rejects) == len(data)
    else:
        assert records == [] and len(rejects) == 1 and rejects[0].raw is payload
    assert all(isinstance(r.reason, str) and r.reason for r in rejects)
    assert repr(payload) == before


@given(alert_items())
def test_a_well_formed_alert_becomes_a_record_with_its_symbol_taken_apart(item):
    record = _record(item)
    symbol = options_flow.parse_option_symbol(item["option_chain"])
    assert (record.underlying, record.expiry, record.option_type, record.strike) == (
        symbol.root, symbol.expiry, symbol.option_type, symbol.strike)
    assert record.created_at.utcoffset() == timedelta(0)
    assert set(record.extra) == set(item) - set(options_flow.ITEM.names)
    assert len(record_row(record)) == len(options_flow.SPEC.columns)
    assert [a.name for a in attrs.fields(options_flow.Alert)] == list(options_flow.SPEC.column_names)


def test_the_example_of_the_api_description_parses_with_numeric_strike_and_date_expiry():
    item = {"alert_rule": "RepeatedHits", "all_opening_trades": False, "created_at": "2023-12-12 16:35:52.168490+00:00",
            "expiry": "2023-12-22", "expiry_count": 1, "has_floor": False, "has_multileg": False,
            "has_singleleg": True, "has_sweep": True, "issue_type": "Common Stock", "open_interest": 7913,
            "option_chain": "MSFT231222C00375000", "price": "4.05", "strike": "375", "ticker": "MSFT",
            "total_ask_side_prem": "151875", "total_bid_side_prem": "405", "total_premium": "186705",
            "total_size": 461, "trade_count": 32, "type": "call", "underlying_price": "372.99", "volume": 2442,
            "volume_oi_ratio": "0.30860609124226"}
    record = _record(item)
    assert record.strike == Decimal("375") and record.expiry == date(2023, 12, 22)
    assert record.total_premium == Decimal("186705") and record.volume_oi_ratio == Decimal("0.30860609124226")
    assert refused(options_flow, record, NOW) is None


@given(alert_items(), aware_datetimes)
def test_identity_is_stable_across_timestamp_spellings_and_measurements(item, moment):
    """Every spelling of one instant, and any change to what the alert measures, keeps the id."""
    first = _record({**item, "created_at": z_spelling(moment)})
    second = _record({**item, "created_at": space_spelling(moment.astimezone(UTC)), "total_premium": "1",
                      "volume": 7, "price": None, "new_field": 1})
    assert first.id == second.id


@given(alert_items(), st.sampled_from(["option_chain", "alert_rule", "created_at"]))
def test_identity_changes_with_each_identifying_field(item, field):
    record = _record(item)
    changed = {"option_chain": "ZZZZZZ991231P99999999", "alert_rule": record.alert_rule + "x",
               "created_at": z_spelling(record.created_at + timedelta(microseconds=1))}[field]
    other = {k: v for k, v in item.items() if k not in ("ticker", "expiry", "type", "strike")}
    assert _record({**other, field: changed}).id != record.id


@given(alert_items(), st.uuids(), st.uuids(), st.uuids())
def test_the_providers_id_is_the_identity_when_it_sent_one(item, one, other, rule):
    """Live alerts carry `id`: two alerts of one rule on one contract at one instant are two alerts."""
    first = _record({**item, "id": str(one), "rule_id": str(rule)})
    second = _record({**item, "id": str(other), "rule_id": str(rule)})
    assert (first.id, first.rule_id) == (str(one), str(rule))
    assert (second.id != first.id) == (one != other)
    assert "id" not in first.extra and "rule_id" not in first.extra


@given(alert_items(), st.sampled_from([None, ""]))
def test_without_the_providers_id_the_identity_is_the_hash(item, missing):
    hashed = options_flow.alert_id(option_chain=item["option_chain"], alert_rule=item["alert_rule"],
                                   created_at=_record(item).created_at)
    assert _record(item).id == hashed
    assert _record({**item, "id": missing, "rule_id": missing}).id == hashed


@given(symbols)
def test_an_option_symbol_round_trips(symbol):
    assert options_flow.parse_option_symbol(str(symbol)) == symbol


@pytest.mark.parametrize("text", ["", "AAPL", "AAPL230317X00150000", "AAPL231317C00150000", "aapl230317C00150000",
                                  "AAPL230317C0015000", "TOOLONGX230317C00150000", 12, None])
def test_a_text_that_is_no_option_symbol_is_a_reject_naming_option_chain(text):
    item = {"created_at": "2023-03-01T15:00:00Z", "option_chain": text, "alert_rule": "RepeatedHits"}
    records, rejects = options_flow.COLLECTOR.parse({"data": [item]})
    assert records == [] and "option_chain" in rejects[0].reason and rejects[0].raw is item


@given(alert_items(), st.sampled_from(["ticker", "expiry", "type", "strike"]))
def test_a_field_that_contradicts_the_symbol_is_a_reject_naming_it(item, field):
    symbol = options_flow.parse_option_symbol(item["option_chain"])
    wrong = {"ticker": symbol.root + "X", "expiry": (symbol.expiry + timedelta(days=1)).isoformat(),
             "type": "put" if symbol.option_type == "call" else "call", "strike": str(symbol.strike + 1)}[field]
    records, rejects = options_flow.COLLECTOR.parse({"data": [{**item, field: wrong}]})
    assert records == []
    assert rejects[0].reason.startswith(f"option_chain {symbol} disagrees with {field} ")


@pytest.mark.parametrize("chain, ticker", [("SPXW231222C04700000", "SPX"), ("AAPL1231222C00150000", "AAPL"),
                                           ("BRK.B231222C00400000", "BRK.B")])
def test_index_weeklies_and_adjusted_roots_agree_with_their_ticker(chain, ticker):
    record = _record({"created_at": "2023-12-12T16:35:52Z", "option_chain": chain, "alert_rule": "RepeatedHits",
                      "ticker": ticker})
    assert record.underlying == chain[:-15] and record.ticker == ticker


def test_validate_rejects_the_future_and_names_the_rule():
    item = {"created_at": z_spelling(NOW + timedelta(minutes=6)), "option_chain": "SPY260320C00580000",
            "alert_rule": "RepeatedHits"}
    assert "in the future" in refused(options_flow, _record(item), NOW)
    assert refused(options_flow, _record({**item, "created_at": z_spelling(NOW)}), NOW) is None
    assert "bigint" in refused(options_flow, _record({**item, "created_at": z_spelling(NOW), "volume": 2**63}), NOW)


# Filters.

_GOOD = {"integer": st.integers(min_value=0, max_value=10**9), "boolean": st.booleans(),
         "tickers": st.sampled_from(["AAPL", "AAPL,INTC", "-SPY,QQQ", "brk.b"])}


def _good_value(spec: Param) -> st.SearchStrategy[Any]:
    if spec.kind == "choices":
        return st.lists(st.sampled_from(spec.choices), min_size=1, max_size=3)
    if spec.kind == "number":
        low, high = spec.low if spec.low is not None else -1e6, spec.high if spec.high is not None else 1e6
        return st.integers(min_value=math.ceil(low), max_value=math.floor(high)) | st.floats(low, high)
    return _GOOD[spec.kind]


good_filters = st.dictionaries(st.sampled_from(sorted(options_flow.FILTERS)), st.none(), max_size=6).flatmap(
    lambda names: st.fixed_dictionaries({n: _good_value(options_flow.FILTERS[n]) for n in names}))


@given(good_filters)
def test_documented_filters_are_accepted_and_go_into_every_request(filters):
    settings = options_flow.Settings(filters=filters)
    params = query(options_flow.FILTERS, settings.filters)
    assert [name.removesuffix("[]") for name, _ in params] == sorted(filters, key=list(options_flow.FILTERS).index)
    for name, value in params:
        given_value = filters[name.removesuffix("[]")]
        if name.endswith("[]"):
            assert value == tuple(dict.fromkeys(given_value))
        elif isinstance(given_value, bool):
            assert value == str(given_value).lower()
        elif isinstance(given_value, int | float):
            assert Decimal(value) == Decimal(repr(given_value)) and "e" not in value.lower()
    start = options_flow.COLLECTOR.begin(None, "", NOW, settings)
    first = options_flow.COLLECTOR.next_request(start, None, None, settings)
    assert first.params[len(first.params) - len(params):] == params


@pytest.mark.parametrize("filters, error, key", [
    ({"min_premum": 1}, ValueError, "filters.min_premum"),
    ({"rule_name[]": ["RepeatedHits"]}, ValueError, "filters.rule_name[]"),
    ({"limit": 5}, ValueError, "filters.limit"),
    ({"is_sweep": "true"}, TypeError, "filters.is_sweep"),
    ({"is_sweep": 1}, TypeError, "filters.is_sweep"),
    ({"min_size": 1.5}, TypeError, "filters.min_size"),
    ({"min_dte": True}, TypeError, "filters.min_dte"),
    ({"min_dte": -1}, ValueError, "filters.min_dte"),
    ({"max_ask_perc": 1.5}, ValueError, "filters.max_ask_perc"),
    ({"min_premium": float("nan")}, ValueError, "filters.min_premium"),
    ({"rule_name": "RepeatedHits"}, TypeError, "filters.rule_name"),
    ({"rule_name": []}, TypeError, "filters.rule_name"),
    ({"issue_types": ["Stock"]}, ValueError, "filters.issue_types"),
    ({"ticker_symbol": ["AAPL"]}, TypeError, "filters.ticker_symbol"),
    ({"ticker_symbol": "AAPL, INTC"}, TypeError, "filters.ticker_symbol"),
])
def test_an_unknown_filter_or_a_wrong_type_is_an_error_naming_it(filters, error, key):
    with pytest.raises(error, match=key.replace("[", r"\[").replace("]", r"\]")):
        options_flow.Settings(filters=filters)


def test_settings_come_from_toml_values_through_the_converter():
    settings = CONVERTER.structure({"first_run_hours": 3, "filters": {"issue_types": ["ETF", "Index"],
                                                                      "min_premium": 12500.5}},
                                   options_flow.Settings)
    assert settings.filters == {"issue_types": ("ETF", "Index"), "min_premium": 12500.5}
    assert options_flow.Settings() == options_flow.Settings(page_size=200, lookback_seconds=300, max_pages=100,
                                                            first_run_hours=1, filters={})
    with pytest.raises(ValueError, match="page_size"):
        options_flow.Settings(page_size=201)


# The paging model.

def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // MS


class Feed:
    """The endpoint as a model: alerts (microsecond, id), ties in an order that changes per request."""

    def __init__(self, *, inclusive: bool) -> None:
        self.inclusive = inclusive
        self.alerts: list[tuple[int, int]] = []

    def publish(self, times_us: Sequence[int]) -> None:
        start = len(self.alerts)
        self.alerts += [(us, start + i) for i, us in enumerate(times_us)]

    def respond(self, request: Request) -> dict[str, Any]:
        assert request.path == options_flow.PATH
        params = dict(request.params)
        assert set(params) <= {"limit", "newer_than", "older_than", "min_premium"}
        limit = int(params["limit"])
        assert 1 <= limit <= options_flow.MAX_PAGE_SIZE
        newer, older = (int(params[k]) if k in params else None for k in ("newer_than", "older_than"))

        def inside(us: int) -> bool:
            ms = us // 1000
            if self.inclusive:
                return (newer is None or ms >= newer) and (older is None or ms <= older)
            return (newer is None or ms > newer) and (older is None or ms < older)

        ties = random.Random(repr(sorted(params.items())))
        chosen = sorted((a for a in self.alerts if inside(a[0])), key=lambda a: (-a[0], ties.random()))
        return {"data": [self._item(us, n) for us, n in chosen[:limit]]}

    @staticmethod
    def _item(us: int, n: int) -> dict[str, Any]:
        moment = EPOCH + timedelta(microseconds=us)
        spelled = z_spelling(moment) if n % 2 else space_spelling(moment)
        return {"created_at": spelled, "option_chain": f"SPY260320C{n:08d}", "alert_rule": "RepeatedHits",
                "total_premium": "125000"}


def collect(feed: Feed, cursor: SweepCursor | None, settings: options_flow.Settings, now: datetime):
    """One pass composed as the runner does; returns the saved cursor, the ids fetched, requests and warnings."""
    start = options_flow.COLLECTOR.begin(cursor, "", now, settings)
    pages: list[Page] = []
    saved = cursor
    request = options_flow.COLLECTOR.next_request(start, None, None, settings)
    while request is not None:
        assert len(pages) < settings.max_pages, "a pass did not stop at its page cap"
        payload = feed.respond(request)
        records, rejects = options_flow.COLLECTOR.parse(payload)
        assert rejects == [] and all(refused(options_flow, r, now) is None for r in records)
        page = Page(request=request, received=len(payload["data"]), records=tuple(records))
        saved = options_flow.COLLECTOR.advance(start, start if not pages else saved, page, settings)
        pages.append(page)
        check_fold(options_flow, start, saved, pages, settings)
        request = options_flow.COLLECTOR.next_request(start, request, page, settings)
    saved = CONVERTER.structure(CONVERTER.unstructure(saved), SweepCursor) if saved else saved
    ids = {int(r.option_chain[-8:]) for p in pages for r in p.records}
    return saved, ids, len(pages), warnings_over(options_flow.COLLECTOR.warnings, start, pages, settings)


flow_settings = st.builds(options_flow.Settings, page_size=st.integers(min_value=1, max_value=6),
                          lookback_seconds=st.sampled_from([0, 1, 5, 60]),
                          max_pages=st.sampled_from([1, 2, 3, 1000]), first_run_hours=st.just(1),
                          filters=st.sampled_from([{}, {"min_premium": 100}]))
# Gaps between alerts in microseconds: ties, the same millisecond, the next, seconds apart.
gaps = st.lists(st.sampled_from([0, 0, 1, 400, 1000, 1500, 1_000_000, 7_000_000]), min_size=0, max_size=20)


@given(flow_settings, st.booleans(), gaps, st.lists(st.tuples(gaps, st.lists(st.integers(0, 60_000_000),
                                                                            max_size=3)), max_size=5))
def test_after_any_history_every_alert_served_in_the_window_is_fetched_once_the_passes_catch_up(
        settings, inclusive, first, later):
    """New alerts arrive between passes, some late (older than the newest, within the lookback);
    whatever the bounds mean, the passes end with every alert fetched but those a warning names."""
    feed = Feed(inclusive=inclusive)
    now = NOW
    since_us = _ms(now - timedelta(hours=settings.first_run_hours)) * 1000
    t = since_us - 3_000_000  # some alerts before the first pass's window
    for gap in first:
        t += gap
        feed.publish([t])
    cursor, fetched, warned = None, set(), []
    for new, late in [((), ()), *later]:
        for gap in new:
            t += gap
            feed.publish([t])
        if cursor is not None and cursor.newest is not None and cursor.cut_at is None:
            newest_us = _ms(cursor.newest) * 1000
            feed.publish([max(since_us, newest_us - min(offset, settings.lookback_seconds * 1_000_000))
                          for offset in late])
        cursor, ids, _, warnings = collect(feed, cursor, settings, now)
        fetched |= ids
        warned += warnings
    for _ in range(200):  # catch up: passes with nothing new until nothing is owed
        if cursor is None or (cursor.resume_before is None and cursor.cut_at is None):
            break
        cursor, ids, _, warnings = collect(feed, cursor, settings, now)
        fetched |= ids
        warned += warnings
    assert cursor is None or (cursor.resume_before is None and cursor.cut_at is None), "never caught up"
    expected = {n for us, n in feed.alerts if us // 1000 >= since_us // 1000}
    missing = expected - fetched
    if missing:
        assert any("share" in w for w in warned), (missing, warned)
    else:
        assert fetched <= {n for _, n in feed.alerts}


@given(st.integers(min_value=3, max_value=8), st.booleans(), st.integers(min_value=0, max_value=40),
       st.integers(min_value=0, max_value=40))
def test_an_incremental_pass_makes_at_most_the_requests_its_new_alerts_need(page_size, inclusive, old, new):
    """Distinct instants, no lookback: k new alerts cost at most ceil(k / (page_size - 2)) + 2 requests."""
    settings = options_flow.Settings(page_size=page_size, lookback_seconds=0, max_pages=10_000)
    feed = Feed(inclusive=inclusive)
    base = _ms(NOW - timedelta(minutes=30)) * 1000
    feed.publish([base + i * 1000 for i in range(old)])
    cursor, _, _, _ = collect(feed, None, settings, NOW)
    feed.publish([base + (old + 1 + i) * 1000 for i in range(new)])
    cursor, ids, requests, warnings = collect(feed, cursor, settings, NOW)
    assert requests <= math.ceil((new + 1) / (page_size - 2)) + 2
    assert {n for _, n in feed.alerts[old:]} <= ids and warnings == []


@given(st.integers(min_value=1, max_value=5), st.booleans(), st.integers(min_value=1, max_value=3))
def test_a_page_of_alerts_sharing_one_instant_is_stepped_over_and_named(page_size, inclusive, extra):
    settings = options_flow.Settings(page_size=page_size, max_pages=50)
    feed = Feed(inclusive=inclusive)
    at = _ms(NOW - timedelta(minutes=5)) * 1000
    feed.publish([at - 5_000_000, *[at] * (page_size + extra), at + 5_000_000])
    cursor, ids, requests, warnings = collect(feed, None, settings, NOW)
    assert {0, len(feed.alerts) - 1} <= ids
    assert any("share" in w and "a whole page" in w for w in warnings)
    assert cursor.resume_before is None and requests < 10


def test_the_first_pass_reads_back_first_run_hours_only():
    settings = options_flow.Settings(first_run_hours=2, page_size=10)
    feed = Feed(inclusive=False)
    hours = [_ms(NOW - timedelta(hours=h)) * 1000 for h in (3, 2.5, 2, 1.5, 0.1)]
    feed.publish(hours)
    cursor, ids, _, _ = collect(feed, None, settings, NOW)
    assert ids == {2, 3, 4}
    assert cursor.newest == EPOCH + timedelta(microseconds=hours[-1])


def test_next_request_needs_a_cursor_from_begin():
    with pytest.raises(ValueError, match="begin"):
        options_flow.COLLECTOR.next_request(SweepCursor(), None, None, options_flow.Settings())


_BOUNDS = st.none() | st.integers(0, 2**50)


@given(st.builds(SweepCursor, newest=st.none() | aware_datetimes.map(lambda d: d.astimezone(UTC)),
                 resume_before=_BOUNDS, resume_after=_BOUNDS, cut_at=_BOUNDS, since=_BOUNDS, window_end=_BOUNDS))
def test_the_cursor_survives_a_round_trip_through_json(cursor):
    assert CONVERTER.structure(CONVERTER.unstructure(cursor), SweepCursor) == cursor


def test_a_full_page_below_the_window_ends_the_sweep():
    settings = options_flow.Settings(page_size=2, max_pages=500)
    start = options_flow.COLLECTOR.begin(None, "", NOW, settings)
    junk = {"data": [{"created_at": "2020-01-01T00:00:00Z", "option_chain": "SPY260320C00000001",
                      "alert_rule": "RepeatedHits"}] * 2}
    request, bounds = options_flow.COLLECTOR.next_request(start, None, None, settings), []
    while request is not None:
        records, _ = options_flow.COLLECTOR.parse(junk)
        page = Page(request=request, received=2, records=tuple(records))
        request = options_flow.COLLECTOR.next_request(start, request, page, settings)
        if request is not None:
            bounds.append(int(request.param("older_than")))
    assert bounds == []


# A page none of whose alerts can be read.

UNREADABLE = "Invalid isoformat string: '12/01/2026 14:00:00 ET' @ item.created_at"


@given(flow_settings, st.booleans(), gaps, st.integers(0, 5), st.booleans())
def test_a_page_none_of_whose_alerts_can_be_read_stops_the_sweep_there_with_the_cursor_kept(
    settings, inclusive, history, blind_at, cut_first
):
    """Wherever the unreadable page comes (a first pass, a hole, a top sweep), the pass stops there,
    the cursor saved is the one saved before it, the next pass asks for that page again, and the pass
    says why, naming the field and the value."""
    feed, now = Feed(inclusive=inclusive), NOW
    base = _ms(NOW - timedelta(minutes=30)) * 1000
    feed.publish([base + sum(history[:i + 1]) for i in range(len(history))])
    cursor = None
    if cut_first:
        cursor, *_ = collect(feed, None, attrs.evolve(settings, max_pages=1), now)
        feed.publish([base + 10**8 + i * 1000 for i in range(7)])
    start = options_flow.COLLECTOR.begin(cursor, "", now, settings)
    saved, request = start, options_flow.COLLECTOR.next_request(start, None, None, settings)
    for _ in range(blind_at):
        if request is None:
            return
        payload = feed.respond(request)
        page = Page(request, len(payload["data"]), tuple(options_flow.COLLECTOR.parse(payload)[0]))
        saved = options_flow.COLLECTOR.advance(start, saved, page, settings)
        request = options_flow.COLLECTOR.next_request(start, request, page, settings)
    if request is None:
        return
    blind = Page(request, settings.page_size, (), rejected=UNREADABLE)
    assert options_flow.COLLECTOR.next_request(start, request, blind, settings) is None
    kept = options_flow.COLLECTOR.advance(start, saved, blind, settings)
    assert kept == saved
    again = options_flow.COLLECTOR.next_request(options_flow.COLLECTOR.begin(kept, "", now, settings), None, None, settings)
    assert again.param("newer_than") is None or int(again.param("newer_than")) <= int(request.param("newer_than"))
    assert int(again.param("older_than") or 2**62) >= int(request.param("older_than") or 2**62)
    (halt,) = [w for w in options_flow.COLLECTOR.warnings(start, blind, settings) if isinstance(w, Halt)]
    assert halt.startswith(f"a full page of {settings.page_size} alerts")
    assert halt.endswith(f"could not be read (created_at: Invalid isoformat string: '12/01/2026 14:00:00 ET');"
                         f" {HALT_MARK}")
