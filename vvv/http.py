"""The one HTTP client of a process: auth, timeouts, retries, and the API's budget headers.

Retries cover what a retry can fix: connection errors, timeouts, bodies cut short, 429
and 5xx, with capped exponential backoff and jitter. A 401/403 is never retried: the
token is wrong and hammering the API will not fix it.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx
from attrs import frozen
from loguru import logger

from vvv import __version__
from vvv.collectors.base import Request

USER_AGENT = f"vvv/{__version__} (+market data collector)"
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0


class ApiError(Exception):
    """A request failed for good; the message says why in one line."""


class ApiAuthError(ApiError):
    """The API refused the token."""


@frozen
class Budget:
    """The rate-limit state the API reports on every response."""

    per_minute_remaining: int | None = None
    minute_reset_ms: int | None = None
    minute_count: int | None = None
    daily_count: int | None = None
    token_limit: int | None = None


_BUDGET_HEADERS = {
    "per_minute_remaining": "x-uw-req-per-minute-remaining",
    "minute_reset_ms": "x-uw-req-per-minute-reset",
    "minute_count": "x-uw-minute-req-counter",
    "daily_count": "x-uw-daily-req-count",
    "token_limit": "x-uw-token-req-limit",
}


def parse_budget(headers: Mapping[str, str]) -> Budget:
    """The budget from response headers; absent or garbled headers read as unknown."""
    values = {field: _int_or_none(headers.get(name)) for field, name in _BUDGET_HEADERS.items()}
    return Budget(**values)


def retry_delay(attempt: int, *, retry_after: str | None = None, jitter: float = 1.0) -> float:
    """Seconds to wait before retry number `attempt` (0-based); `Retry-After` wins when given."""
    after = _float_or_none(retry_after)
    if after is not None and after >= 0:
        return min(after, _BACKOFF_CAP_S * 4)
    return min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt) * (0.5 + jitter / 2)


class ApiClient:
    """GET requests with JSON bodies, shared by every collector thread of a process.

    `requests` counts attempts made by the calling thread, so concurrent passes each
    count their own.
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
        )
        self._max_retries = max_retries
        self._sleep = sleep
        self._jitter = jitter
        self._local = threading.local()
        self._counts_lock = threading.Lock()
        self._responses: Counter[str] = Counter()
        self.budget = Budget()

    def get_json(self, request: Request) -> Any:
        """The decoded JSON body of a successful response, after retries; raises ApiError."""
        attempt = 0
        while isinstance(outcome := self._attempt(request), _Retry):
            if attempt == self._max_retries:
                raise ApiError(f"GET {request.path} failed after {attempt + 1} attempts: {outcome.reason}")
            delay = retry_delay(attempt, retry_after=outcome.retry_after, jitter=self._jitter())
            logger.warning("GET {} {}; retrying in {:.1f}s", request.path, outcome.reason, delay)
            self._sleep(delay)
            attempt += 1
        return outcome

    @property
    def requests(self) -> int:
        return getattr(self._local, "requests", 0)

    def response_counts(self) -> dict[str, int]:
        """Attempts since start by outcome: the HTTP status (`"200"`, `"429"`), `"timeout"` or `"connection"`."""
        with self._counts_lock:
            return dict(self._responses)

    def _count(self, outcome: str) -> None:
        with self._counts_lock:
            self._responses[outcome] += 1

    def close(self) -> None:
        self._client.close()

    def _attempt(self, request: Request) -> Any:
        self._respect_minute_budget()
        self._local.requests = self.requests + 1
        try:
            response = self._client.get(request.path, params=dict(request.params))
            body = response.read()
        except httpx.TimeoutException:
            self._count("timeout")
            return _Retry("timed out")
        except httpx.TransportError as error:
            self._count("connection")
            return _Retry(f"connection failed ({error.__class__.__name__})")
        self._count(str(response.status_code))
        self.budget = parse_budget(response.headers)
        return self._outcome(request, response, body)

    def _outcome(self, request: Request, response: httpx.Response, body: bytes) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise ApiAuthError(f"the API refused the token (HTTP {status}); check VVV_UW_TOKEN")
        if status == 429:
            reset_ms = _float_or_none(response.headers.get("x-uw-req-per-minute-reset"))
            retry_after = response.headers.get("retry-after") or (str(reset_ms / 1000) if reset_ms else None)
            return _Retry("was rate limited (HTTP 429)", retry_after)
        if status >= 500:
            return _Retry(f"got HTTP {status}")
        if status != 200:
            raise ApiError(f"GET {request.path} got HTTP {status}: {_api_message(body)}")
        try:
            return json.loads(body)
        except ValueError:
            return _Retry(f"got a body that is not valid JSON ({len(body)} bytes)")

    def _respect_minute_budget(self) -> None:
        """Wait out the minute when the API said none is left (full pacing comes with the budget work)."""
        if self.budget.per_minute_remaining == 0 and self.budget.minute_reset_ms:
            self._sleep(min(self.budget.minute_reset_ms / 1000, 60.0))
            self.budget = attrs.evolve(self.budget, per_minute_remaining=None)


@frozen
class _Retry:
    reason: str
    retry_after: str | None = None


def _api_message(body: bytes) -> str:
    """The API's own `msg` for a 4xx, or the start of the body."""
    try:
        message = json.loads(body).get("msg")
    except (ValueError, AttributeError):
        message = None
    text = message if isinstance(message, str) else body[:200].decode("utf-8", "replace")
    return " ".join(text.split())


def _int_or_none(value: str | None) -> int | None:
    number = _float_or_none(value)
    return None if number is None else int(number)


def _float_or_none(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
