"""One collection pass against the fake API as the service makes it, and the faults every collector's
end-to-end test serves it: shared so each `test_NAME_runner.py` states only its own expectations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.config import CollectorConfig
from vvv.core.base import Collector
from vvv.io.http import ApiClient
from vvv.run.runner import RunResult, run_once

FAULTS = ("5xx then ok", "a 200 that is not a page")


def one_pass(collector: Collector, options: Any, *, conn: psycopg.Connection, api: FakeApi,
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RunResult:
    """A pass of `collector` with `options` (its Settings) over the fake, retries instant."""
    config = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                             options=options)
    client = ApiClient(base_url=api.url, token=TOKEN, sleep=lambda _: None)
    try:
        return run_once(collector, config, conn=conn, client=client, clock=clock)
    finally:
        client.close()


def through_fault(fault: str, api: FakeApi, run: Callable[[], RunResult], *, after: int = 0) -> list[RunResult]:
    """Passes through `fault`, served once `after` requests are answered: a 5xx, which the client retries within
    the pass; or a 200 that is not a page, served until the pass fails, then a pass after it. Returns the
    passes made, the last one after the fault."""
    def serve() -> None:
        if fault == "5xx then ok":
            api.fail_next(503)
        else:
            api.fail_next(200, body='{"data": {"not": "a list"}}', times=20)

    if after:
        api.on_request(after, serve)  # its action runs when request `after` + 1 arrives
    else:
        serve()
    if fault == "5xx then ok":
        return [run()]
    failed = run()
    api.reset_faults()
    return [failed, run()]
