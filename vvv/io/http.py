"""The one HTTP client of a process: auth, timeouts, retries, and the API's budget headers.

Retries cover what a retry can fix: connection errors, timeouts, bodies cut short, a 200
that is not a page, a body over `api.max_response_mb` or past `api.request_timeout`, 429
and 5xx, with capped exponential backoff and jitter. A 401/403 is never retried: the
token is wrong and hammering the API will not fix it.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

import httpx
import msgspec
from attrs import frozen
from loguru import logger

from vvv import __version__
from vvv.core.base import Request

USER_AGENT = f"vvv/{__version__} (+market data collector)"
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0


class ApiError(Exception):
    """A request failed for good; the message says why in one line."""


class ApiAuthError(ApiError):
    """The API refused the token."""


class BudgetSpent(ApiError):
    """The day's request allowance (less the reserve) is used up: no request until the daily reset."""


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


def daily_reset_after(moment: datetime) -> datetime:
    """When the API's daily count starts again: the next midnight UTC, as its `Retry-After` on a daily 429 says."""
    return datetime.combine(moment.astimezone(UTC).date() + timedelta(days=1), dt_time(0), UTC)


def daily_pause(budget: Budget, reported_at: datetime | None, reserve: int, now: datetime) -> datetime | None:
    """Until when no request may start because the day's allowance less `reserve` is used; None if it may."""
    if budget.daily_count is None or budget.token_limit is None or reported_at is None:
        return None
    resume = daily_reset_after(reported_at)
    if now >= resume or budget.daily_count < budget.token_limit - reserve:
        return None
    return resume


class Pacer:
    """Spaces requests so no `window_s` holds more than the per-minute limit, across all threads.

    The limit is the configured one, or less when the API's headers show a smaller plan
    (`remaining + counter`). When the API says the minute is spent, nothing starts until its
    reset. The window carries a small margin so that network latency never lets a request
    land in the server's previous minute.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self._stopped = threading.Event()
        self._window_s = window_s * 1.02
        self._clock = clock
        self._sleep = sleep or self._stopped.wait
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._api_limit: int | None = None

    @property
    def limit(self) -> int:
        return min(self.per_minute, self._api_limit or self.per_minute)

    def wait_turn(self) -> float:
        """Block until a request may go, then count it; returns the seconds waited."""
        waited = 0.0
        while (delay := self._claim()) > 0 and not self._stopped.is_set():
            self._sleep(delay)
            waited += delay
        return waited

    def observe(self, budget: Budget) -> None:
        """Learn from a response's headers: the plan's per-minute limit, and a spent minute."""
        with self._lock:
            if budget.per_minute_remaining is not None and budget.minute_count is not None:
                self._api_limit = max(1, budget.per_minute_remaining + budget.minute_count)
            if budget.per_minute_remaining == 0 and budget.minute_reset_ms is not None:
                until = self._clock() + min(budget.minute_reset_ms / 1000, self._window_s)
                self._blocked_until = max(self._blocked_until, until)

    def stop(self) -> None:
        """End every wait at once: the process is shutting down."""
        self._stopped.set()

    def _claim(self) -> float:
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self._window_s:
                self._sent.popleft()
            wait = self._blocked_until - now
            if len(self._sent) >= self.limit:
                wait = max(wait, self._sent[len(self._sent) - self.limit] + self._window_s - now)
            if wait > 1e-6:  # a smaller wait could vanish in the clock's rounding
                return wait
            self._sent.append(now)
            return 0.0


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
        max_response_mb: float = 64,
        request_timeout: float = 60.0,
        pacer: Pacer | None = None,
        daily_reserve: int = 0,
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept": "application/json"},
            # No single read outlasts the request's deadline, which is checked between reads.
            timeout=httpx.Timeout(min(read_timeout, request_timeout), connect=connect_timeout),
            follow_redirects=False,
        )
        self._max_retries = max_retries
        self._max_response_mb, self._request_timeout = max_response_mb, request_timeout
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait
        self.pacer = pacer or Pacer(10_000)
        self.daily_reserve = daily_reserve
        self._jitter = jitter
        self._clock = clock
        self._local = threading.local()
        self._counts_lock = threading.Lock()
        self._responses: Counter[str] = Counter()
        self.budget = Budget()
        self.budget_reported_at: datetime | None = None

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

    def paused_until(self) -> datetime | None:
        """When the daily budget less the reserve is spent, the time requests may start again."""
        return daily_pause(self.budget, self.budget_reported_at, self.daily_reserve, self._clock())

    def stop(self) -> None:
        """Cut short any wait for the rate limit or a retry: the process is shutting down."""
        self._stopped.set()
        self.pacer.stop()

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
        if (resume := self.paused_until()) is not None:
            raise BudgetSpent(
                f"the API's daily budget is spent: {self.budget.daily_count} of {self.budget.token_limit} requests"
                f" used, {self.daily_reserve} kept in reserve; collecting again after {resume:%Y-%m-%d %H:%M} UTC"
            )
        self.pacer.wait_turn()
        if self._stopped.is_set():
            raise ApiError(f"GET {request.path} not sent: vvv is shutting down")
        self._local.requests = self.requests + 1
        deadline = time.monotonic() + self._request_timeout
        try:
            with self._client.stream("GET", request.path, params=dict(request.params)) as response:
                body = self._body(response, deadline)
        except httpx.TimeoutException:
            self._count("timeout")
            return _Retry("timed out")
        except httpx.TransportError as error:
            self._count("connection")
            return _Retry(f"connection failed ({error.__class__.__name__})")
        if body == "deadline":
            self._count("timeout")
            return _Retry(f"took longer than api.request_timeout ({self._request_timeout:g} s)")
        self._count(str(response.status_code))
        self.budget, self.budget_reported_at = parse_budget(response.headers), self._clock()
        self.pacer.observe(self.budget)
        if body == "size":
            return _Retry(f"got a body larger than api.max_response_mb ({self._max_response_mb:g} MB)")
        return self._outcome(request, response, body)

    def _body(self, response: httpx.Response, deadline: float) -> bytes | str:
        """The body, read in chunks so that neither bound is passed before the client gives up."""
        max_bytes = int(self._max_response_mb * 2**20)
        length = _int_or_none(response.headers.get("content-length"))
        if length is not None and length > max_bytes:  # said up front: not a byte of it is read
            return "size"
        if time.monotonic() > deadline:
            return "deadline"
        return read_bounded(response.iter_bytes(), max_bytes=max_bytes, deadline=deadline, clock=time.monotonic)

    def _outcome(self, request: Request, response: httpx.Response, body: bytes) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise ApiAuthError(f"the API refused the token (HTTP {status}); check VVV_UW_TOKEN")
        if status == 429 and self.paused_until() is not None:
            raise BudgetSpent(f"the API's daily budget is spent (HTTP 429: {_api_message(body)})")
        if status == 429:
            reset_ms = _float_or_none(response.headers.get("x-uw-req-per-minute-reset"))
            retry_after = response.headers.get("retry-after") or (str(reset_ms / 1000) if reset_ms else None)
            return _Retry("was rate limited (HTTP 429)", retry_after)
        if status >= 500:
            return _Retry(f"got HTTP {status}")
        if status != 200:
            logger.error("GET {} {} refused with HTTP {}: {}", request.path, dict(request.params), status,
                         _api_message(body))
            raise ApiError(f"GET {request.path} got HTTP {status}: {_api_message(body)}")
        try:
            payload = decode_json(body)
        except ValueError:
            return _Retry(f"got a body that is not valid JSON ({len(body)} bytes)")
        if (problem := page_problem(payload)) is not None:
            return _Retry(problem)
        return payload


_JSON = msgspec.json.Decoder()


def decode_json(body: bytes) -> Any:
    """The body as JSON, a ValueError if it is not. msgspec reads a page in half the time json does,
    integers of any size exactly; what it refuses goes to json, which reads more: NaN and Infinity
    (not JSON, kept as the text the API sent, so a page never fails on them), a lone surrogate, a
    number beyond a float, a byte order mark."""
    try:
        return _JSON.decode(body)
    except msgspec.DecodeError:
        return json.loads(body, parse_constant=str)


def read_bounded(
    chunks: Iterable[bytes], *, max_bytes: int, deadline: float, clock: Callable[[], float]
) -> bytes | str:
    """The body from `chunks`, or which bound it broke: `"size"` (more than `max_bytes`, found
    with at most one chunk too many in memory) or `"deadline"` (still coming at `deadline` by
    `clock`). A read itself is bounded by the read timeout, so a request ends within one read
    timeout of its deadline, however slowly its body trickles."""
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            return "size"
        if clock() > deadline:
            return "deadline"
        parts.append(chunk)
    return b"".join(parts)


def page_problem(payload: Any) -> str | None:
    """Why a decoded 200 body is not a page (`{"data": [...]}`, what every endpoint vvv reads answers), or None.

    Read as an empty page, such a body would end a sweep early and skip what lies below it;
    as a failed request it is retried, and the cursor stays where it was.
    """
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return None
    return f"got a 200 that is not a page: {_shortened(payload)}"


def _shortened(payload: Any, limit: int = 80) -> str:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
