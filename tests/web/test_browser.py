"""The status page in a real browser: headless Chromium (Debian's `chromium`) against a running vvv.

Each collector's card and the chart must be in the DOM Chromium built, the page must log
nothing to the console (it has no script: any message is a blocked resource or a policy
violation), and screenshots land in build/test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.shell.test_service import _fast_config
from tests.web.running import vvv_run, wait_ready

ARTIFACTS = ROOT / "build" / "test-artifacts"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars")
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)")


def _chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        message = "headless Chromium is not installed: sudo apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run installs it)")
        pytest.skip(message)
    return found


def _browse(url: str, profile: Path, *extra: str) -> tuple[str, list[str]]:
    """The DOM after load, and the console messages, from one fresh headless Chromium."""
    result = subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
                            capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [m[1] for line in result.stderr.splitlines() if (m := _CONSOLE.search(line))]


def test_the_console_check_sees_a_console_error(tmp_path: Path) -> None:
    """The check below is only worth something if Chromium's console reaches us."""
    noisy = tmp_path / "noisy.html"
    noisy.write_text('<!doctype html><link rel="icon" href="data:,"><script>console.error("boom")</script>')
    _, console = _browse(noisy.as_uri(), tmp_path / "profile", "--dump-dom")
    assert any("boom" in message for message in console), console


def test_the_status_page_in_chromium(cli_env: dict, tmp_path: Path) -> None:
    _fast_config(tmp_path)
    with (tmp_path / "vvv.toml").open("a") as toml:
        toml.write('[collectors.economic_calendar]\ninterval = "1s"\nextended_interval = "1s"\nclosed_interval = "1s"\n')
    with vvv_run(cli_env, tmp_path) as run:
        wait_ready(run)
        run.wait_for_metric("vvv_passes_total", 3, collector="news", outcome="ok")
        run.wait_for_metric("vvv_passes_total", 1, collector="economic_calendar", outcome="ok")
        enabled = sorted(run.get("/api/status").json()["collectors"])
        url = run.base + "/"
        dom, console = _browse(url, tmp_path / "profile", "--dump-dom")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shots = {"status-page.png": "1280,1700", "status-page-phone.png": "400,2600"}
        for name, size in shots.items():
            _, more = _browse(url, tmp_path / f"profile-{name}", f"--screenshot={ARTIFACTS / name}",
                              f"--window-size={size}")
            console += more
    assert console == [], f"console messages on the status page: {console}"
    for name in enabled:
        assert f'data-collector="{name}"' in dom, f"no card for {name}"
    assert 'id="rows-chart"' in dom and "<svg" in dom and 'class="bar"' in dom, "the chart has no bars"
    for name in shots:
        assert (ARTIFACTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
