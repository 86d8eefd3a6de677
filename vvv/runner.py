"""One collection pass: plan -> fetch -> parse -> validate -> store -> advance, recorded as a run.

The only module that knows every stage. Failures of the shell (network, database) end the
pass as a failed or partial run with the error kept; they never escape as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import psycopg
from attrs import frozen
from loguru import logger

from vvv import store
from vvv.collectors.base import Collector, Page, Reject
from vvv.config import CollectorConfig
from vvv.http import ApiAuthError, ApiClient, ApiError


@frozen
class RunResult:
    run_id: int
    collector: str
    status: str  # ok | partial | failed
    requests: int
    fetched: int
    inserted: int
    duplicates: int
    rejects: int
    error: str | None
    auth_failed: bool = False

    def summary(self) -> str:
        line = (
            f"{self.collector}: {self.status} (run {self.run_id}): {self.inserted} new, {self.duplicates} duplicates,"
            f" {self.rejects} rejected, {self.fetched} fetched in {self.requests} requests"
        )
        return f"{line}; error: {self.error}" if self.error else line


class _Stopped(Exception):
    """The process is shutting down: end the pass between pages, with everything stored kept."""


@attrs.define
class _Tally:
    fetched: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejects: int = 0


def validate_all(collector: Collector, records: list[Any], now: datetime) -> tuple[list[Any], list[Reject]]:
    """Split parsed records into the ones to store and rejects with the rule they broke."""
    good, bad = [], []
    for record in records:
        reason = collector.validate(record, now)
        if reason is None:
            good.append(record)
        else:  # the parsed record, all fields and extras included, stands for the raw item
            bad.append(Reject(attrs.asdict(record), reason))
    return good, bad


def received_items(payload: Any) -> int:
    """How many items a `{"data": [...]}` response held, whatever became of them."""
    data = payload.get("data") if isinstance(payload, dict) else None
    return len(data) if isinstance(data, list) else 0


def run_once(
    collector: Collector,
    config: CollectorConfig,
    *,
    conn: psycopg.Connection,
    client: ApiClient,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stopping: Callable[[], bool] = lambda: False,
    instance: str | None = None,
) -> RunResult:
    """Run one pass of `collector` and record it in `vvv.runs`; `stopping` ends it between pages."""
    spec = collector.spec
    run_id = store.start_run(conn, spec.name, instance=instance)
    requests_before = client.requests
    tally, error, auth_failed, pages = _Tally(), None, False, []
    with logger.contextualize(collector=spec.name, run_id=run_id):
        logger.info("pass started")
        try:
            _collect(collector, config, conn=conn, client=client, clock=clock, run_id=run_id, tally=tally, pages=pages,
                     stopping=stopping)
        except _Stopped:
            error = "stopped between pages: vvv is shutting down; the next pass continues from the saved cursor"
        except ApiError as failure:
            error, auth_failed = str(failure), isinstance(failure, ApiAuthError)
        except psycopg.Error as failure:
            error = store.describe_db_error(failure)
            conn.rollback()
        except Exception as failure:  # a bug: keep the traceback in the log, fail this run only
            logger.opt(exception=failure).error("pass crashed")
            error = f"unexpected {failure.__class__.__name__}: {failure}"
            conn.rollback()
        status = "ok" if error is None else ("partial" if pages else "failed")
        result = RunResult(
            run_id=run_id,
            collector=spec.name,
            status=status,
            requests=client.requests - requests_before,
            error=error,
            auth_failed=auth_failed,
            **attrs.asdict(tally),
        )
        store.finish_run(
            conn,
            run_id,
            status=status,
            requests=result.requests,
            error=error,
            api_budget=attrs.asdict(client.budget),
        )
        (logger.info if status == "ok" else logger.error)("pass finished: {}", result.summary())
    return result


def _collect(
    collector: Collector,
    config: CollectorConfig,
    *,
    conn: psycopg.Connection,
    client: ApiClient,
    clock: Callable[[], datetime],
    run_id: int,
    tally: _Tally,
    pages: list[Page],
    stopping: Callable[[], bool],
) -> None:
    spec, options = collector.spec, config.options
    cursor = store.load_cursor(conn, spec)
    request = collector.next_request(cursor, None, None, options)
    while request is not None:
        if stopping():
            raise _Stopped
        payload = client.get_json(request)
        records, rejects = collector.parse(payload)
        good, bad = validate_all(collector, records, clock())
        page = Page(request=request, received=received_items(payload), records=tuple(good))
        saved = store.store_batch(
            conn,
            spec,
            run_id=run_id,
            records=good,
            rejects=[*rejects, *bad],
            received=page.received,
            cursor=collector.advance(cursor, [*pages, page], options),
        )
        pages.append(page)
        tally.fetched += page.received
        tally.inserted += saved.inserted
        tally.duplicates += saved.duplicates
        tally.rejects += len(rejects) + len(bad)
        logger.debug("page {}: {} items, {} new", dict(request.params), page.received, saved.inserted)
        request = collector.next_request(cursor, request, page, options)
