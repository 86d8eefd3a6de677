"""The systemd notify protocol, against sockets the tests open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vvv.ops.notify import notify, watchdog_interval_s


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    yield str(path), sock
    sock.close()


def _received(sock: socket.socket, until: float) -> list[str]:
    messages = []
    while time.monotonic() < until:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return messages


def test_sends_the_message_to_the_socket(notify_socket) -> None:
    path, sock = notify_socket
    assert notify("READY=1", env={"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1"


def test_abstract_socket_names_work() -> None:
    name = f"vvv-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert notify("WATCHDOG=1", env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_outside_systemd_nothing_happens(tmp_path: Path) -> None:
    assert notify("READY=1", env={}) is False
    assert notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False


def test_watchdog_pings_at_half_the_interval_for_this_process_only() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "60000000"}) == 30
    assert watchdog_interval_s({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}) == 30
    assert watchdog_interval_s({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None


def test_the_single_executable_pings_for_its_launcher(monkeypatch) -> None:
    """systemd watches the one-file launcher, the parent of the process that runs vvv."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert watchdog_interval_s({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getppid())}) == 5


def test_vvv_run_says_ready_pings_the_watchdog_and_says_stopping(
    notify_socket, cli_env: dict, tmp_path: Path
) -> None:
    path, sock = notify_socket
    env = dict(cli_env, NOTIFY_SOCKET=path, WATCHDOG_USEC="2000000")
    proc = subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        early = _received(sock, until=time.monotonic() + 6)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        late = _received(sock, until=time.monotonic() + 0.6)
    finally:
        proc.kill()
    assert proc.returncode == 0, proc.stderr.read()
    assert "READY=1" in early
    assert early.count("WATCHDOG=1") >= 2
    assert any(m.startswith("STATUS=active") for m in early)
    assert "STOPPING=1" in late
