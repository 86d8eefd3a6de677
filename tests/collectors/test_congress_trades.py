"""Congress trades' own rules: identity (the provider's id, else the report's fields)."""

from __future__ import annotations

import pytest

from vvv.collectors import congress_trades

REPORT = {"amounts": "$15,001 - $50,000", "filed_at_date": "2023-02-13", "issuer": "spouse", "name": "Stephen Cohen",
          "politician_id": "18f9fc95-4661-444e-99f5-99d3778e0c31", "ticker": "MSFT", "transaction_date": "2023-02-06",
          "txn_type": "Buy", "notes": "Subholding Of: Fidelity Brokerage Account", "is_active": True}


def _parse(item: dict):
    return congress_trades.COLLECTOR.parse({"data": [item]})


def test_a_report_is_its_member_asset_dates_type_amount_and_owner_not_its_notes() -> None:
    (report,), _ = _parse(REPORT)
    (amended,), _ = _parse({**REPORT, "notes": "Amended", "is_active": "G000585", "reporter": "Stephen C."})
    (own,), _ = _parse({**REPORT, "issuer": "self"})
    (by_name,), _ = _parse({**REPORT, "politician_id": None})
    (provider,), _ = _parse({**REPORT, "id": "abc-1"})
    assert len(report.id) == 64 and report.id == amended.id != own.id != by_name.id
    assert provider.id == "abc-1"
    assert amended.is_active is None and amended.extra == {"is_active": "G000585"}  # documented as a string


@pytest.mark.parametrize("item", [{**REPORT, "id": ""}, {**REPORT, "id": "0"},
                                  {**REPORT, "politician_id": None, "name": None}])
def test_a_report_that_cannot_be_told_apart_is_a_reject(item) -> None:
    records, (reject,) = _parse(item)
    assert records == [] and reject.raw is item and reject.reason
