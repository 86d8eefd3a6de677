"""Insider transactions' own rules: identity (the provider's id, else the filing's fields) and its filters."""

from __future__ import annotations

import pytest

from vvv.collectors import insider_trades
from vvv.core import params

ITEM = {"ticker": "META", "owner_name": "ZUCKERBERG MARK", "filing_date": "2024-12-12",
        "transaction_date": "2024-12-12", "transaction_code": "S", "amount": -35921, "price": "632"}


def _parse(item: dict):
    return insider_trades.COLLECTOR.parse({"data": [item]})


def test_the_providers_id_is_the_identity_and_without_one_the_filings_fields_are() -> None:
    (record,), _ = _parse({**ITEM, "id": "2662b73d-0ad6-4568-adb0-739b96c18090"})
    assert record.id == "2662b73d-0ad6-4568-adb0-739b96c18090"
    (hashed,), _ = _parse(ITEM)
    (same,), _ = _parse({**ITEM, "price": "632.00", "sector": "Communication Services", "id": None})
    (grown,), _ = _parse({**ITEM, "amount": -50000, "transactions": 2})  # an aggregate restated keeps its id
    (other,), _ = _parse({**ITEM, "transaction_code": "P"})
    assert len(hashed.id) == 64 and hashed.id == same.id == grown.id != other.id


@pytest.mark.parametrize("no_id", ["", "0", 0])
def test_an_id_that_means_no_id_is_a_reject(no_id) -> None:
    records, (reject,) = _parse({**ITEM, "id": no_id})
    assert records == [] and "id" in reject.reason


def test_a_text_filter_takes_one_line_of_text_only() -> None:
    assert params.checked(insider_trades.FILTERS, {"owner_name": "COOK"}) == {"owner_name": "COOK"}
    for bad in ("", "a\nb", 12, "x" * 201):
        with pytest.raises(TypeError, match="filters.owner_name"):
            params.checked(insider_trades.FILTERS, {"owner_name": bad})
