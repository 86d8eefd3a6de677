"""The dark pool collector's contract: parse, identity, validate, tickers, and sweeping a day of prints by time.

The paging tests drive the pure functions exactly as the runner does (begin, then next_request /
parse / validate / advance after every page) against a model of the endpoint that serves ties
in an order that changes from request to request, under either reading of its bounds.
"""

from __future__ import annotations

import collections
import copy
import json
import math
import operator
import random
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
from hypothesis import assume, event, example, given
from hypothesis import strategies as st
from rescan import SPY, check_fold
from strategies import (
    DARKPOOL_DOCUMENTED,
    DARKPOOL_LIVE,
    aware_datetimes,
    broken_darkpool_items,
    clean_text,
    darkpool_items,
    darkpool_settings,
    decodable_text,
    json_values,
    refused,
    space_spelling,
    tape_histories,
    z_spelling,
)

from vvv.collectors import darkpool
from vvv.core.base import (
    HALT_MARK,
    Halt,
    Page,
    Request,
    advance_over,
    read_cursor,
    record_row,
    warnings_over,
)
from vvv.core.calendar import NY, is_trading_day, last_trading_day
from vvv.core.convert import CONVERTER, describe_error, parse_timestamp
from vvv.core.paging import SweepCursor

NOW = datetime(2025, 10, 22, 21, 24, 30, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def _subsequence(part: Sequence[Any], whole: Sequence[Any], same: Any) -> bool:
    rest = iter(whole)
    return all(any(same(p, w) for w in rest) for p in part)


def _record(item: dict[str, Any]) -> darkpool.Trade:
    records, rejects = darkpool.COLLECTOR.parse({"data": [item]})
    assert rejects == [], rejects
    return records[0]


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // MS


def _instant(ms: int) -> datetime:
    return EPOCH + ms * MS


payloads = json_values | st.lists(
    json_values | darkpool_items() | broken_darkpool_items().map(operator.itemgetter(0)), max_size=8
).map(lambda data: {"data": data})


@given(payloads)
@example(None)
@example({"data": None})
@example({"data": "SPY"})
@example({"data": [None, "x", 1, [], {}]})
def test_parse_never_raises_and_accounts_for_every_item(payload):
    """Each item becomes one record or one reject, in order; anything else is one reject of the whole payload."""
    before = repr(payload)
    records, rejects = darkpool.COLLECTOR.parse(payload)
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, list):
        assert len(records) + len(rejects) == len(data)
        assert _subsequence([r.raw for r in rejects], data, operator.is_)
        ids = [item.get("tracking_id") for item in data if isinstance(item, dict)]
        assert _subsequence([r.tracking_id for r in records], ids, lambda a, b: str(a) == str(b).strip())
    else:
        assert records == []
        assert len(rejects) == 1 and rejects[0].raw is payload
    assert all(isinstance(r.reason, str) and r.reason for r in rejects)
    assert repr(payload) == before


def _number(value: Any) -> Decimal:
    return Decimal(str(value).strip())


def _optional(value: Any, convert: Any) -> Any:
    return None if value is None else convert(value)


@given(st.lists(darkpool_items(), max_size=5))
def test_every_well_formed_item_becomes_a_record_with_its_fields(items):
    records, rejects = darkpool.COLLECTOR.parse({"data": items})
    assert rejects == []
    assert len(records) == len(items)
    for record, item in zip(records, items, strict=True):
        assert record.tracking_id == int(item["tracking_id"])
        assert record.executed_at == parse_timestamp(item["executed_at"])
        assert record.executed_at.utcoffset() == timedelta(0)
        assert record.ticker == item["ticker"]
        assert record.size == int(item["size"])
        for field in ("price", "premium", "nbbo_bid", "nbbo_ask"):
            expected = _optional(item.get(field), _number)
            assert getattr(record, field) == expected
            if expected is not None:  # the same digits and exponent, not merely an equal value
                assert getattr(record, field).as_tuple() == expected.as_tuple()
        for field in ("volume", "nbbo_bid_quantity", "nbbo_ask_quantity"):
            assert getattr(record, field) == _optional(item.get(field), int)
        assert record.canceled == {"true": True, "false": False}.get(item.get("canceled"), item.get("canceled"))
        for field in ("market_center", "ext_hour_sold_codes", "sale_cond_codes", "trade_code", "trade_settlement"):
            assert getattr(record, field) == (None if item.get(field) == "" else item.get(field))


@given(st.from_regex(r"(0|[1-9][0-9]{0,17})\.[0-9]{1,18}", fullmatch=True),
       st.from_regex(r"[1-9][0-9]{0,17}\.[0-9]{2}", fullmatch=True))
@example("18.9904", "121538.56")
@example("0.000000000000000001", "100000000000000000.10")
@example("671.2300", "353214.00")
def test_prices_and_premiums_sent_as_strings_keep_every_digit(price, premium):
    """No float ever touches a price: `"18.9904"` is stored as 18.9904, trailing zeros and all."""
    item = {"tracking_id": 1, "executed_at": "2025-10-22T21:24:30Z", "ticker": "SPY", "size": 100,
            "price": price, "premium": premium, "nbbo_bid": price, "nbbo_ask": premium}
    record = _record(item)
    assert all(isinstance(getattr(record, f), Decimal) for f in ("price", "premium", "nbbo_bid", "nbbo_ask"))
    assert format(record.price, "f") == format(record.nbbo_bid, "f") == price
    assert format(record.premium, "f") == format(record.nbbo_ask, "f") == premium


def _expected_extra(item: dict[str, Any]) -> dict[str, Any]:
    extra = {}
    for key, value in item.items():
        if key in DARKPOOL_DOCUMENTED:
            continue
        if key in ("trf_executed_at", "created_at") and _reads_as_time(value):
            continue
        extra[key] = value
    return extra


def _reads_as_time(value: Any) -> bool:
    try:
        return value is None or parse_timestamp(value) is not None
    except Exception:
        return False


@given(darkpool_items())
@example({"tracking_id": 1, "executed_at": "2025-10-22T21:24:30Z", "ticker": "SPY", "price": "1", "size": 1,
          "trf_executed_at": "2025-10-22T21:24:30Z", "created_at": "soon", "issue_type": "ETF", "sector": None,
          "avg30_volume": "70938272.03", "extra": {"a": 1}})
def test_live_fields_are_typed_or_kept_and_unknown_fields_land_in_extra_exactly(item):
    """trf_executed_at and created_at get columns when they read as times; everything undescribed else is in extra."""
    record = _record(item)
    assert record.extra == _expected_extra(item)
    assert DARKPOOL_DOCUMENTED.isdisjoint(record.extra)
    for field in ("trf_executed_at", "created_at"):
        value = item.get(field)
        typed = value is not None and _reads_as_time(value)
        assert getattr(record, field) == (parse_timestamp(value) if typed else None)
    for field in set(DARKPOOL_LIVE) - {"trf_executed_at", "created_at"}:
        assert (field in record.extra) == (field in item), "ticker facts stay in extra"


@given(st.lists(broken_darkpool_items(), max_size=6))
def test_broken_fields_make_a_reject_that_names_each_of_them_and_keeps_the_raw_item(cases):
    items = [item for item, _ in cases]
    before = repr(items)
    records, rejects = darkpool.COLLECTOR.parse({"data": items})
    broken = [(item, fields) for item, fields in cases if fields]
    assert len(records) == len(cases) - len(broken)
    assert len(rejects) == len(broken)
    for reject, (item, fields) in zip(rejects, broken, strict=True):
        assert reject.raw is item
        assert set(re.findall(r"@ item\.(\w+)", reject.reason)) == fields
    assert repr(items) == before


@given(st.lists(darkpool_items(decodable_text), min_size=1, max_size=3))
@example(items=[{"tracking_id": 1, "executed_at": "2025-10-22T21:24:30Z", "ticker": "SPY", "price": "1", "size": 1,
                 "market_center": "\ud83d", "trf_executed_at": "\udc00"}])
def test_parse_never_raises_on_any_string_json_can_decode(items):
    records, rejects = darkpool.COLLECTOR.parse({"data": items})
    assert len(records) + len(rejects) == len(items)


def test_records_are_the_table_columns_in_order_and_the_key_is_tracking_id():
    assert tuple(a.name for a in attrs.fields(darkpool.Trade)) == darkpool.SPEC.column_names
    assert darkpool.SPEC.key == ("tracking_id",)
    assert darkpool.SPEC.time_column == "executed_at"
    types = {c.name: c.type for c in darkpool.SPEC.columns}
    assert {types[n] for n in ("price", "premium", "nbbo_bid", "nbbo_ask")} == {"numeric"}
    assert {types[n] for n in ("tracking_id", "size", "volume", "nbbo_bid_quantity", "nbbo_ask_quantity")} == {"bigint"}


@given(darkpool_items(), darkpool_items())
def test_identity_is_the_tracking_id_alone(item, other):
    """Two prints with one tracking_id are one row, whatever else differs; the key is exactly (tracking_id,)."""
    same = {**other, "tracking_id": item["tracking_id"]}
    first, second = _record(item), _record(same)
    key = [darkpool.SPEC.column_names.index(k) for k in darkpool.SPEC.key]
    assert [record_row(first)[i] for i in key] == [record_row(second)[i] for i in key] == [int(item["tracking_id"])]


not_in_the_future = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=(NOW + timedelta(minutes=5)).replace(tzinfo=None), timezones=st.just(UTC)
)
positive_prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**9), allow_nan=False, places=4)
canonical_tickers = st.from_regex(r"[A-Z0-9][A-Z0-9.\-]{0,9}", fullmatch=True)


@st.composite
def good_items(draw: st.DrawFn) -> dict[str, Any]:
    """A print validate must accept: positive price and size, a ticker, no NUL, not in the future, fits the columns."""
    item = draw(darkpool_items(clean_text))
    moment = draw(not_in_the_future)
    return {
        **item,
        "tracking_id": draw(st.integers(min_value=1, max_value=2**63 - 1)),
        "executed_at": draw(st.sampled_from([z_spelling, space_spelling]))(moment),
        "ticker": draw(canonical_tickers),
        "price": str(draw(positive_prices)),
        "size": draw(st.integers(min_value=1, max_value=10**12)),
        **{f: draw(st.none() | positive_prices.map(str)) for f in ("premium", "nbbo_bid", "nbbo_ask")},
        **{f: draw(st.none() | st.integers(0, 10**12)) for f in ("volume", "nbbo_bid_quantity", "nbbo_ask_quantity")},
    }


@given(good_items())
def test_validate_accepts_a_good_print(item):
    assert refused(darkpool, _record(item), NOW) is None


@given(good_items(), st.sampled_from([0, "0"]))
def test_validate_rejects_tracking_id_0_which_identifies_no_print(item, zero):
    """Published samples carry tracking_id 0; stored, every such print would collapse into one row."""
    assert "tracking_id 0 is not an identity" in refused(darkpool, _record({**item, "tracking_id": zero}), NOW)


@given(good_items(), st.sampled_from(["price", "size"]), st.sampled_from(["0", "-1", "-0.0001", "0.0000", "-0"]))
def test_validate_rejects_a_price_or_size_that_is_not_positive(item, field, value):
    if field == "size" and "." in value:
        value = "0"
    reason = refused(darkpool, _record({**item, field: value}), NOW)
    assert reason and field in reason


@given(good_items(), st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650)))
def test_validate_rejects_executed_at_more_than_five_minutes_ahead(item, beyond):
    at_the_limit = {**item, "executed_at": z_spelling(NOW + timedelta(minutes=5))}
    ahead = {**item, "executed_at": z_spelling(NOW + timedelta(minutes=5) + beyond)}
    assert refused(darkpool, _record(at_the_limit), NOW) is None
    assert "executed_at" in refused(darkpool, _record(ahead), NOW)


@given(good_items(), st.sampled_from(["spy", "Spy", "", "ABCDEFGHIJK", "../../etc", "SPY?x=1", "%2F", "#", "..",
                                      ".A", "-A", "SPY ", "SPY/QQQ", "ÅB", "\x00"]))
def test_validate_rejects_a_ticker_of_the_wrong_shape(item, ticker):
    assert "ticker" in refused(darkpool, _record({**item, "ticker": ticker}), NOW)


@given(good_items(), st.sampled_from(["tracking_id", "size", "volume", "nbbo_bid_quantity", "nbbo_ask_quantity"]),
       st.sampled_from([2**63, 2**64 + 5, -(2**63) - 1]))
def test_validate_rejects_integers_a_bigint_cannot_hold(item, field, value):
    if field == "size":
        value = abs(value)
    assert "bigint" in refused(darkpool, _record({**item, field: value}), NOW)


@given(good_items(), st.sampled_from(["price", "premium", "nbbo_bid", "nbbo_ask"]),
       st.sampled_from(["1E+131072", "1E-16384", "9" * 10 + "E+131070"]))
def test_validate_rejects_numbers_a_numeric_column_cannot_hold(item, field, value):
    assert "NUMERIC" in refused(darkpool, _record({**item, field: value}), NOW)


_text_places = {
    "market_center": lambda item, text: {**item, "market_center": text},
    "codes": lambda item, text: {**item, "trade_settlement": text},
    "extra key": lambda item, text: {**item, f"x{text}": True},
    "extra value": lambda item, text: {**item, "vendor": {"notes": [text]}},
    "live field kept in extra": lambda item, text: {**item, "created_at": text},
}


@given(good_items(), st.sampled_from(sorted(_text_places)), st.sampled_from(["\x00", "\ud800", "\udfff"]), clean_text)
def test_validate_rejects_text_postgresql_cannot_store(item, place, bad, text):
    assert refused(darkpool, _record(_text_places[place](item, text + bad)), NOW)


def test_validate_names_the_broken_rule():
    base = {"tracking_id": 7, "executed_at": "2025-10-22T21:24:30Z", "ticker": "SPY", "price": "1.5", "size": 10}
    assert refused(darkpool, _record(base), NOW) is None
    assert refused(darkpool, _record({**base, "price": "0"}), NOW) == "price 0 is not positive"
    assert refused(darkpool, _record({**base, "size": 0}), NOW) == "size 0 is not positive"
    assert "in the future" in refused(darkpool, _record({**base, "executed_at": "2025-10-22T21:30:31Z"}), NOW)
    assert refused(darkpool, _record({**base, "ticker": "spy"}), NOW).startswith("'spy' is not a ticker")


BAD_TICKERS = ["../../etc", "SPY?x=1", "%2F", "#", "..", ".", "", "ABCDEFGHIJK", "SPY/QQQ", "SPY ", " SPY", "SPY\n",
               "-X", "ıBM", "ſPY", "S&P", "Q\x00", "SP Y"]


@pytest.mark.parametrize("bad", BAD_TICKERS)
def test_a_ticker_that_could_change_the_request_path_is_refused_by_name(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        darkpool.Settings(tickers=("SPY", bad))
    with pytest.raises(Exception) as caught:
        CONVERTER.structure({"tickers": ["QQQ", bad]}, darkpool.Settings)
    assert repr(bad) in describe_error(caught.value)


@given(st.text(max_size=12))
@example("brk.b")
@example("bf-b")
def test_a_ticker_is_accepted_exactly_when_it_is_letters_digits_dot_and_dash_and_becomes_upper_case(text):
    shape = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,9}", text) is not None
    try:
        settings = darkpool.Settings(tickers=[text])
    except ValueError as error:
        assert not shape
        assert repr(text) in str(error) and str(error).startswith("tickers:")
        return
    assert shape
    assert settings.tickers == (text.upper(),)
    (ticker,) = darkpool.COLLECTOR.partitions_of(settings)  # the partition is all the path gets
    collector = darkpool.COLLECTOR
    request = collector.next_request(collector.begin(None, ticker, NOW, settings), None, None, settings, ticker)
    assert request.path == f"/api/darkpool/{text.upper()}"
    assert urlsplit("https://api.unusualwhales.com" + request.path).path == request.path


def test_settings_defaults_and_limits():
    settings = darkpool.Settings()
    assert (settings.tickers, settings.page_size, settings.lookback_seconds) == (("SPY", "QQQ"), 500, 300)
    assert settings.max_pages >= 100
    assert darkpool.Settings(tickers=["spy", "SPY", "qqq"]).tickers == ("SPY", "QQQ")
    assert darkpool.COLLECTOR.partitions_of(darkpool.Settings(tickers=["qqq", "iwm"])) == ("QQQ", "IWM")
    for bad in ({"page_size": 0}, {"page_size": 501}, {"lookback_seconds": -1}, {"max_pages": 0}, {"tickers": []},
                {"tickers": "SPY"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            darkpool.Settings(**bad)


cursors = st.builds(
    SweepCursor,
    day=st.none() | st.dates(),
    newest=st.none() | aware_datetimes.map(lambda d: d.astimezone(UTC)),
    resume_before=st.none() | st.integers(min_value=-(2**62), max_value=2**62),
    resume_after=st.none() | st.integers(min_value=-(2**62), max_value=2**62),
    cut_at=st.none() | st.integers(min_value=-(2**62), max_value=2**62),
    target=st.none() | st.dates(),
)


@given(cursors)
def test_the_cursor_survives_a_round_trip_through_json(cursor):
    text = json.dumps(CONVERTER.unstructure(cursor))
    assert CONVERTER.structure(json.loads(text), SweepCursor) == cursor


# The paging model.

SESSION_OPEN = time(9, 30)
FIRST_DAY = date(2025, 10, 22)  # a Wednesday


class Tape:
    """`GET /api/darkpool/{ticker}` as a model: prints per market day, newest first, ties in an order
    that changes with the request, and `newer_than`/`older_than` inclusive or exclusive."""

    def __init__(self, ticker: str, *, inclusive: bool) -> None:
        self.ticker = ticker
        self.inclusive = inclusive
        self.days: dict[date, list[tuple[int, int]]] = {}
        self._next_id = 71_984_388_012_245

    def publish(self, day: date, times_ms: Iterable[int]) -> list[tuple[int, int]]:
        added = []
        for ms in times_ms:
            added.append((ms, self._next_id))
            self._next_id += 1
        self.days.setdefault(day, []).extend(added)
        return added

    def newest(self, day: date) -> int | None:
        return max((ms for ms, _ in self.days.get(day, [])), default=None)

    def window(self, day: date, newer_than: int | None, older_than: int | None) -> list[tuple[int, int]]:
        def inside(ms: int) -> bool:
            above = newer_than is None or (ms >= newer_than if self.inclusive else ms > newer_than)
            below = older_than is None or (ms <= older_than if self.inclusive else ms < older_than)
            return above and below

        return [p for p in self.days.get(day, []) if inside(p[0])]

    def respond(self, request: Request) -> dict[str, Any]:
        assert request.path == f"/api/darkpool/{self.ticker}"
        params = dict(request.params)
        assert set(params) <= {"date", "limit", "newer_than", "older_than"}
        limit = int(params["limit"])
        assert 1 <= limit <= 500
        bounds = [int(params[k]) if k in params else None for k in ("newer_than", "older_than")]
        chosen = self.window(date.fromisoformat(params["date"]), *bounds)
        ties = random.Random(repr(sorted(params.items())))
        order = {tracking_id: ties.random() for _, tracking_id in chosen}
        chosen.sort(key=lambda p: (-p[0], order[p[1]]))
        return {"data": [self._item(ms, tracking_id) for ms, tracking_id in chosen[:limit]]}

    def _item(self, ms: int, tracking_id: int) -> dict[str, Any]:
        moment = _instant(ms)
        spelled = z_spelling(moment, "milliseconds" if ms % 1000 else "seconds")
        if tracking_id % 2 and not ms % 1000:
            spelled = space_spelling(moment, "seconds")
        return {"tracking_id": tracking_id, "executed_at": spelled, "ticker": self.ticker, "price": "671.2350",
                "size": 100, "premium": "67123.50", "trade_settlement": "regular"}


@attrs.frozen
class Pass:
    start: SweepCursor
    saved: SweepCursor | None
    pages: tuple[Page, ...]
    warnings: tuple[str, ...]
    now: datetime

    @property
    def ids(self) -> set[int]:
        return {record.tracking_id for page in self.pages for record in page.records}

    @property
    def incremental(self) -> bool:
        """A pass over the same day as the last one, with nothing owed from before."""
        start = self.start
        return start.newest is not None and start.cut_at is None and start.day == start.target


_RUNAWAY = 400


def collect(tape: Tape, cursor: SweepCursor | None, settings: darkpool.Settings, now: datetime, *,
            stop_after: int | None = None) -> Pass:
    """One pass composed as the runner does: begin, then plan, fetch, parse, validate, advance after every page."""
    start = SPY.begin(cursor, now, settings)
    pages: list[Page] = []
    saved = cursor
    request = SPY.next_request(start, None, None, settings)
    while request is not None and len(pages) != stop_after:
        assert len(pages) < min(settings.max_pages, _RUNAWAY), f"a pass from {start} did not stop"
        payload = tape.respond(request)
        records, rejects = darkpool.COLLECTOR.parse(payload)
        assert rejects == []
        assert [refused(darkpool, r, now) for r in records] == [None] * len(records)
        page = Page(request=request, received=len(payload["data"]), records=tuple(records))
        saved = SPY.advance(start, start if not pages else saved, page, settings)
        pages.append(page)
        check_fold(darkpool, start, saved, pages, settings)
        request = SPY.next_request(start, request, page, settings)
    return Pass(start, saved, tuple(pages), tuple(warnings_over(SPY.warnings, start, pages, settings)), now)


def _warned_instants(warnings: Iterable[str], ticker: str) -> set[datetime]:
    return {parse_timestamp(m) for w in warnings if w.startswith(f"{ticker}:") for m in _TIMESTAMP.findall(w)}


def _ny(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=NY).astimezone(UTC)


@attrs.define
class Market:
    """The model over time: a tape, a clock, the collector's saved cursor, what it owes and what it fetched.

    A print is owed unless it arrived late beyond the lookback: for a day the collector had already
    finished, or older than the newest print it had stored for that day minus the lookback. Nor is
    one reported late into the band a sweep cut short left above its hole (see `unread_band`), for
    which the collector warns.
    """

    tape: Tape
    settings: darkpool.Settings
    clock: datetime
    cursor: SweepCursor | None = None
    owed: dict[int, tuple[date, int]] = attrs.Factory(dict)
    fetched: set[int] = attrs.Factory(set)
    warnings: list[str] = attrs.Factory(list)
    passes: list[Pass] = attrs.Factory(list)
    unread_band: list[tuple[date, int]] = attrs.Factory(list)

    @property
    def market_day(self) -> date:
        return last_trading_day(self.clock.astimezone(NY).date())

    def publish(self, day: date, times_ms: Iterable[int]) -> None:
        for ms, tracking_id in self.tape.publish(day, list(times_ms)):
            if self._late_beyond_lookback(day, ms):
                continue
            if self._in_unread_band(day, ms):
                self.unread_band.append((day, ms))
            else:
                self.owed[tracking_id] = (day, ms)

    def _late_beyond_lookback(self, day: date, ms: int) -> bool:
        cursor = self.cursor
        if cursor is None or cursor.day is None or day > cursor.day:
            return False
        return day < cursor.day or (cursor.newest is not None and ms < _ms(cursor.newest) - self.lookback_ms)

    def _in_unread_band(self, day: date, ms: int) -> bool:
        """Below the cut of a sweep cut short and above what its hole still owes: read, and not read again."""
        cursor = self.cursor
        if cursor is None or cursor.day != day or cursor.cut_at is None or cursor.newest is None:
            return False
        low = _ms(cursor.newest) - self.lookback_ms
        if cursor.resume_before is not None:
            low = max(low, cursor.resume_before)
        return low <= ms < cursor.cut_at

    @property
    def lookback_ms(self) -> int:
        return self.settings.lookback_seconds * 1000

    def step(self, *, days: int, late: Sequence[tuple[int, int]], new: Sequence[int]) -> None:
        """Jump the clock, publish late prints for the latest day that has any, then new ones if the market is open."""
        if days:
            self.clock = _ny(self.clock.astimezone(NY).date() + timedelta(days=days), SESSION_OPEN)
        latest = max(self.tape.days, default=None)
        for behind, count in late:
            if latest is not None:
                self.publish(latest, [self.tape.newest(latest) - behind] * count)
        today = self.clock.astimezone(NY).date()
        if new and is_trading_day(today):
            top = self.tape.newest(today)
            t = _ms(self.clock) if top is None else top
            times = []
            for gap in new:
                t += gap
                times.append(t)
            self.publish(today, times)
            self.clock = max(self.clock, _instant(max(times)))

    def run(self, *, stop_after: int | None = None) -> Pass:
        done = collect(self.tape, self.cursor, self.settings, self.clock, stop_after=stop_after)
        self.fetched |= done.ids
        self.warnings += done.warnings
        self.cursor = done.saved
        self.passes.append(done)
        return done

    def missing(self) -> list[tuple[date, datetime]]:
        """Owed prints not fetched, except those at an instant a warning named."""
        warned = _warned_instants(self.warnings, self.tape.ticker)
        return sorted(
            (day, _instant(ms)) for tracking_id, (day, ms) in self.owed.items()
            if tracking_id not in self.fetched and _instant(ms) not in warned
        )

    def left_behind(self) -> list[tuple[date, datetime]]:
        """Owed prints the saved cursor claims to be past, yet not fetched (nor warned)."""
        cursor = self.cursor
        if cursor is None:
            return []
        return [(day, moment) for day, moment in self.missing() if _behind(cursor, day, _ms(moment), self.lookback_ms)]

    def catch_up(self) -> None:
        """Passes with no new prints until nothing owed is missing, within a generous bound."""
        for _ in range(3 * len(self.owed) + 6):
            if not self.missing():
                return
            self.run()

    def copy(self) -> Market:
        return attrs.evolve(self, tape=copy.deepcopy(self.tape), owed=dict(self.owed), fetched=set(self.fetched),
                            warnings=list(self.warnings), passes=list(self.passes))


def _behind(cursor: SweepCursor, day: date, ms: int, lookback_ms: int) -> bool:
    """Whether the cursor says every print at (day, ms) has been fetched.

    After a cut, the hole below it is owed, and the top sweep still reads from the newest print
    down to the cut (or the lookback, if lower), so prints reported late there are not claimed.
    """
    if cursor.day is None or day > cursor.day:
        return False
    if day < cursor.day:
        return True
    if cursor.newest is None or ms > _ms(cursor.newest):
        return False
    if cursor.cut_at is None:
        return True
    if cursor.resume_after is not None and ms <= cursor.resume_after:
        return True
    # At the hole's top itself only later prints are claimed: a bound that steps over a page of
    # prints sharing one millisecond reads that millisecond again (inclusive) or warns (exclusive).
    low = -math.inf if cursor.resume_before is None else cursor.resume_before
    return low < ms < max(cursor.cut_at, _ms(cursor.newest) - lookback_ms)


def _market(settings: darkpool.Settings, inclusive: bool) -> Market:
    return Market(Tape("SPY", inclusive=inclusive), settings, _ny(FIRST_DAY, SESSION_OPEN))


def _play(market: Market, history: Sequence[dict[str, Any]]) -> None:
    for step in history:
        market.step(days=step["days"], late=step["late"], new=step["new"])
        market.run(stop_after=step["stop"])
        assert market.left_behind() == []


@given(darkpool_settings, st.booleans(), tape_histories())
@example(darkpool.Settings(tickers=["SPY"], page_size=2, max_pages=10_000, lookback_seconds=0), True,
         [{"days": 0, "late": [], "new": [0, 0, 0, 1000, 0], "stop": None},
          {"days": 0, "late": [(0, 2)], "new": [0, 1000], "stop": None}])
@example(darkpool.Settings(tickers=["SPY"], page_size=3, max_pages=1, lookback_seconds=300), False,
         [{"days": 0, "late": [], "new": [1000] * 12, "stop": None},
          {"days": 1, "late": [(1000, 2)], "new": [1000] * 7, "stop": None}])
def test_after_any_history_every_print_served_is_fetched_once_the_passes_catch_up(settings, inclusive, history):
    """Under either bound reading, with late prints, ties, day changes and passes cut short:
    no pass leaves anything behind its saved cursor, and once passes catch up nothing owed is
    missing except prints at an instant a warning named (a whole page of prints sharing it)."""
    market = _market(settings, inclusive)
    _play(market, history)
    market.catch_up()
    assert market.missing() == []
    assert market.fetched <= {tracking_id for prints in market.tape.days.values() for _, tracking_id in prints}
    if market.unread_band:
        assert any("may be missed" in w and "max_pages" in w for w in market.warnings)


def _same_millisecond_counts(prints: Iterable[tuple[int, int]], inclusive: bool) -> int:
    """The most prints a later page can read again: one millisecond's, plus the next one's if bounds are inclusive."""
    counts = collections.Counter(ms for ms, _ in prints)
    return max((n + (counts[ms + 1] if inclusive else 0) for ms, n in counts.items()), default=0)


def request_bound(k: int, page_size: int, tie: int) -> int:
    """The most requests an incremental pass makes for k prints when no more than `tie` prints share a
    millisecond (two adjacent ones under the inclusive reading) and tie < page_size: every full page
    after the first brings at least page_size - tie new prints, and the last page is short."""
    if k < page_size:
        return 1
    return 2 + (k - page_size) // (page_size - tie)


def _window(market: Market, done: Pass) -> list[tuple[int, int]]:
    floor = _ms(done.start.newest) - market.lookback_ms - 1
    return market.tape.window(done.start.day, floor, None)


@given(darkpool_settings, st.booleans(), tape_histories(interruptions=False))
def test_an_incremental_pass_makes_at_most_the_requests_its_new_prints_need(settings, inclusive, history):
    """k prints newer than the lookback floor (new ones and those read again) cost at most
    `request_bound(k, page_size, tie)` requests; with page_size 500 that is ceil(k / 500) + 1
    whenever ceil(k / 500) * tie < 500 (see the next test)."""
    market = _market(settings, inclusive)
    for step in history:
        market.step(days=step["days"], late=step["late"], new=step["new"])
        done = market.run()
        if not (done.incremental and done.saved.resume_before is None):
            continue
        window = _window(market, done)
        assert {r.tracking_id for p in done.pages for r in p.records} <= {tracking_id for _, tracking_id in window}
        tie = _same_millisecond_counts(window, inclusive)
        event(f"ties fit a page: {tie < settings.page_size}, requests: {min(len(done.pages), 3)}")
        if tie < settings.page_size:
            assert done.warnings == ()
            assert done.ids == {tracking_id for _, tracking_id in window}
            assert len(done.pages) <= request_bound(len(done.ids), settings.page_size, tie)


@st.composite
def busy_days(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """A day already collected, then new prints and late prints within the lookback, in bursts of up to 40 a second."""
    rng = draw(st.randoms(use_true_random=False))
    largest = draw(st.integers(min_value=1, max_value=40))

    def burst_times(start_ms: int, count: int) -> list[int]:
        times, t = [], start_ms
        while len(times) < count:
            t += 1000 * rng.randint(1, 3)
            times += [t + (rng.choice([0, 0, 0, 1, 437]) if largest > 1 else 0)] * rng.randint(1, largest)
        return times[:count]

    open_ms = _ms(_ny(FIRST_DAY, SESSION_OPEN))
    before = burst_times(open_ms, draw(st.integers(min_value=0, max_value=700)))
    top = max(before, default=open_ms)
    new = burst_times(top, draw(st.integers(min_value=0, max_value=1500)))
    late = [top - rng.randint(0, 299) * 1000 for _ in range(draw(st.integers(min_value=0, max_value=30)))]
    return before, new, late


@given(busy_days(), st.booleans())
def test_with_pages_of_500_an_incremental_pass_makes_at_most_ceil_k_over_500_plus_one_requests(day, inclusive):
    before, new, late = day
    settings = darkpool.Settings(tickers=["SPY"])
    market = _market(settings, inclusive)
    market.publish(FIRST_DAY, before)
    market.clock = _instant(max(before, default=_ms(market.clock)))
    market.run()
    assume(market.cursor.newest is not None)
    market.publish(FIRST_DAY, new + late)
    market.clock = _instant(max(new + before))
    done = market.run()
    window = _window(market, done)
    k, tie = len(done.ids), _same_millisecond_counts(window, inclusive)
    assert k == len(window)
    assert len(done.pages) <= request_bound(k, 500, tie)
    if math.ceil(k / 500) * tie < 500:
        assert len(done.pages) <= math.ceil(k / 500) + 1
    assert market.missing() == []


@given(darkpool_settings, st.booleans(), tape_histories(interruptions=False), st.lists(st.sampled_from([0, 0, 1, 1000]),
       max_size=25), st.lists(st.sampled_from([0, 1000, 2000]), max_size=10))
def test_a_pass_cut_short_after_any_page_skips_nothing(settings, inclusive, history, burst, later):
    """The cursor saved after any prefix of a pass's pages is a safe start for the next pass."""
    market = _market(settings, inclusive)
    _play(market, history)
    market.step(days=0, late=[(0, 1), (2000, 1)], new=burst)
    whole = collect(market.tape, market.cursor, settings, market.clock)
    for cut in range(1, len(whole.pages) + 1):
        trial = market.copy()
        cut_short = trial.run(stop_after=cut)
        assert cut_short.saved == advance_over(SPY.advance, whole.start, whole.pages[:cut], settings)
        assert trial.left_behind() == []
        trial.step(days=0, late=[], new=later)
        trial.catch_up()
        assert trial.missing() == []


@given(st.integers(min_value=1, max_value=6), st.booleans(), st.integers(min_value=1, max_value=3))
def test_a_page_of_prints_sharing_one_instant_is_stepped_over_and_named_in_a_warning(page_size, inclusive, extra):
    """More prints share one second than a page holds: the sweep goes past them, ends, and says so."""
    settings = darkpool.Settings(tickers=["SPY"], page_size=page_size)
    market = _market(settings, inclusive)
    burst_ms = _ms(market.clock) + 1000
    market.publish(FIRST_DAY, [burst_ms - 5000, burst_ms - 1000, *[burst_ms] * (page_size + extra), burst_ms + 1000])
    market.clock = _instant(burst_ms + 1000)
    done = market.run()
    assert len(done.pages) <= 3 * 4 + 1, "at most three requests per instant, and a short page"
    assert any(w.startswith("SPY: ") and "2025-10-22T13:30:01Z" in w for w in done.warnings)
    assert market.missing() == []
    older = {tracking_id for ms, tracking_id in market.tape.days[FIRST_DAY] if ms < burst_ms}
    assert older <= market.fetched, "the prints before the burst are still reached"


arbitrary_pages = st.lists(
    st.tuples(st.lists(st.integers(min_value=-5000, max_value=5000), max_size=3),
              st.integers(min_value=0, max_value=3)),
    max_size=40,
)
"""What an API that ignores its own bounds might send: prints at any time near noon, and unreadable items."""


@given(st.sampled_from([1, 2, 5, 10_000]), arbitrary_pages, st.booleans())
def test_a_sweep_lowers_older_than_on_every_request_whatever_the_api_sends(max_pages, pages, incremental):
    """Even an API that ignores its own bounds cannot make a pass loop: it ends within its page cap,
    and without the cap as soon as the pages run out."""
    settings = darkpool.Settings(tickers=["SPY"], page_size=3, max_pages=max_pages)
    anchor = _ny(FIRST_DAY, time(12))
    loaded = SweepCursor(day=FIRST_DAY, newest=anchor) if incremental else None
    start = SPY.begin(loaded, anchor + timedelta(hours=1), settings)
    request, made = SPY.next_request(start, None, None, settings), []
    served = iter(pages)
    while request is not None:
        made.append(request)
        assert len(made) <= min(max_pages, len(pages) + 1)
        offsets, junk = next(served, ([], 0))
        records = tuple(_record({"tracking_id": i, "executed_at": z_spelling(anchor + o * MS, "milliseconds"),
                                 "ticker": "SPY", "price": "1", "size": 1}) for i, o in enumerate(offsets))
        request = SPY.next_request(start, request, Page(request, min(3, len(offsets) + junk), records), settings)
    bounds = [int(r.param("older_than")) for r in made[1:]]
    assert all(a > b for a, b in zip(bounds, bounds[1:])), "older_than strictly decreases within the day"


# Days: midnight, weekends, holidays.


def test_after_midnight_a_pass_first_finishes_the_previous_day_then_collects_the_new_one():
    settings = darkpool.Settings(tickers=["SPY"])
    for inclusive in (False, True):
        market = _market(settings, inclusive)
        wednesday, thursday = date(2025, 10, 22), date(2025, 10, 23)
        closing = _ms(_ny(wednesday, time(19, 59, 58)))
        market.publish(wednesday, [closing - 60_000, closing - 1000, closing, closing])
        market.clock = _ny(wednesday, time(20))
        market.run()
        market.publish(wednesday, [closing, closing - 30_000])  # after-hours prints reported after the pass
        thursday_open = _ms(_ny(thursday, time(4, 0, 1)))
        market.publish(thursday, [thursday_open, thursday_open + 1000])
        market.clock = _ny(thursday, time(4, 5))
        done = market.run()
        days = [page.request.param("date") for page in done.pages]
        assert days == sorted(days) and set(days) == {"2025-10-22", "2025-10-23"}
        assert done.pages[0].request.param("newer_than") is not None, "the previous day is read from its cursor on"
        assert market.missing() == []
        assert (market.cursor.day, market.cursor.target) == (thursday, thursday)


@pytest.mark.parametrize(
    ("now", "collected"),
    [
        (datetime(2025, 10, 25, 15, 0, tzinfo=UTC), date(2025, 10, 24)),  # Saturday: Friday
        (datetime(2025, 10, 27, 3, 0, tzinfo=UTC), date(2025, 10, 24)),  # Sunday 23:00 New York: still Friday
        (datetime(2025, 7, 4, 16, 0, tzinfo=UTC), date(2025, 7, 3)),  # Independence Day: the day before
        (datetime(2025, 10, 23, 3, 59, tzinfo=UTC), date(2025, 10, 22)),  # 23:59 New York on Wednesday
        (datetime(2025, 10, 23, 4, 0, tzinfo=UTC), date(2025, 10, 23)),  # midnight New York: Thursday
    ],
)
def test_a_first_pass_collects_the_last_market_day_in_new_york(now, collected):
    start = SPY.begin(None, now, darkpool.Settings())
    request = SPY.next_request(start, None, None, darkpool.Settings())
    assert request.params == (("date", collected.isoformat()), ("limit", "500"))
    assert SPY.next_request(start, request, Page(request, 0, ()), darkpool.Settings()) is None


def test_a_pass_walks_every_market_day_it_missed_in_order():
    settings = darkpool.Settings(tickers=["SPY"])
    friday = SweepCursor(day=date(2025, 10, 17), newest=_ny(date(2025, 10, 17), time(19, 59)))
    start = SPY.begin(friday, _ny(date(2025, 10, 22), time(10)), settings)
    request, days = SPY.next_request(start, None, None, settings), []
    while request is not None:
        days.append(request.param("date"))
        request = SPY.next_request(start, request, Page(request, 0, ()), settings)
    assert days == ["2025-10-17", "2025-10-20", "2025-10-21", "2025-10-22"]


@given(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)),
       st.none() | st.dates(min_value=date(2023, 12, 1), max_value=date(2026, 12, 31)))
def test_begin_targets_the_last_market_day_and_never_moves_the_cursor_back(now, saved_day):
    assume(saved_day is None or is_trading_day(saved_day))
    loaded = None if saved_day is None else SweepCursor(day=saved_day)
    start = SPY.begin(loaded, now, darkpool.Settings())
    assert start.target == last_trading_day(now.astimezone(NY).date())
    assert start.day == (saved_day or start.target)


def test_next_request_needs_a_cursor_from_begin():
    with pytest.raises(ValueError, match="begin"):
        SPY.next_request(SweepCursor(), None, None, darkpool.Settings())


def test_a_cursor_saved_before_partitions_with_its_ticker_inside_reads_as_it_was() -> None:
    """Rows in vvv.cursors from earlier releases carry the ticker; it is the partition's now."""
    old = {"ticker": "SPY", "day": "2025-10-22", "newest": "2025-10-22T20:00:00+00:00", "resume_before": None,
           "resume_after": None, "cut_at": None, "target": "2025-10-22"}
    cursor = read_cursor(darkpool.COLLECTOR.spec.cursor, old)
    assert cursor == SweepCursor(day=FIRST_DAY, newest=datetime(2025, 10, 22, 20, tzinfo=UTC), target=FIRST_DAY)


# A page none of whose prints can be read.

UNREADABLE = "Invalid isoformat string: '12/01/2026 14:00:00 ET' @ item.executed_at"


def _blind(request: Request, settings: darkpool.Settings) -> Page:
    return Page(request, settings.page_size, (), rejected=UNREADABLE)


@given(st.lists(st.tuples(st.lists(st.integers(0, 36_000_000), max_size=14), st.none() | st.integers(1, 3)),
                max_size=3),
       st.booleans(), st.integers(0, 6), st.sampled_from([1, 2, 10_000]))
def test_a_page_none_of_whose_prints_can_be_read_stops_the_sweep_there_with_the_cursor_kept(
    history, inclusive, blind_at, max_pages
):
    """Wherever the unreadable page comes (a first pass, a hole, a top sweep), the pass stops there,
    the cursor saved is the one saved before it, and the pass says why, naming the ticker, the day,
    the field and the value: so the next pass reads that page again."""
    settings = darkpool.Settings(tickers=["SPY"], page_size=5, max_pages=max_pages)
    tape, cursor = Tape("SPY", inclusive=inclusive), None
    now, opening = _ny(FIRST_DAY, time(21)), _ms(_ny(FIRST_DAY, time(4)))
    for offsets, stop_after in history:  # earlier passes, some cut short: the unreadable page may be in a hole
        tape.publish(FIRST_DAY, [opening + o for o in offsets])
        cursor = collect(tape, cursor, settings, now, stop_after=stop_after).saved or cursor
    tape.publish(FIRST_DAY, [opening + 36_000_000 + o for o in range(12)])
    start = SPY.begin(cursor, now, settings)
    saved, request, page = start, SPY.next_request(start, None, None, settings), None
    for _ in range(blind_at):
        if request is None:
            return
        payload = tape.respond(request)
        page = Page(request, len(payload["data"]), tuple(darkpool.COLLECTOR.parse(payload)[0]))
        saved = SPY.advance(start, saved, page, settings)
        request = SPY.next_request(start, request, page, settings)
    if request is None:
        return
    blind = _blind(request, settings)
    assert SPY.next_request(start, request, blind, settings) is None
    kept = SPY.advance(start, saved, blind, settings)
    assert not darkpool.COLLECTOR.finished(kept)
    if request.param("older_than") is not None:
        assert kept == saved
    again = SPY.next_request(SPY.begin(kept, now, settings), None, None, settings)
    assert (again.param("date"), again.param("newer_than")) == (request.param("date"), request.param("newer_than"))
    day_end = str(_ms(_ny(FIRST_DAY + timedelta(days=1), time(0))))  # no print of the day is above it
    assert int(again.param("older_than") or day_end) >= int(request.param("older_than") or day_end)
    (halt,) = [w for w in SPY.warnings(start, blind, settings) if isinstance(w, Halt)]
    day = date.fromisoformat(request.param("date")).isoformat()
    assert halt.startswith(f"SPY: a full page of 5 prints for {day}")
    assert "(executed_at: Invalid isoformat string: '12/01/2026 14:00:00 ET')" in halt
    assert halt.endswith(HALT_MARK)


def test_the_unreadable_page_of_a_first_pass_leaves_the_day_to_be_read_from_the_top():
    settings = darkpool.Settings(tickers=["SPY"])
    start = SPY.begin(None, _ny(FIRST_DAY, time(21)), settings)
    request = SPY.next_request(start, None, None, settings)
    saved = SPY.advance(start, start, _blind(request, settings), settings)
    assert not darkpool.COLLECTOR.finished(saved)
    again = SPY.next_request(SPY.begin(saved, _ny(FIRST_DAY, time(22)), settings), None, None,
                                  settings)
    assert again.params == (*request.params, ("older_than", str(_ms(_ny(FIRST_DAY + timedelta(days=1),
                                                                                  time(0))))))
    assert SPY.warnings(start, _blind(request, settings), settings) == [
        f"SPY: a full page of 500 prints for {FIRST_DAY} could not be read (executed_at: Invalid isoformat string:"
        f" '12/01/2026 14:00:00 ET'); {HALT_MARK}"
    ]


@pytest.mark.parametrize("inclusive", [True, False])
def test_prints_published_while_the_owed_top_of_a_day_is_read_in_parts_are_read(inclusive):
    """An unreadable first page leaves the day owed from its top; a pass reading it is cut short after a
    page, more than a page of prints is published, and the next pass reads every one of them."""
    settings = darkpool.Settings(tickers=["SPY"], page_size=5)
    tape, now = Tape("SPY", inclusive=inclusive), _ny(FIRST_DAY, time(21))
    opening = _ms(_ny(FIRST_DAY, time(10)))
    tape.publish(FIRST_DAY, [opening + 1000 * i for i in range(8)])
    start = SPY.begin(None, now, settings)
    owed = SPY.advance(start, start, _blind(SPY.next_request(start, None, None, settings), settings),
                            settings)
    part = collect(tape, owed, settings, now, stop_after=1)
    later = tape.publish(FIRST_DAY, [opening + 60_000 + 1000 * i for i in range(12)])
    rest = collect(tape, part.saved, settings, now)
    read = {r.tracking_id for p in (*part.pages, *rest.pages) for r in p.records}
    assert {tracking_id for _, tracking_id in later} <= read
    assert darkpool.COLLECTOR.finished(rest.saved)
