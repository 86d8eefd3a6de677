"""The dark pool collector's contract: parse, identity, validate, tickers, and what its halts say.

Its paging is `TimeSweep(by_market_day=True)`, played against its model in test_paging.py.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    DARKPOOL_DOCUMENTED,
    DARKPOOL_LIVE,
    broken_darkpool_items,
    clean_text,
    darkpool_items,
    decodable_text,
    json_values,
    refused,
    space_spelling,
    z_spelling,
)

from vvv.collectors import darkpool
from vvv.core.base import HALT_MARK, Page, read_cursor, record_row
from vvv.core.convert import CONVERTER, describe_error, parse_timestamp
from vvv.core.paging import SweepCursor

NOW = datetime(2025, 10, 22, 21, 24, 30, tzinfo=UTC)


def _subsequence(part: Sequence[Any], whole: Sequence[Any], same: Any) -> bool:
    rest = iter(whole)
    return all(any(same(p, w) for w in rest) for p in part)


def _record(item: dict[str, Any]) -> darkpool.Trade:
    records, rejects = darkpool.COLLECTOR.parse({"data": [item]})
    assert rejects == [], rejects
    return records[0]


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


def test_a_cursor_saved_before_partitions_with_its_ticker_inside_reads_as_it_was() -> None:
    """Rows in vvv.cursors from earlier releases carry the ticker; it is the partition's now."""
    old = {"ticker": "SPY", "day": "2025-10-22", "newest": "2025-10-22T20:00:00+00:00", "resume_before": None,
           "resume_after": None, "cut_at": None, "target": "2025-10-22"}
    cursor = read_cursor(darkpool.COLLECTOR.spec.cursor, old)
    day = date(2025, 10, 22)
    assert cursor == SweepCursor(day=day, newest=datetime(2025, 10, 22, 20, tzinfo=UTC), target=day)


def test_an_unreadable_page_halts_naming_the_ticker_the_day_and_executed_at() -> None:
    """The sweep itself is tested in test_paging.py; here, what the operator reads."""
    settings = darkpool.Settings(tickers=["SPY"])
    collector = darkpool.COLLECTOR
    start = collector.begin(None, "SPY", datetime(2025, 10, 23, 1, tzinfo=UTC), settings)
    request = collector.next_request(start, None, None, settings, "SPY")
    blind = Page(request, settings.page_size, (),
                 rejected="Invalid isoformat string: '12/01/2026 14:00:00 ET' @ item.executed_at")
    assert collector.warnings(start, blind, settings, "SPY") == [
        "SPY: a full page of 500 prints for 2025-10-22 could not be read (executed_at: Invalid isoformat string:"
        f" '12/01/2026 14:00:00 ET'); {HALT_MARK}"
    ]
