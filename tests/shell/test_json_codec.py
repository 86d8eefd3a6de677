"""The fast JSON codecs read and write what `json` does: a page decodes to the same values
(integers of any size exact, NaN kept as its text, lone surrogates kept), and a jsonb value
encodes to JSON that reads back as the value itself."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vvv.io.http import decode_json
from vvv.io.store import json_dumps

_text = st.text(st.characters(codec=None), max_size=8) | st.sampled_from(["\ud800", "a\udfff", "\x00", "é😀"])
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from([2**64, -(2**63) - 1, 10**40])
    | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@given(_values)
def test_a_page_decodes_as_json_reads_it(value: Any) -> None:
    body = json.dumps({"data": [value]}).encode()
    assert repr(decode_json(body)) == repr(json.loads(body, parse_constant=str))


def test_what_is_not_json_is_read_as_json_reads_it_or_refused() -> None:
    assert decode_json(b'{"data": [NaN, Infinity, 1e400]}') == {"data": ["NaN", "Infinity", float("inf")]}
    for body in (b"[1,2,]", b'{"data": ', b"\xff"):
        try:
            decode_json(body)
        except ValueError:
            continue
        raise AssertionError(f"{body!r} was read")


@given(_values)
def test_a_jsonb_value_encodes_to_json_that_reads_back_as_itself(value: Any) -> None:
    assert repr(json.loads(json_dumps(value))) == repr(value)
