"""Configuration: environment over file over defaults; every error names its setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vvv import config
from vvv.config import ConfigError, load, mask_dsn, parse_duration


def _load(tmp_path: Path, toml: str = "", **env: str) -> config.Config:
    (tmp_path / "vvv.toml").write_text(toml)
    return load(env, cwd=tmp_path)


def _error(tmp_path: Path, toml: str = "", **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, toml, **env)
    return str(caught.value)


def test_defaults_without_any_file(tmp_path: Path) -> None:
    conf = load({"HOME": str(tmp_path)}, cwd=tmp_path)
    assert conf.api.base_url == "https://api.unusualwhales.com"
    assert conf.database.url is None
    assert conf.token is None
    assert (conf.log.format, conf.log.level) == ("text", "INFO")
    assert conf.collectors["news"].interval == 120


def test_xdg_data_home_sets_the_default_data_dir(tmp_path: Path) -> None:
    assert load({"XDG_DATA_HOME": "/srv/data"}, cwd=tmp_path).data_dir == Path("/srv/data/vvv")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    toml = '[api]\nbase_url = "https://file.example"\n[log]\nlevel = "DEBUG"\n[database]\nurl = "postgresql://file/db"\n'
    conf = _load(tmp_path, toml, VVV_UW_BASE_URL="https://env.example", VVV_DATABASE_URL="postgresql://env/db")
    assert conf.api.base_url == "https://env.example"
    assert conf.database.url == "postgresql://env/db"
    assert conf.log.level == "DEBUG"  # from the file, no variable set


def test_collector_table_sets_schedule_and_options(tmp_path: Path) -> None:
    toml = '[collectors.news]\nenabled = false\ninterval = "30s"\nclosed_interval = "off"\nmax_pages = 5\n'
    news = _load(tmp_path, toml).collectors["news"]
    assert (news.enabled, news.interval, news.extended_interval, news.closed_interval) == (False, 30, 300, None)
    assert news.options.max_pages == 5


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ('[api]\nbase_ur = "x"\n', "base_ur"),
        ("[api]\nread_timeout = -1\n", "read_timeout"),
        ('[collectors.news]\ninterval = "5 minutes"\n', "collectors.news.interval"),
        ("[collectors.news]\npage_size = 500\n", "page_size"),
        ("[collectors.news]\nwatchlist = []\n", "watchlist"),
        ('[collectors.news]\nenabled = "yes"\n', "collectors.news.enabled"),
        ("[collectors.weather]\n", "collectors.weather"),
        ('[log]\nformat = "xml"\n', "format"),
        ("surprise = 1\n", "surprise"),
        ("[api\n", "not valid TOML"),
    ],
)
def test_bad_file_values_name_the_key(tmp_path: Path, toml: str, names: str) -> None:
    message = _error(tmp_path, toml)
    assert names in message
    assert "vvv.toml" in message


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"VVV_LOG_LEVEL": "loud"}, "VVV_LOG_LEVEL"),
        ({"VVV_LOG_FORMAT": "xml"}, "VVV_LOG_FORMAT"),
        ({"VVV_UW_BASE_URL": "ftp://example"}, "VVV_UW_BASE_URL"),
        ({"VVV_CONFIG": "/no/such/vvv.toml"}, "VVV_CONFIG"),
        ({"VVV_UW_TOKEN_FILE": "/no/such/token"}, "VVV_UW_TOKEN_FILE"),
    ],
)
def test_bad_environment_values_name_the_variable(tmp_path: Path, env: dict, names: str) -> None:
    assert names in _error(tmp_path, **env)


def test_missing_token_names_both_ways_to_give_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VVV_UW_TOKEN.*VVV_UW_TOKEN_FILE"):
        _load(tmp_path).require_token()


def test_token_file_is_stripped_and_an_empty_one_is_an_error(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("\n  abc-123-token \n")
    assert _load(tmp_path, VVV_UW_TOKEN_FILE=str(token)).require_token() == "abc-123-token"
    token.write_text(" \n")
    assert "is empty" in _error(tmp_path, VVV_UW_TOKEN_FILE=str(token))


def test_the_token_is_not_in_the_config_repr(tmp_path: Path) -> None:
    conf = _load(tmp_path, VVV_UW_TOKEN="tok-secret-999", VVV_DATABASE_URL="postgresql://u:db-secret@h/x")
    assert "tok-secret-999" not in repr(conf)
    assert "db-secret" not in repr(conf)


def test_vvv_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[collectors.news]\nmax_pages = 7\n")
    assert load({"VVV_CONFIG": str(path)}, cwd=tmp_path).collectors["news"].options.max_pages == 7


@given(amount=st.integers(1, 10_000), unit=st.sampled_from(["s", "m", "h", "d"]))
def test_durations_are_whole_seconds(amount: int, unit: str) -> None:
    assert parse_duration(f"{amount}{unit}") == amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


@pytest.mark.parametrize("text", ["0s", "1", "1.5m", "-1m", "m", "", "1 week"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_off_means_no_interval() -> None:
    assert parse_duration("off") is None


def test_mask_dsn_hides_only_the_password() -> None:
    assert mask_dsn("postgresql://vvv:s3cret@db:5432/vvv") == "postgresql://vvv:***@db:5432/vvv"
    assert mask_dsn("postgresql://db/vvv") == "postgresql://db/vvv"


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8080", "http://127.example.com"])
def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path, url: str) -> None:
    message = _error(tmp_path, VVV_UW_BASE_URL=url)
    assert "VVV_UW_BASE_URL" in message and "https" in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123", "http://127.1.2.3", "http://localhost:9", "http://[::1]:80",
                                 "https://api.unusualwhales.com"])
def test_tls_or_loopback_is_accepted(tmp_path: Path, url: str) -> None:
    assert _load(tmp_path, VVV_UW_BASE_URL=url).api.base_url == url


def test_a_token_file_others_can_read_gets_a_warning_naming_the_fix(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("secret-token-value\n")
    token.chmod(0o644)
    warning = config.token_file_warning({"VVV_UW_TOKEN_FILE": str(token)})
    assert str(token) in warning and f"chmod 600 {token}" in warning
    token.chmod(0o600)
    assert config.token_file_warning({"VVV_UW_TOKEN_FILE": str(token)}) is None


@pytest.mark.parametrize(
    ("dsn", "password"),
    [
        ("postgresql://vvv:s3cret@db/vvv", "s3cret"),
        ("host=db dbname=vvv password=s3cret user=vvv", "s3cret"),
        ("host=db password='it\\'s s3cret'", "it's s3cret"),
        ("host=db password = 'two words'", "two words"),
        ("host=db dbname=vvv", None),
    ],
)
def test_the_password_of_any_dsn_form_is_found_for_redaction(dsn: str, password: str | None) -> None:
    assert config.dsn_password(dsn) == password


def test_a_watchlist_must_be_a_list_not_a_string(tmp_path: Path) -> None:
    assert "tickers" in _error(tmp_path, '[collectors.darkpool]\ntickers = "SPY"\n')
    assert _load(tmp_path, '[collectors.darkpool]\ntickers = ["spy", "BRK.B"]\n').collectors[
        "darkpool"].options.tickers == ("SPY", "BRK.B")


@pytest.mark.parametrize(
    ("filters", "names"),
    [("{ is_sweep = \"yes\" }", "filters.is_sweep"), ("{ min_premum = 5 }", "min_premum"),
     ("{ rule_name = [\"Whatever\"] }", "rule_name"), ("\"SPY\"", "filters")],
)
def test_options_flow_filters_are_checked_at_start_naming_the_filter(tmp_path: Path, filters: str, names: str) -> None:
    message = _error(tmp_path, f"[collectors.options_flow]\nfilters = {filters}\n")
    assert "collectors.options_flow" in message and names in message


def test_options_flow_filters_that_fit_are_kept(tmp_path: Path) -> None:
    conf = _load(tmp_path, '[collectors.options_flow]\nfilters = { min_premium = 50000, is_sweep = true }\n')
    assert conf.collectors["options_flow"].options.filters == {"min_premium": 50000, "is_sweep": True}


_TOO_BIG = "12345678901234567890123"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[collectors.darkpool]\npage_size = "500"\n', "collectors.darkpool.page_size: expected an integer, got '500'"),
        ('[collectors.news]\nmax_pages = "5"\n', "collectors.news.max_pages: expected an integer, got '5'"),
        (f"[collectors.news]\nmax_pages = {_TOO_BIG}\n", "collectors.news.max_pages: expected an integer of at most"),
        (f"[collectors.options_flow]\nmax_pages = {_TOO_BIG}\n", "collectors.options_flow.max_pages: expected an"),
        ("[collectors.darkpool]\nlookback_seconds = true\n", "collectors.darkpool.lookback_seconds: expected an integer,"
                                                             " got True"),
        ("[api]\nread_timeout = true\n", "api.read_timeout: expected a number, got True"),
        ('[api]\nconnect_timeout = "5"\n', "api.connect_timeout: expected a number, got '5'"),
        ("[api]\nconnect_timeout = inf\n", "api.connect_timeout: expected a finite number"),
        ("[api]\nread_timeout = nan\n", "api.read_timeout: expected a finite number"),
        (f"[api]\nread_timeout = {_TOO_BIG}\n", "api.read_timeout: expected a number of at most"),
        ('[api]\nmax_retries = "4"\n', "api.max_retries: expected an integer, got '4'"),
        (f"[api]\nrequests_per_minute = {_TOO_BIG}\n", "api.requests_per_minute: expected an integer of at most"),
        ("[api]\ndaily_reserve = 1.5\n", "api.daily_reserve: expected an integer, got 1.5"),
        ("[api]\nbase_url = 1\n", "api.base_url: expected a string, got 1"),
        ('[monitor]\nenabled = "true"\n', "monitor.enabled: expected true or false, got 'true'"),
        ('[monitor]\nport = "9108"\n', "monitor.port: expected an integer, got '9108'"),
        ("[monitor]\naddress = false\n", "monitor.address: expected a string, got False"),
        ('[spool]\nmax_size_mb = "10"\n', "spool.max_size_mb: expected an integer, got '10'"),
        (f"[spool]\nmax_size_mb = {_TOO_BIG}\n", "spool.max_size_mb: expected an integer of at most"),
        ("[database]\nstatement_timeout = true\n", "database.statement_timeout: expected a string, got True"),
        ("[service]\nruns_retention = 90\n", "service.runs_retention: expected a string, got 90"),
        ("[log]\nlevel = 1\n", "log.level: expected a string, got 1"),
        ("data_dir = true\n", "data_dir: expected a string, got True"),
        ('[collectors.darkpool]\ntickers = "SPY"\n', "collectors.darkpool.tickers: expected a list"),
        ("[collectors.news]\ninterval = true\n", "collectors.news.interval: expected a duration"),
        ('[collectors.news]\nstale_after = "99999999999d"\n', "collectors.news.stale_after: expected a duration of"
                                                              " at most"),
        ('[database]\nstatement_timeout = "99999999999d"\n', "database.statement_timeout: expected a duration of"
                                                             " at most"),
    ],
)
def test_settings_take_exactly_their_type_and_range(tmp_path: Path, toml: str, message: str) -> None:
    """No string for a number, no boolean for a number or duration, nothing beyond what the key can hold."""
    assert message in _error(tmp_path, toml)


def test_every_number_and_switch_setting_refuses_a_value_of_another_type(tmp_path: Path) -> None:
    """Driven by the settings' own types, so a key added later is checked as well."""
    for section, key, wrong in _typed_keys():
        message = _error(tmp_path, f"[{section}]\n{key} = {wrong}\n")
        assert f"{section}.{key}: expected" in message, message


def _typed_keys() -> list[tuple[str, str, str]]:
    import attrs

    from vvv.collectors import COLLECTORS

    sections = {"api": config.ApiConfig, "monitor": config.MonitorConfig, "spool": config.SpoolConfig,
                **{f"collectors.{name}": c.spec.settings for name, c in COLLECTORS.items()}}
    wrong = {int: '"1"', float: "true", bool: '"true"'}
    return [(section, field.name, wrong[field.type]) for section, cls in sections.items()
            for field in attrs.fields(attrs.resolve_types(cls)) if field.type in wrong]


def test_a_number_setting_still_takes_an_integer_where_a_fraction_may_go(tmp_path: Path) -> None:
    conf = _load(tmp_path, "[api]\nread_timeout = 12\nconnect_timeout = 2.5\n")
    assert (conf.api.read_timeout, conf.api.connect_timeout) == (12.0, 2.5)
