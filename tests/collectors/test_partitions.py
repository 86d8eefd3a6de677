"""The kernel's endpoint-variant partitions: a config names some of an endpoint's variants, each once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vvv.core.partitions import variants

ALLOWED = ("premarket", "afterhours", "1m")
convert = variants("things", ALLOWED)


@given(st.lists(st.sampled_from(ALLOWED), min_size=1) | st.tuples(st.sampled_from(ALLOWED)))
def test_the_variants_are_the_ones_named_each_once_in_order(named) -> None:
    result = convert(named)
    assert result == tuple(dict.fromkeys(named)) and set(result) <= set(ALLOWED)


@given(st.one_of(st.text(), st.none(), st.integers(), st.just([]),
                 st.lists(st.text().filter(lambda t: t not in ALLOWED), min_size=1)))
def test_anything_else_is_refused_naming_the_setting(value) -> None:
    with pytest.raises(ValueError, match="^things"):
        convert(value)
