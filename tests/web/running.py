"""A `vvv run` subprocess for the endpoint tests: started, found on its free port, stopped."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.faults import wait_for as _wait_for

_LISTENING = re.compile(r"monitoring on (http://[^ ]+?)/ ")


class Running:
    def __init__(self, proc: subprocess.Popen, log: Path, base: str) -> None:
        self.proc = proc
        self.log = log
        self.base = base

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.base + path, timeout=15, **kwargs)

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample's value from /metrics, None when the series is not there."""
        for family in text_string_to_metric_families(self.get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return None

    def wait_for_metric(self, name: str, at_least: float, timeout: float = 30, **labels: str) -> float:
        assert _wait_for(lambda: (self.metric(name, **labels) or 0) >= at_least, timeout), (
            f"{name}{labels} did not reach {at_least}; log:\n{self.log.read_text()[-3000:]}")
        return self.metric(name, **labels)


@contextmanager
def vvv_run(env: dict[str, str], cwd: Path, *, timeout: float = 30) -> Iterator[Running]:
    """`vvv run` with its log in a file; yields once its monitoring endpoints listen."""
    log = cwd / "vvv-run.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "vvv", "run"], env=env, cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=sink, text=True)
    try:
        found: list[str] = []

        def listening() -> bool:
            found.extend(_LISTENING.findall(log.read_text()))
            return bool(found) or proc.poll() is not None

        assert _wait_for(listening, timeout) and found, f"vvv run did not listen; log:\n{log.read_text()[-3000:]}"
        yield Running(proc, log, found[0])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_ready(run: Running, timeout: float = 30) -> None:
    assert _wait_for(lambda: run.get("/readyz").status_code == 200, timeout), (
        f"never ready: {run.get('/readyz').text}; log:\n{run.log.read_text()[-3000:]}")
