"""Pacing against a fake API that enforces its per-minute limit, with the minute shrunk to seconds.

The full-size figure (600 requests at 120 per minute) is measured by `scripts/pacing`, by hand:
a unit test must not depend on how fast this machine is, so here only the lower bound of the
time is checked (pacing cannot be faster than the limit), and that no request met a 429.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, date, datetime

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv.collectors import COLLECTORS, darkpool
from vvv.config import CollectorConfig
from vvv.io import store
from vvv.io.http import ApiClient, Pacer
from vvv.run import backfill

DARKPOOL = COLLECTORS["darkpool"]
CONFIG = CollectorConfig(enabled=True, interval=60, extended_interval=300, closed_interval=None, stale_after=None,
                         options=darkpool.Settings())
LIMIT, MINUTE_S = 30, 2.0


def test_collectors_sharing_one_client_never_meet_a_429_and_use_the_allowance(db_url: str) -> None:
    days = (date(2026, 6, 1), date(2026, 6, 26))  # 19 market days: June 19 is a holiday
    requests = len(backfill.plan(*days, ["SPY", "QQQ", "IWM", "DIA"]))  # one each: the fake's days are empty
    with FakeApi(token=TOKEN, now=datetime(2026, 7, 1, tzinfo=UTC), darkpool_count=0, per_minute_limit=LIMIT,
                 minute_s=MINUTE_S) as api:
        client = ApiClient(base_url=api.url, token=TOKEN, pacer=Pacer(LIMIT, window_s=MINUTE_S))
        failures: list[BaseException] = []

        def collect(tickers: list[str]) -> None:
            conn = store.connect(db_url, statement_timeout_s=30)
            try:
                backfill.backfill(DARKPOOL, CONFIG, backfill.plan(*days, tickers), conn=conn, client=client,
                                  out=io.StringIO())
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
            finally:
                conn.close()

        started = time.monotonic()
        workers = [threading.Thread(target=collect, args=(tickers,)) for tickers in (["SPY", "QQQ"], ["IWM", "DIA"])]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        elapsed = time.monotonic() - started
        client.close()
    assert not failures
    assert requests == 76 and len(api.requests) == requests
    assert api.statuses == {200: requests}, "a request met the rate limit"
    assert elapsed >= (requests - LIMIT) // LIMIT * MINUTE_S
