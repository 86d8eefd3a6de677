"""systemd's notify protocol in a few lines: datagrams to $NOTIFY_SOCKET, no dependency.

Under `Type=notify`, `vvv run` says READY=1 once migrations are applied and the scheduler
runs, WATCHDOG=1 from its loop (a hung loop stops pinging and systemd restarts it), and
STOPPING=1 on shutdown. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping


def notify(message: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Send one notify message; True when a socket was there to take it."""
    address = (os.environ if env is None else env).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket: the name starts with a NUL byte
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False  # systemd gone or socket unusable: never a reason to stop collecting
    return True


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """How often to ping: half of WatchdogSec (WATCHDOG_USEC), when the watchdog is on for this process."""
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
    mine = {str(os.getpid())}
    if getattr(sys, "frozen", False):  # the one-file executable: systemd's main PID is its launcher, our parent
        mine.add(str(os.getppid()))
    if not usec or (pid and pid not in mine):
        return None
    try:
        return max(0.5, int(usec) / 2_000_000)
    except ValueError:
        return None
