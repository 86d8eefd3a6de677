"""Properties of the shared converter: it accepts exactly what the API can mean and names what it rejects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    aware_datetimes,
    json_values,
    space_spelling,
    spellings,
    z_spelling,
)

from vvv.core.convert import CONVERTER, describe_error, parse_timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Below this many seconds (1973-03-03) a millisecond count is too small to tell from seconds.
FIRST_UNAMBIGUOUS_SECOND = 100_000_000


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def _structure_fails(value: object, type_: type) -> bool:
    try:
        CONVERTER.structure(value, type_)
    except Exception:
        return True
    return False


@given(aware_datetimes.flatmap(lambda moment: st.tuples(st.just(moment), spellings(moment))))
@example((datetime(2023, 2, 16, 0, 59, 44, tzinfo=UTC), "2023-02-16 00:59:44+00:00"))
@example((datetime(2023, 2, 16, 0, 59, 44, tzinfo=UTC), "2023-02-16T00:59:44Z"))
def test_every_api_spelling_of_an_instant_parses_to_that_instant_in_utc(case):
    moment, text = case
    parsed = parse_timestamp(text)
    assert parsed == moment
    assert _is_utc(parsed)


@given(aware_datetimes)
def test_both_spellings_give_the_same_utc_datetime(moment):
    assert parse_timestamp(space_spelling(moment)) == parse_timestamp(z_spelling(moment))
    assert str(parse_timestamp(space_spelling(moment))) == str(parse_timestamp(z_spelling(moment)))


@given(st.integers(min_value=FIRST_UNAMBIGUOUS_SECOND, max_value=99_999_999_999))
def test_epoch_seconds_and_milliseconds_give_the_same_instant(seconds):
    from_seconds = parse_timestamp(seconds)
    assert from_seconds == EPOCH + timedelta(seconds=seconds)
    assert parse_timestamp(seconds * 1000) == from_seconds
    assert _is_utc(from_seconds) and _is_utc(parse_timestamp(seconds * 1000))


@given(st.integers(min_value=FIRST_UNAMBIGUOUS_SECOND * 1000, max_value=2**33 * 1000))
def test_epoch_milliseconds_keep_their_milliseconds(milliseconds):
    assert parse_timestamp(milliseconds) == EPOCH + timedelta(milliseconds=milliseconds)


@given(st.one_of(aware_datetimes.flatmap(spellings), st.integers(0, 10**13), st.floats(0, 10**12)))
def test_parsed_timestamps_are_always_aware_utc(value):
    assert _is_utc(parse_timestamp(value))


@given(st.booleans() | st.none() | st.lists(st.integers()) | st.dictionaries(st.text(), st.integers()))
def test_parse_timestamp_rejects_what_is_not_a_timestamp(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


@given(st.text())
def test_str_accepts_any_string_unchanged(text):
    assert CONVERTER.structure(text, str) == text


@given(json_values.filter(lambda v: not isinstance(v, str)))
def test_str_rejects_non_strings(value):
    """In particular a null never becomes the string "None"."""
    assert _structure_fails(value, str)


def test_bool_accepts_json_booleans_and_their_spelling():
    assert [CONVERTER.structure(v, bool) for v in (True, False, "true", "false")] == [True, False, True, False]


@given(json_values.filter(lambda v: not isinstance(v, bool) and v not in ("true", "false")))
@example("True")
@example("False")
@example("0")
@example(0)
@example(1)
@example("")
def test_bool_rejects_everything_else(value):
    assert _structure_fails(value, bool)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_accepts_numeric_strings_exactly(number):
    assert CONVERTER.structure(str(number), Decimal) == number
    assert CONVERTER.structure(f" {number} ", Decimal) == number


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_decimal_accepts_json_numbers(number):
    assert CONVERTER.structure(number, Decimal) == Decimal(str(number))


@given(
    st.sampled_from(["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "", "   ", "1,5", "12abc", "$5"])
    | st.sampled_from([float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("Infinity")])
    | st.booleans()
    | st.none()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(), st.integers(), max_size=2)
)
def test_decimal_rejects_non_finite_garbage_and_booleans(value):
    assert _structure_fails(value, Decimal)


@given(st.integers())
def test_int_accepts_integers_and_integer_strings(number):
    assert CONVERTER.structure(number, int) == number
    assert CONVERTER.structure(str(number), int) == number


@given(
    st.booleans()
    | st.floats()
    | st.floats(allow_nan=False, allow_infinity=False).map(str)
    | st.decimals(places=2, allow_nan=False, allow_infinity=False).map(str).filter(lambda s: "." in s)
    | st.sampled_from(["", "-", "1e3", "0x10", "1 000", "true"])
    | st.none()
)
def test_int_rejects_booleans_floats_and_float_strings(value):
    assert _structure_fails(value, int)


@given(st.lists(st.text(max_size=5), max_size=5))
def test_lists_of_strings_arrive_as_json_arrays(items):
    assert CONVERTER.structure(items, list[str]) == items


@given(st.text(min_size=1, max_size=8) | st.dictionaries(st.text(), st.text(), min_size=1) | st.integers())
@example("SPY")
def test_a_list_field_never_splits_a_string_or_reads_another_type(value):
    """`"SPY"` must not become `["S", "P", "Y"]`."""
    assert _structure_fails(value, list[str])
    assert _structure_fails(value, list[str] | None)


@attrs.frozen
class _Inner:
    price: Decimal
    tags: list[str]


@attrs.frozen
class _Outer:
    headline: str
    inner: _Inner


@given(st.integers() | st.none() | st.lists(st.integers(), max_size=2))
def test_describe_error_names_the_path_of_each_bad_field(bad):
    try:
        CONVERTER.structure({"headline": bad, "inner": {"price": "NaN", "tags": "SPY"}}, _Outer)
    except Exception as error:
        reason = describe_error(error)
    else:
        pytest.fail("a bad record was structured")
    assert "@ item.headline" in reason
    assert "@ item.inner.price" in reason
    assert "@ item.inner.tags" in reason


def test_describe_error_says_a_required_field_is_missing():
    try:
        CONVERTER.structure({"inner": {"price": "1", "tags": []}}, _Outer)
    except Exception as error:
        assert describe_error(error) == "required field missing @ item.headline"
    else:
        pytest.fail("a record without its required field was structured")


@attrs.frozen
class _Blanks:
    number: Decimal | None = None
    count: int | None = None
    at: datetime | None = None
    day: date | None = None
    flag: bool | None = None
    text: str | None = None
    required: Decimal = Decimal(0)
    words: list[str] | None = None


@pytest.mark.parametrize("field", ["number", "count", "at", "day", "flag", "text"])
def test_a_blank_optional_scalar_is_null(field):
    """The API writes a missing value as "" here and there (a forecast, a price): it is null."""
    assert getattr(CONVERTER.structure({field: ""}, _Blanks), field) is None


def test_a_blank_required_field_or_list_is_still_an_error_naming_it():
    for item, where in [({"required": ""}, "item.required"), ({"words": ""}, "item.words")]:
        try:
            CONVERTER.structure(item, _Blanks)
        except Exception as error:
            assert where in describe_error(error)
        else:
            raise AssertionError(f"{item} was accepted")
