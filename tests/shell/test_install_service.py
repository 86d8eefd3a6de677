"""scripts/install-service and uninstall-service in a throw-away root (DESTDIR), the systemd
unit they install, and the commented configuration template."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import attrs
import pytest

from vvv import config
from vvv.collectors import COLLECTORS

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-service"
UNINSTALL = ROOT / "scripts" / "uninstall-service"
UNIT = ROOT / "scripts" / "systemd" / "vvv.service"
TEMPLATE = ROOT / "scripts" / "systemd" / "vvv.toml"
# Commands a DESTDIR install must never run: stand-ins on PATH record any call.
SYSTEM_COMMANDS = ("systemctl", "useradd", "groupadd", "userdel", "groupdel", "chown", "chgrp")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _fake_vvv(path: Path, version: str) -> Path:
    path.write_text(f'#!/bin/sh\necho "vvv {version}"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def spy_bin(tmp_path: Path) -> Path:
    """A directory of stand-ins for the system commands, each logging its call to calls.log."""
    spy = tmp_path / "spy-bin"
    spy.mkdir()
    for name in SYSTEM_COMMANDS:
        _fake = spy / name
        _fake.write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls.log"\n')
        _fake.chmod(0o755)
    return spy


def _run(script: Path, *args: str, root: Path | None, spy_bin: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    environ["PATH"] = f"{spy_bin}:{environ.get('PATH', '/usr/bin:/bin')}"
    if root is not None:
        environ["DESTDIR"] = str(root)
    return subprocess.run(
        [str(script), *args], env={**environ, **env}, capture_output=True, text=True, timeout=30, check=False
    )


def _install(root: Path, exe: Path, spy_bin: Path) -> subprocess.CompletedProcess:
    result = _run(INSTALL, str(exe), root=root, spy_bin=spy_bin)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_install_writes_every_file_with_its_mode_and_touches_nothing_else(tmp_path: Path, spy_bin: Path) -> None:
    root = tmp_path / "root"
    result = _install(root, _fake_vvv(tmp_path / "vvv", "1.0.0"), spy_bin)

    binary = root / "usr/local/bin/vvv"
    assert binary.read_text() == (tmp_path / "vvv").read_text()
    assert _mode(binary) == 0o755
    unit = root / "etc/systemd/system/vvv.service"
    assert unit.read_bytes() == UNIT.read_bytes()
    assert _mode(unit) == 0o644
    assert (root / "etc/vvv/vvv.toml").read_bytes() == TEMPLATE.read_bytes()
    assert _mode(root / "etc/vvv/vvv.toml") == 0o640
    assert _mode(root / "etc/vvv/credentials") == 0o700
    assert not (root / "etc/vvv/credentials/uw-token").exists()  # never invented
    assert (root / "var/lib/vvv").is_dir() and _mode(root / "var/lib/vvv") == 0o750
    roles = root / "usr/local/share/vvv/roles.sql"
    assert roles.read_bytes() == (ROOT / "sql/roles.sql").read_bytes() and _mode(roles) == 0o644
    assert "vvv 1.0.0" in result.stdout
    assert not (tmp_path / "calls.log").exists(), "a DESTDIR install ran " + (tmp_path / "calls.log").read_text()
    assert not list(root.rglob("*.new")), "a temporary file was left behind"


def test_a_missing_token_is_explained_with_the_command_that_creates_it(tmp_path: Path, spy_bin: Path) -> None:
    root = tmp_path / "root"
    result = _install(root, _fake_vvv(tmp_path / "vvv", "1.0.0"), spy_bin)
    token = root / "etc/vvv/credentials/uw-token"
    assert f"vvv will not start without {token}" in result.stdout
    assert "umask 077; read -rsp" in result.stdout and f'> {token}' in result.stdout

    token.write_text("secret-token\n")
    token.chmod(0o644)
    again = _install(root, tmp_path / "vvv", spy_bin)
    assert "will not start" not in again.stdout
    assert _mode(token) == 0o600, "a token readable by others is tightened"
    assert token.read_text() == "secret-token\n"
    assert "secret-token" not in again.stdout + again.stderr


def test_reinstall_upgrades_in_place_and_keeps_the_operators_config(tmp_path: Path, spy_bin: Path) -> None:
    root = tmp_path / "root"
    _install(root, _fake_vvv(tmp_path / "old", "1.0.0"), spy_bin)
    edited = TEMPLATE.read_text() + '\n[collectors.news]\ninterval = "1m"\n'
    (root / "etc/vvv/vvv.toml").write_text(edited)
    (root / "var/lib/vvv/pg").mkdir()
    (root / "var/lib/vvv/pg/PG_VERSION").write_text("16\n")
    (root / "etc/systemd/system/vvv.service").write_text("[Service]\nExecStart=/bin/false\n")

    result = _install(root, _fake_vvv(tmp_path / "new", "2.0.0"), spy_bin)

    assert (root / "usr/local/bin/vvv").read_text() == (tmp_path / "new").read_text()
    assert (root / "etc/systemd/system/vvv.service").read_bytes() == UNIT.read_bytes()
    assert (root / "etc/vvv/vvv.toml").read_text() == edited
    assert "kept" in result.stdout and "never overwritten" in result.stdout
    assert (root / "var/lib/vvv/pg/PG_VERSION").read_text() == "16\n"


def test_uninstall_keeps_config_and_data_and_purge_removes_them(tmp_path: Path, spy_bin: Path) -> None:
    root = tmp_path / "root"
    _install(root, _fake_vvv(tmp_path / "vvv", "1.0.0"), spy_bin)
    (root / "etc/vvv/credentials/uw-token").write_text("secret\n")
    (root / "var/lib/vvv/pg").mkdir()
    dropin = root / "etc/systemd/system/vvv.service.d/override.conf"
    dropin.parent.mkdir()
    dropin.write_text("[Service]\nEnvironment=VVV_LOG_LEVEL=DEBUG\n")

    kept = _run(UNINSTALL, root=root, spy_bin=spy_bin)
    assert kept.returncode == 0, kept.stderr
    assert not (root / "usr/local/bin/vvv").exists()
    assert not (root / "etc/systemd/system/vvv.service").exists()
    assert (root / "etc/vvv/vvv.toml").is_file() and (root / "etc/vvv/credentials/uw-token").is_file()
    assert (root / "var/lib/vvv/pg").is_dir() and dropin.is_file()
    assert "--purge" in kept.stdout

    again = _run(UNINSTALL, root=root, spy_bin=spy_bin)
    assert again.returncode == 0, "uninstalling twice is fine"

    purged = _run(UNINSTALL, "--purge", root=root, spy_bin=spy_bin)
    assert purged.returncode == 0, purged.stderr
    assert not (root / "etc/vvv").exists() and not (root / "var/lib/vvv").exists() and not dropin.parent.exists()
    assert not (tmp_path / "calls.log").exists(), "a DESTDIR uninstall ran " + (tmp_path / "calls.log").read_text()


def test_bad_arguments_and_a_missing_executable_are_refused(tmp_path: Path, spy_bin: Path) -> None:
    root = tmp_path / "root"
    missing = _run(INSTALL, str(tmp_path / "nope"), root=root, spy_bin=spy_bin)
    assert missing.returncode == 1 and f"no executable at {tmp_path / 'nope'}" in missing.stderr
    broken = tmp_path / "broken"
    broken.write_text("not a program")
    broken.chmod(0o644)
    assert "is not executable" in _run(INSTALL, str(broken), root=root, spy_bin=spy_bin).stderr
    assert not (root / "usr/local/bin/vvv").exists()
    assert _run(UNINSTALL, "--all", root=root, spy_bin=spy_bin).returncode == 1


@pytest.mark.parametrize("script", [INSTALL, UNINSTALL], ids=["install", "uninstall"])
def test_refuses_to_run_without_root_unless_destdir(tmp_path: Path, spy_bin: Path, script: Path) -> None:
    command = [str(script), str(_fake_vvv(tmp_path / "vvv", "1.0.0"))] if script == INSTALL else [str(script)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root and setpriv is not installed: cannot drop privileges")
        # nobody: even a script gone wrong could not touch the real system
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    environ = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "run me as root" in result.stderr and "DESTDIR" in result.stderr


def _unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order (keys like Environment repeat)."""
    entries, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ReadWritePaths": "/var/lib/vvv",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallFilter": "@system-service",
    "UMask": "0077",
}


def test_the_unit_runs_vvv_as_a_watched_hardened_notify_service() -> None:
    entries = _unit_entries(UNIT.read_text())
    service = {key: value for section, key, value in entries if section == "Service" and key != "Environment"}
    environment = " ".join(value for section, key, value in entries if key == "Environment").split()

    assert service["Type"] == "notify"
    # the one-file executable's bootloader is the main PID; its child (vvv) sends the notifications
    assert service["NotifyAccess"] == "all"
    assert service["ExecStart"] == "/usr/local/bin/vvv run"
    assert service["WatchdogSec"] == "60"
    assert service["Restart"] == "on-failure" and service["RestartSec"] == "5"
    assert service["TimeoutStopSec"] == "20"
    assert service["KillMode"] == "mixed"  # SIGTERM once, to vvv; not to PostgreSQL's backends too
    assert service["User"] == service["Group"] == "vvv"
    assert service["LoadCredential"] == "uw-token:/etc/vvv/credentials/uw-token"
    assert service["StateDirectory"] == "vvv"
    assert {"VVV_CONFIG=/etc/vvv/vvv.toml", "VVV_DATA_DIR=/var/lib/vvv", "VVV_LOG_FORMAT=json",
            "VVV_UW_TOKEN_FILE=%d/uw-token"} <= set(environment)
    assert not [name for name in environment if name.startswith("VVV_UW_TOKEN=")], "the token stays out of the unit"
    assert {key: service.get(key) for key in HARDENING} == HARDENING
    # the one-file executable unpacks and runs programs from /tmp, and Python may need W+X memory
    assert "MemoryDenyWriteExecute" not in service and "NoExecPaths" not in service
    assert ("Unit", "After", "network-online.target") in entries
    assert ("Unit", "Wants", "network-online.target") in entries
    assert ("Install", "WantedBy", "multi-user.target") in entries


@pytest.fixture
def runnable_unit(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart exists here: `verify` checks that it is executable."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    exe = _fake_vvv(tmp_path / "vvv", "1.0.0")
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/vvv run" in text
    unit = tmp_path / "units" / "vvv.service"
    unit.parent.mkdir()
    unit.write_text(text.replace("ExecStart=/usr/local/bin/vvv run", f"ExecStart={exe} run"))
    return unit


def test_the_unit_passes_systemd_analyze_verify(runnable_unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "--generators=no", str(runnable_unit)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    # verify exits 0 on unknown keys and unparsable values, and only warns: read the warnings too
    about_the_unit = [line for line in result.stderr.splitlines() if "vvv.service" in line]
    assert result.returncode == 0 and not about_the_unit, result.stderr


def test_the_units_exposure_stays_low(runnable_unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=30", "--no-pager", str(runnable_unit)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    if "--offline" in result.stderr or "--threshold" in result.stderr:
        pytest.skip(f"this systemd-analyze cannot score a unit file offline: {result.stderr.strip()}")
    # exposure is 0-10 (10 = unprotected); --threshold is that times ten. The unit scores 2.0 on systemd 252.
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


_KEY_LINE = re.compile(r"^# (\[[a-z_.]+\]|[a-z_]+ = .+)$")


def _uncommented(text: str) -> str:
    """The template with every `# key = default` and `# [section]` line made live."""
    return "\n".join(m[1] if (m := _KEY_LINE.match(line)) else line for line in text.splitlines()) + "\n"


def test_the_template_loads_as_is(tmp_path: Path) -> None:
    conf = config.load({"VVV_CONFIG": str(TEMPLATE)}, cwd=tmp_path)
    assert conf.config_file == TEMPLATE
    assert tomllib.loads(TEMPLATE.read_text()) == {}, "as shipped, the template changes nothing"


def test_the_templates_commented_values_are_the_defaults(tmp_path: Path) -> None:
    live = tmp_path / "live.toml"
    live.write_text(_uncommented(TEMPLATE.read_text()))
    empty = tmp_path / "empty.toml"
    empty.touch()
    uncommented = config.load({"VVV_CONFIG": str(live)}, cwd=tmp_path)
    defaults = config.load({"VVV_CONFIG": str(empty), "VVV_DATA_DIR": "/var/lib/vvv"}, cwd=tmp_path)
    for name in ("api", "database", "log", "service", "stream", "collectors", "data_dir", "tape"):
        assert getattr(uncommented, name) == getattr(defaults, name), name


def test_the_template_shows_every_key_of_every_collector(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    shown = tomllib.loads(_uncommented(text))
    assert "data_dir" in shown
    for section, cls in (("api", config.ApiConfig), ("database", config.DatabaseConfig),
                         ("log", config.LogConfig), ("service", config.ServiceConfig),
                         ("stream", config.StreamConfig)):
        expected = {field.name for field in attrs.fields(cls)} - ({"url", "listen_port"} if section == "database" else set())
        assert set(shown.get(section, {})) == expected, section
    assert set(shown["tape"]) == {field.name for field in attrs.fields(config.TapeConfig)} - {"retention_days"}
    assert "retention_days = 30" in text, "tape.retention_days has no default: the template shows an example"
    assert 'url = "postgresql://' in text, "database.url has no default: the template shows an example"
    assert "listen_port = 5433" in text, "database.listen_port has no default: the template shows an example"
    for name, collector in COLLECTORS.items():
        expected = {"enabled", "interval", "extended_interval", "closed_interval", "stale_after"}
        expected |= {field.name for field in attrs.fields(collector.spec.settings)}
        assert set(shown.get("collectors", {}).get(name, {})) == expected, (
            f"scripts/systemd/vvv.toml: document [collectors.{name}] and each of its keys with its default"
        )
