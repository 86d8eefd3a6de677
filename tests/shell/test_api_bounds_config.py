"""`api.max_response_mb` and `api.request_timeout`: numbers as written, in range, or an error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vvv.config import ConfigError, load


def _load(tmp_path: Path, toml: str):
    (tmp_path / "vvv.toml").write_text(toml)
    return load({}, cwd=tmp_path)


def test_the_bounds_default_to_64_mb_and_60_seconds(tmp_path: Path) -> None:
    api = _load(tmp_path, "").api
    assert (api.max_response_mb, api.request_timeout) == (64, 60)


def test_the_bounds_are_read_from_the_file(tmp_path: Path) -> None:
    api = _load(tmp_path, "[api]\nmax_response_mb = 2.5\nrequest_timeout = 20\n").api
    assert (api.max_response_mb, api.request_timeout) == (2.5, 20)


@pytest.mark.parametrize("key", ["max_response_mb", "request_timeout"])
@pytest.mark.parametrize("value", ['"64"', "true", "false", "0", "-5", "100000", "1e400", "nan", '"off"', "[1]"])
def test_a_bound_that_is_not_a_number_in_range_is_an_error_naming_the_key(tmp_path: Path, key: str,
                                                                           value: str) -> None:
    with pytest.raises(ConfigError, match=f"api.*{key} must be a number from"):
        _load(tmp_path, f"[api]\n{key} = {value}\n")
