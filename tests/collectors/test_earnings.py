"""Earnings' own rules: which endpoints a config may name, and reports whose key says nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vvv.collectors import earnings

ITEM = {"symbol": "IVT", "report_date": "2023-02-14", "report_time": "postmarket", "actual_eps": "",
        "reaction": None, "marketcap": "1649115201", "implied_move_30d": "0.1"}


@given(st.lists(st.sampled_from(earnings.REPORT_TIMES), min_size=1))
def test_report_times_keep_each_endpoint_once_in_order(chosen: list[str]) -> None:
    assert earnings.Settings(report_times=chosen).report_times == tuple(dict.fromkeys(chosen))


@pytest.mark.parametrize("wrong", [[], "premarket", ["postmarket"], ["premarket", "evening"]])
def test_report_times_refuse_what_is_no_endpoint_naming_the_setting(wrong) -> None:
    with pytest.raises(ValueError, match="report_times"):
        earnings.Settings(report_times=wrong)


def test_results_not_in_yet_are_null_and_unknown_fields_kept() -> None:
    (report,), rejects = earnings.COLLECTOR.parse({"data": [ITEM]}, "afterhours")
    assert rejects == [] and report.actual_eps is None and report.reaction is None
    assert report.extra == {"implied_move_30d": "0.1"}


@pytest.mark.parametrize(("field", "reason"), [("symbol", "symbol is empty"), ("report_time", "report_time is empty")])
def test_a_report_whose_key_says_nothing_is_rejected(field: str, reason: str) -> None:
    (report,), _ = earnings.COLLECTOR.parse({"data": [{**ITEM, field: " "}]})
    assert earnings.validate(report, None) == reason
