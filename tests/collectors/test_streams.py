"""The channel declarations (vvv/streams/) against the real frames of socket-samples/ and their shapes:
every payload becomes a record or a reject, never an exception; the twins keep the REST identities."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vvv.collectors import news as rest_news
from vvv.collectors.options_flow import Alert
from vvv.core.base import Reject
from vvv.streams import DECLARATIONS, channel, flow_alerts, gex, news, off_lit_trades, option_trades, prices
from vvv.core.timepaging import ms
from vvv.streams.gaps import MAX_GAP, fill_start, seeds

SAMPLES = Path("/work/shared/uw-api/socket-samples")
if not SAMPLES.is_dir():  # beside the checkout, as on the lead's machine
    SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "uw-api" / "socket-samples"
pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="the socket samples are not on this machine")


def frames(name: str) -> list[tuple[str, Any]]:
    """(channel, payload) of each data frame of a demo file (`time|channel|payload`, payload in Python repr)."""
    found = []
    for line in (SAMPLES / name).read_text().splitlines():
        parts = line.split("|", 2)
        if len(parts) == 3:
            payload = ast.literal_eval(parts[2])
            if payload != {"response": {}, "status": "ok"}:
                found.append((parts[1], payload))
    return found


TRADES = [p for _, p in frames("demo_optiontrades_20250516_131951.txt")]
TRADES.append(json.loads((SAMPLES / "option_trades_live_frame_QQQ_2026-08-20.json").read_text())[1])
ALERTS = [p for _, p in frames("demo_flowalerts_20250516_131951.txt")]
GEX = frames("demo_greeks_20250516_131951.txt")


def test_every_real_option_trade_frame_becomes_a_row_in_column_order() -> None:
    assert len(TRADES) >= 10
    for payload in TRADES:
        row = option_trades.parse(payload)
        assert isinstance(row, tuple) and len(row) == len(option_trades.COLUMNS)
        named = dict(zip((c.name for c in option_trades.COLUMNS), row, strict=True))
        assert str(named["id"]) == payload["id"]
        assert named["executed_at"] == datetime.fromtimestamp(payload["executed_at"] / 1000, UTC)
        assert named["option_chain_id"] == payload["option_symbol"]
        assert named["upstream_condition_detail"] == payload["trade_code"]
        assert named["strike"] == payload["strike"] and Decimal(named["delta"]) == Decimal(payload["delta"])
        assert named["extra"] == "{}" and named["tags"] == "{" + ",".join(payload["tags"]) + "}"


def _numberish() -> st.SearchStrategy[Any]:
    text = st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**9, max_value=10**9).map(str)
    return st.one_of(text, st.just(""), st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32),
                     st.integers(-10**6, 10**6), st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2))


NUMERIC = [c.name for c in option_trades.COLUMNS if c.type == "numeric"]


@given(base=st.sampled_from(TRADES), numbers=st.dictionaries(st.sampled_from(NUMERIC), _numberish()),
       dropped=st.sets(st.sampled_from(sorted(TRADES[0]))), added=st.dictionaries(st.text(min_size=1, max_size=8),
                                                                                st.integers() | st.text(max_size=4),
                                                                                max_size=3),
       executed_at=st.one_of(st.integers(1_500_000_000_000, 2_000_000_000_000), st.text(max_size=3), st.none()))
def test_any_option_trade_shaped_payload_is_a_row_or_a_reject_never_an_exception(base, numbers, dropped, added,
                                                                                   executed_at) -> None:
    payload = {**{k: v for k, v in base.items() if k not in dropped}, **numbers, **added, "executed_at": executed_at}
    result = option_trades.parse(payload)
    if isinstance(result, Reject):
        assert result.raw is payload and result.reason
        return
    named = dict(zip((c.name for c in option_trades.COLUMNS), result, strict=True))
    sent = {option_trades._RENAMED.get(k, k): v for k, v in payload.items()}
    for name in NUMERIC:  # "" is null; a number string is that number, as numeric's text input
        if sent.get(name) in ("", None):
            assert named[name] is None
        else:
            assert Decimal(named[name]) == Decimal(str(sent[name]))
    unknown = {k for k in payload if k not in option_trades._KNOWN}
    assert set(json.loads(named["extra"])) == unknown


def test_an_index_options_empty_underlying_price_is_null_and_a_trade_of_another_ticker_is_a_reject() -> None:
    spx = {**TRADES[-1], "underlying_symbol": "SPX", "option_symbol": "SPXW260820P05700000", "underlying_price": ""}
    assert option_trades.parse(spx)[14] is None
    assert isinstance(option_trades.parse(spx, "QQQ"), Reject)
    assert option_trades.validate(option_trades.parse(TRADES[-1]), datetime(2026, 8, 20, 18, tzinfo=UTC)) is None
    late = option_trades.validate(option_trades.parse(TRADES[-1]), datetime(2026, 9, 20, tzinfo=UTC))
    assert late is not None and "days old" in late


def test_every_real_flow_alert_frame_becomes_the_rest_record_with_the_providers_id() -> None:
    assert ALERTS
    for payload in ALERTS:
        alert = flow_alerts.parse(payload)
        assert isinstance(alert, Alert), alert
        assert alert.id == payload["id"] and alert.alert_rule == payload["rule_name"]
        assert alert.created_at == datetime.fromtimestamp(payload["executed_at"] / 1000, UTC)
        assert str(alert.total_premium) == str(Decimal(repr(payload["total_premium"])))
        assert alert.expiry is not None and alert.option_type in ("call", "put")  # from option_chain
        assert {"start_time", "end_time", "trade_ids"} <= set(alert.extra)
        assert flow_alerts.DECLARATION.validate(alert, alert.created_at) is None


def test_the_flow_alerts_stored_by_the_providers_example_parse_too() -> None:
    rows = json.loads((SAMPLES / "flow_alerts_sqlite_dump.json").read_text())
    flags = ("has_multileg", "has_sweep", "has_floor", "all_opening_trades", "has_singleleg")

    def as_sent(row: dict[str, Any]) -> dict[str, Any]:  # SQLite kept the booleans as 0/1 and the lists as text
        lists = {k: json.loads(row[k]) for k in ("trade_ids", "upstream_condition_details", "exchanges")}
        return {**row, **lists, **{k: bool(row[k]) for k in flags if row[k] is not None}}

    parsed = [flow_alerts.parse(as_sent(row)) for row in rows[1:]]
    assert all(isinstance(alert, Alert) for alert in parsed)
    assert isinstance(flow_alerts.parse(rows[0]), Reject)  # the join ack's row of nulls: no alert
    assert len({a.id for a in parsed}) == len(parsed)


def test_a_socket_headline_has_the_rest_identity() -> None:
    payload = {"headline": "US Energy Secretary foresees many more LNG export deals signed",
               "timestamp": "2025-06-11T21:40:56Z", "source": "social-media", "tickers": [], "is_trump_ts": False}
    headline = news.parse(payload)
    assert headline.id == rest_news.headline_id(source="social-media", headline=payload["headline"],
                                                created_at=datetime(2025, 6, 11, 21, 40, 56, tzinfo=UTC))
    assert headline.extra == {"is_trump_ts": False}


def test_gex_frames_keep_their_strings_as_numbers_and_blank_as_null() -> None:
    assert GEX
    for name, payload in GEX:
        record = gex.parse(payload, channel(name).ticker)
        assert isinstance(record, gex.Gex) and record.price == Decimal(payload["price"])
    blank = gex.parse({**GEX[0][1], "delta_per_one_percent_move_oi": ""}, None)
    assert blank.delta_per_one_percent_move_oi is None
    assert isinstance(gex.parse(GEX[0][1], "TSLA"), Reject)


def test_a_price_takes_its_ticker_from_the_channel() -> None:
    price = prices.parse({"close": "562.82", "time": 1726670327692, "vol": 6015555}, "SPY")
    assert (price.ticker, price.close, price.volume) == ("SPY", Decimal("562.82"), 6015555)
    assert price.time == datetime.fromtimestamp(1726670327.692, UTC)


def test_an_off_lit_print_is_read_as_the_rest_print_and_without_a_tracking_id_it_is_a_reject() -> None:
    reference = json.loads((SAMPLES / "off_lit_trades_reference_payload_UNVERIFIED.json").read_text())["payload"]
    assert isinstance(off_lit_trades.parse(reference), Reject)
    trade = off_lit_trades.parse({**reference, "tracking_id": 71984735591})
    assert trade.ticker == "AAPL" and trade.tracking_id == 71984735591 and trade.extra["type"] == "off_lit"


@given(payload=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4), max_leaves=10),
       kind=st.sampled_from(sorted(DECLARATIONS)))
def test_no_payload_makes_a_declaration_raise(payload, kind) -> None:
    declaration = DECLARATIONS[kind]
    result = declaration.parse(payload, "SPY" if declaration.ticker == "required" else None)
    assert isinstance(result, Reject) or declaration.time_of(result).tzinfo is not None


@given(kind=st.sampled_from(sorted(DECLARATIONS)), ticker=st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True))
def test_a_channel_name_is_its_kind_with_a_ticker_exactly_where_the_kind_takes_one(kind, ticker) -> None:
    declaration = DECLARATIONS[kind]
    if declaration.ticker == "none":
        assert channel(kind).name == kind
        with pytest.raises(ValueError):
            channel(f"{kind}:{ticker}")
    else:
        assert channel(f"{kind}:{ticker}").name == f"{kind}:{ticker.upper()}"
        if declaration.ticker == "required":
            with pytest.raises(ValueError):
                channel(kind)


@given(gap=st.integers(0, 10**6), stored=st.none() | st.integers(-10**6, 10**6), lookback=st.integers(0, 3600))
def test_a_fill_reads_from_the_earlier_of_the_gap_and_the_last_record_less_the_lookback_bounded(gap, stored,
                                                                                                  lookback) -> None:
    end = datetime(2026, 8, 20, 18, tzinfo=UTC)
    start = end - timedelta(seconds=gap)
    last = None if stored is None else start + timedelta(seconds=stored)
    begin = fill_start(gap_start=start, stored=last, lookback=timedelta(seconds=lookback), end=end)
    assert begin <= start - timedelta(seconds=lookback) or begin == end - MAX_GAP
    assert begin >= end - MAX_GAP
    if last is not None:
        assert begin <= last - timedelta(seconds=lookback) or begin == end - MAX_GAP


def test_the_twins_seeds_cover_the_gap() -> None:
    from vvv.collectors import darkpool, options_flow

    start, end = datetime(2026, 8, 22, 14, tzinfo=UTC), datetime(2026, 8, 22, 15, tzinfo=UTC)  # a Saturday
    [(scope, window)] = seeds("options_flow", start=start, end=end, settings=options_flow.Settings())
    assert scope == "" and window.resume_after < ms(start) and window.resume_before > ms(end)
    per_ticker = seeds("darkpool", start=start, end=end, settings=darkpool.Settings(tickers=("SPY", "QQQ")))
    assert [s for s, _ in per_ticker] == ["SPY", "QQQ"] and per_ticker[0][1].day.isoformat() == "2026-08-21"
    assert seeds("news", start=start, end=end, settings=None)[0][1].newest == start
