"""Configuration: environment variables over the TOML file over defaults.

Built once by the CLI and passed down; no other module reads the environment. Every
error names the setting (`VVV_UW_TOKEN`, `collectors.news.interval`, ...) and what is wrong.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
from attrs import frozen

from vvv.collectors import COLLECTORS
from vvv.core.base import at_least, at_most, one_of
from vvv.core.convert import error_lines, make_converter
from vvv.errors import UsageError

DEFAULT_BASE_URL = "https://api.unusualwhales.com"
DEFAULT_SOCKET_URL = "wss://api.unusualwhales.com/socket"
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SETTING_MAX = 2**31 - 1
"""The largest number any setting takes (PostgreSQL's integer), durations counted in seconds."""


class ConfigError(UsageError):
    """A configuration problem: the CLI prints it and exits 2."""


def parse_duration(value: Any) -> int | None:
    """Seconds from `"30s"`, `"1m"`, `"2h"`, `"1d"`; None for `"off"`."""
    if isinstance(value, str) and value.strip().lower() == "off":
        return None
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise ValueError(f'expected a duration like "30s", "1m", "2h" or "off", got {value!r}')
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds > SETTING_MAX:
        raise ValueError(f"expected a duration of at most {SETTING_MAX} seconds, got {value!r}")
    return seconds


def _exact_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    if abs(value) > SETTING_MAX:
        raise ValueError(f"expected an integer of at most {SETTING_MAX}, got {value!r}")
    return value


def _exact_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    if abs(value) > SETTING_MAX:
        raise ValueError(f"expected a number of at most {SETTING_MAX}, got {value!r}")
    return float(value)


def _exact_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _exact_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _settings_converter():  # noqa: ANN202 (a cattrs.Converter; cattrs is imported by convert)
    """The collectors' converter with exact hooks for the scalar types: the API writes numbers as
    strings, a person writing TOML means `"500"` as text and `true` as a switch. Every attrs field
    of the settings is checked by its declared type, so a key added later is checked too."""
    converter = make_converter()
    converter.register_structure_hook(int, _exact_int)
    converter.register_structure_hook(float, _exact_float)
    converter.register_structure_hook(bool, _exact_bool)
    converter.register_structure_hook(str, _exact_str)
    return converter


_SETTINGS = _settings_converter()


_KEYWORD_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def dsn_password(url: str) -> str | None:
    """The password in a database URL or `key=value` string, so the log filter can redact it."""
    keyword = _KEYWORD_PASSWORD.search(url)
    if keyword:
        value = keyword[1]
        return value[1:-1].replace("\\'", "'") if value.startswith("'") else value
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def mask_dsn(url: str) -> str:
    """The URL with its password replaced, safe for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _require_duration(value: Any) -> int:
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError("cannot be off")
    return seconds


def _a_duration(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    """An attrs validator: `value` is a duration other than "off"; the error names the field."""
    try:
        _require_duration(value)
    except ValueError as error:
        raise ValueError(f"{attribute.name}: {error}") from None


def _number_in(low: float, high: float) -> Any:
    """An attrs validator for a number taken exactly as written: not a string, not a boolean, within range."""

    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"{attribute.name} must be a number from {low:g} to {high:g}, got {value!r}")

    return check


@frozen
class ApiConfig:
    """`[api]`. `max_response_mb` and `request_timeout` bound one response's size and one
    request's whole time (the read timeout bounds each read only); beyond either the request
    fails and is retried."""

    base_url: str = DEFAULT_BASE_URL
    connect_timeout: float = attrs.field(default=5.0, validator=at_least(0.001))
    read_timeout: float = attrs.field(default=30.0, validator=at_least(0.001))
    max_retries: int = attrs.field(default=4, validator=at_least(0))
    requests_per_minute: int = attrs.field(default=120, validator=at_least(1))
    daily_reserve: int = attrs.field(default=500, validator=at_least(0))
    # Typed Any so the value reaches the validator as written: "64" or true is an error, not 64 or 1.
    max_response_mb: Any = attrs.field(default=64, validator=_number_in(0.01, 4096))
    request_timeout: Any = attrs.field(default=60, validator=_number_in(0.1, 3600))


@frozen
class DatabaseConfig:
    url: str | None = attrs.field(default=None, repr=lambda u: "None" if u is None else mask_dsn(u))
    statement_timeout: str = attrs.field(default="60s", validator=_a_duration)
    # The embedded server's TCP port on 127.0.0.1 (never another address), for Grafana or a
    # notebook while `vvv run` runs; off (unix socket only) by default. Ignored with `url`.
    listen_port: int | None = attrs.field(
        default=None, validator=attrs.validators.optional([at_least(1), at_most(65535)]))

    @property
    def statement_timeout_seconds(self) -> int:
        return _require_duration(self.statement_timeout)


@frozen
class LogConfig:
    format: str = attrs.field(default="text", validator=one_of("text", "json"))
    level: str = attrs.field(default="INFO", converter=str.upper, validator=one_of(*LOG_LEVELS))


@frozen
class ServiceConfig:
    """`vvv run`: how long vvv.runs keeps its rows."""

    runs_retention: str = attrs.field(default="90d", validator=_a_duration)

    @property
    def runs_retention_seconds(self) -> int:
        return _require_duration(self.runs_retention)


@frozen
class MonitorConfig:
    """`vvv run`'s HTTP endpoints (/metrics, /healthz, /readyz, /api/status, the status page)."""

    enabled: bool = True
    address: str = "127.0.0.1"
    port: int = attrs.field(default=9108, validator=[at_least(0), at_most(65535)])
    token_file: str | None = None  # the access token; VVV_MONITOR_TOKEN wins


@frozen
class SpoolConfig:
    """Where batches wait on local disk while the database is down, and how much room they get."""

    max_size_mb: int = attrs.field(default=1024, validator=at_least(1))


def _channel_names(value: Any) -> tuple[str, ...]:
    """The channels to join, each checked and spelled as the socket takes it (`price:SPY`)."""
    from vvv.streams import channel

    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"channels: expected a list of channel names, got {value!r}")
    try:
        return tuple(dict.fromkeys(channel(name).name for name in value))
    except ValueError as error:
        raise ValueError(f"channels: {error}") from None


@frozen
class StreamConfig:
    """`[stream]`: the socket's channels (`vvv stream`, and `vvv run` beside the collectors) and how
    they are stored: a batch is written at `batch_rows` rows or after `batch_ms`, whichever comes first."""

    channels: tuple[str, ...] = attrs.field(default=(), converter=_channel_names)
    url: str = DEFAULT_SOCKET_URL
    batch_rows: int = attrs.field(default=2000, validator=[at_least(1), at_most(100_000)])
    batch_ms: int = attrs.field(default=250, validator=[at_least(1), at_most(60_000)])
    gap_lookback: str = attrs.field(default="5m", validator=_a_duration)  # gap fills read again this far back
    reconnect_max: str = attrs.field(default="60s", validator=_a_duration)  # the cap of the reconnect backoff

    @property
    def gap_lookback_seconds(self) -> int:
        return _require_duration(self.gap_lookback)

    @property
    def reconnect_max_seconds(self) -> int:
        return _require_duration(self.reconnect_max)


_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _a_clock(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    """An attrs validator: a time of day written "HH:MM" (24 h)."""
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise ValueError(f'{attribute.name}: expected a time of day like "19:30", got {value!r}')


@frozen
class TapeConfig:
    """`[tape]`: the nightly full options tape (Advanced plan), loaded by `vvv run` at `at` New York
    on each market day; `retention_days` keeps that many days of trading.option_trades (unset: all)."""

    enabled: bool = False
    at: str = attrs.field(default="19:30", validator=_a_clock)
    retention_days: int | None = attrs.field(default=None, validator=attrs.validators.optional(at_least(1)))
    keep_files: bool = False

    @property
    def at_time(self) -> dt_time:
        hour, minute = self.at.split(":")
        return dt_time(int(hour), int(minute))


@frozen
class _FileConfig:
    """The TOML file's shape; `collectors` is checked per collector below."""

    data_dir: str | None = None
    api: ApiConfig = ApiConfig()
    database: DatabaseConfig = DatabaseConfig()
    log: LogConfig = LogConfig()
    service: ServiceConfig = ServiceConfig()
    spool: SpoolConfig = SpoolConfig()
    monitor: MonitorConfig = MonitorConfig()
    stream: StreamConfig = StreamConfig()
    tape: TapeConfig = TapeConfig()
    collectors: dict[str, dict[str, Any]] = attrs.Factory(dict)


@frozen
class CollectorConfig:
    """One collector's schedule (seconds, None = off), staleness limit, and its own options."""

    enabled: bool
    interval: int | None
    extended_interval: int | None
    closed_interval: int | None
    stale_after: int | None
    options: Any


@frozen
class Config:
    token: str | None = attrs.field(repr=False)
    api: ApiConfig
    database: DatabaseConfig
    log: LogConfig
    service: ServiceConfig
    data_dir: Path
    config_file: Path | None
    collectors: Mapping[str, CollectorConfig]
    spool: SpoolConfig = SpoolConfig()
    monitor: MonitorConfig = MonitorConfig()
    monitor_token: str | None = attrs.field(default=None, repr=False)
    stream: StreamConfig = StreamConfig()
    tape: TapeConfig = TapeConfig()

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(
                "VVV_UW_TOKEN is not set: export your Unusual Whales API token as VVV_UW_TOKEN, "
                "or put it in a file and set VVV_UW_TOKEN_FILE to its path"
            )
        return self.token


def load(env: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Config:
    """The configuration in force: `env` over the TOML file over defaults."""
    env = os.environ if env is None else env
    path = _config_path(env, cwd or Path.cwd())
    raw = _read_toml(path) if path else {}
    where = f"{path}: " if path else ""
    try:
        file = _SETTINGS.structure(raw, _FileConfig)
    except Exception as error:
        raise ConfigError(where + _located(error, "")) from None
    try:
        api = attrs.evolve(file.api, **_pick(env, VVV_UW_BASE_URL="base_url"))
        database = attrs.evolve(file.database, **_pick(env, VVV_DATABASE_URL="url"))
        log = attrs.evolve(file.log, **_pick(env, VVV_LOG_FORMAT="format", VVV_LOG_LEVEL="level"))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{_env_name(error)}{error}") from None
    _check_base_url(api.base_url)
    stream = attrs.evolve(file.stream, **_pick(env, VVV_UW_SOCKET_URL="url"))
    _check_socket_url(stream.url)
    monitor = _monitor(env, file.monitor)
    monitor_token = _monitor_token(env, monitor)
    _check_monitor(monitor, monitor_token)
    return Config(
        token=_read_token(env),
        api=api,
        database=database,
        log=log,
        service=file.service,
        spool=file.spool,
        data_dir=_data_dir(env, file.data_dir),
        config_file=path,
        collectors=_collectors(file.collectors, where),
        monitor=monitor,
        monitor_token=monitor_token,
        stream=stream,
        tape=file.tape,
    )


def _pick(env: Mapping[str, str], **names: str) -> dict[str, str]:
    return {field: env[name] for name, field in names.items() if env.get(name)}


def _env_name(error: Exception) -> str:
    for name, field in (("VVV_LOG_FORMAT", "format "), ("VVV_LOG_LEVEL", "level ")):
        if str(error).startswith(field):
            return f"{name}: "
    return ""


def _located(error: Exception, prefix: str) -> str:
    """`api.read_timeout: ...` from cattrs' `... @ item.api` so the message names the key."""
    messages = []
    for line in error_lines(error):
        message, _, path = line.rpartition(" @ ")
        key = ".".join(p for p in (prefix, path.removeprefix("item").lstrip(".")) if p)
        named = _NAMED.match(message)  # a validator's "statement_timeout: ..." or "filters.x: ..."
        if key and named:
            key, message = f"{key}.{named[1]}", named[2]
        messages.append(f"{key}: {message}" if key else message)
    return "; ".join(messages)


_NAMED = re.compile(r"^([a-z_][a-z0-9_.]*):\s*(.*)$", re.DOTALL)


def _config_path(env: Mapping[str, str], cwd: Path) -> Path | None:
    if env.get("VVV_CONFIG"):
        path = Path(env["VVV_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"VVV_CONFIG: no such file: {path}")
        return path
    for candidate in (cwd / "vvv.toml", Path("/etc/vvv/vvv.toml")):
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def _read_token(env: Mapping[str, str]) -> str | None:
    if env.get("VVV_UW_TOKEN", "").strip():
        return env["VVV_UW_TOKEN"].strip()
    if not env.get("VVV_UW_TOKEN_FILE"):
        return None
    return _read_secret(env["VVV_UW_TOKEN_FILE"], "VVV_UW_TOKEN_FILE")


def _read_secret(name: str, setting: str) -> str:
    """A token kept in a file, stripped; an unreadable or empty file is an error naming `setting`."""
    path = Path(name).expanduser()
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{setting}: cannot read {path}: {error.__class__.__name__}") from None
    if not token:
        raise ConfigError(f"{setting}: {path} is empty")
    return token


def _monitor(env: Mapping[str, str], monitor: MonitorConfig) -> MonitorConfig:
    picked: dict[str, Any] = _pick(env, VVV_MONITOR_ADDRESS="address", VVV_MONITOR_TOKEN_FILE="token_file")
    if env.get("VVV_MONITOR_PORT"):
        try:
            picked["port"] = int(env["VVV_MONITOR_PORT"])
        except ValueError:
            raise ConfigError(f"VVV_MONITOR_PORT: expected a port number, got {env['VVV_MONITOR_PORT']!r}") from None
    try:
        return attrs.evolve(monitor, **picked)
    except ValueError as error:
        raise ConfigError(f"VVV_MONITOR_PORT (monitor.port): {error}") from None


def _monitor_token(env: Mapping[str, str], monitor: MonitorConfig) -> str | None:
    """The token the monitoring endpoints require: VVV_MONITOR_TOKEN, else the file monitor.token_file names."""
    if env.get("VVV_MONITOR_TOKEN", "").strip():
        return env["VVV_MONITOR_TOKEN"].strip()
    if not monitor.token_file:
        return None
    return _read_secret(monitor.token_file, "monitor.token_file")


def _check_monitor(monitor: MonitorConfig, token: str | None) -> None:
    """Metrics and status leave this machine only to someone who has the token."""
    if monitor.enabled and not token and not is_loopback(monitor.address):
        raise ConfigError(
            f"monitor.address (VVV_MONITOR_ADDRESS): {monitor.address!r} is not a loopback address;"
            " serving the monitoring endpoints beyond this machine needs an access token:"
            " set monitor.token_file (or VVV_MONITOR_TOKEN), or bind to 127.0.0.1"
        )


def token_file_warning(env: Mapping[str, str]) -> str | None:
    """A warning when the token file can be read by other users than its owner."""
    name = env.get("VVV_UW_TOKEN_FILE")
    if not name or env.get("VVV_UW_TOKEN", "").strip():
        return None
    path = Path(name).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"VVV_UW_TOKEN_FILE: {path} can be read by other users (mode {stat.S_IMODE(mode):o});"
                f" restrict it with: chmod 600 {path}")
    return None


def _check_base_url(url: str) -> None:
    """The token travels only over TLS; plain http is for the fake API on this machine."""
    _check_secret_url(url, setting="VVV_UW_BASE_URL (api.base_url)", secure="https", plain="http",
                      expected="an https URL")


def _check_socket_url(url: str) -> None:
    """The socket URL carries the token: wss, or ws to the fake on this machine."""
    parts = _check_secret_url(url, setting="VVV_UW_SOCKET_URL (stream.url)", secure="wss", plain="ws",
                              expected="a wss URL")
    if "token=" in parts.query:
        raise ConfigError("VVV_UW_SOCKET_URL (stream.url): leave the token out of the URL;"
                          " vvv adds VVV_UW_TOKEN itself")


def _check_secret_url(url: str, *, setting: str, secure: str, plain: str, expected: str) -> Any:
    """A URL the token travels to: `secure`, or `plain` only to a loopback address (the fakes)."""
    parts = urlsplit(url)
    if parts.scheme not in (plain, secure) or not parts.hostname:
        raise ConfigError(f"{setting}: expected {expected}, got {url!r}")
    if parts.scheme == plain and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{setting}: {url!r} would send the API token unencrypted;"
            f" use {secure} (plain {plain} is only allowed to a loopback address)"
        )
    return parts


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _data_dir(env: Mapping[str, str], from_file: str | None) -> Path:
    if env.get("VVV_DATA_DIR"):
        return Path(env["VVV_DATA_DIR"]).expanduser()
    if from_file:
        return Path(from_file).expanduser()
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "vvv"


_SCHEDULE_KEYS = ("interval", "extended_interval", "closed_interval", "stale_after")


def _collectors(tables: Mapping[str, Any], where: str) -> dict[str, CollectorConfig]:
    unknown = sorted(set(tables) - set(COLLECTORS))
    if unknown:
        raise ConfigError(f"{where}collectors.{unknown[0]}: unknown collector (known: {', '.join(COLLECTORS)})")
    return {name: _collector(name, dict(tables.get(name) or {}), where) for name in COLLECTORS}


def _collector(name: str, table: dict[str, Any], where: str) -> CollectorConfig:
    spec = COLLECTORS[name].spec
    enabled = table.pop("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}collectors.{name}.enabled: expected true or false, got {enabled!r}")
    defaults = attrs.asdict(spec.schedule)
    intervals = {}
    for key in _SCHEDULE_KEYS:
        if key not in table:
            intervals[key] = defaults[key]
            continue
        try:
            intervals[key] = parse_duration(table.pop(key))
        except ValueError as error:
            raise ConfigError(f"{where}collectors.{name}.{key}: {error}") from None
    try:
        options = _SETTINGS.structure(table, spec.settings)
    except Exception as error:
        raise ConfigError(where + _located(error, f"collectors.{name}")) from None
    return CollectorConfig(enabled=enabled, options=options, **intervals)
