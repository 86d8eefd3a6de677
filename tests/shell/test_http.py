"""The HTTP client: what it sends, what it retries, and how long it waits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TOKEN
from vvv import __version__
from vvv.collectors.base import Request
from vvv.fake_api import FakeApi
from vvv.http import ApiClient, ApiError, Budget, parse_budget, retry_delay

NEWS = Request("/api/news/headlines", (("limit", "5"), ("page", "0")))


def _client(api: FakeApi, sleeps: list[float], **kwargs) -> ApiClient:
    return ApiClient(base_url=api.url, token=TOKEN, sleep=sleeps.append, jitter=lambda: 1.0, **kwargs)


@given(attempt=st.integers(0, 50), jitter=st.floats(0, 1))
def test_backoff_grows_then_caps_and_stays_positive(attempt: int, jitter: float) -> None:
    delay = retry_delay(attempt, jitter=jitter)
    assert 0 < delay <= 30
    assert retry_delay(attempt + 1, jitter=jitter) >= delay


@given(seconds=st.integers(0, 100))
def test_retry_after_wins_over_backoff(seconds: int) -> None:
    assert retry_delay(3, retry_after=str(seconds), jitter=0.3) == seconds


@given(headers=st.dictionaries(st.sampled_from(["x-uw-req-per-minute-remaining", "x-uw-daily-req-count", "x"]),
                               st.text(max_size=8)))
def test_budget_headers_never_break_parsing(headers: dict[str, str]) -> None:
    assert isinstance(parse_budget(headers), Budget)


def test_budget_is_read_from_the_headers() -> None:
    headers = {"x-uw-req-per-minute-remaining": "117", "x-uw-req-per-minute-reset": "4200",
               "x-uw-minute-req-counter": "3", "x-uw-daily-req-count": "1050", "x-uw-token-req-limit": "20000"}
    assert parse_budget(headers) == Budget(117, 4200, 3, 1050, 20000)


def test_sends_bearer_token_user_agent_and_params(fake_api: FakeApi) -> None:
    client = _client(fake_api, [])
    payload = client.get_json(NEWS)
    client.close()
    assert len(payload["data"]) == 5
    (seen,) = fake_api.requests
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["user-agent"].startswith(f"vvv/{__version__}")
    assert seen.query == {"limit": "5", "page": "0"}
    assert client.budget.token_limit == fake_api.daily_limit


def test_429_honours_retry_after(fake_api: FakeApi) -> None:
    sleeps: list[float] = []
    fake_api.fail_next(429, headers={"Retry-After": "7"})
    client = _client(fake_api, sleeps)
    assert client.get_json(NEWS)["data"]
    client.close()
    assert sleeps == [7.0]
    assert client.requests == 2


def test_gives_up_after_max_retries_with_the_reason(fake_api: FakeApi) -> None:
    sleeps: list[float] = []
    fake_api.fail_next(502, times=5)
    client = _client(fake_api, sleeps, max_retries=2)
    with pytest.raises(ApiError, match="after 3 attempts: got HTTP 502"):
        client.get_json(NEWS)
    client.close()
    assert len(sleeps) == 2 and sleeps[0] < sleeps[1]


def test_a_422_is_not_retried_and_shows_the_api_message(fake_api: FakeApi) -> None:
    client = _client(fake_api, [])
    with pytest.raises(ApiError, match="HTTP 422: .*limit"):
        client.get_json(Request("/api/news/headlines", (("limit", "1000"),)))
    client.close()
    assert client.requests == 1


def test_a_slow_response_times_out_and_is_retried(fake_api: FakeApi) -> None:
    sleeps: list[float] = []
    fake_api.delay_next(1.0)
    client = _client(fake_api, sleeps, read_timeout=0.2)
    assert client.get_json(NEWS)["data"]
    client.close()
    assert len(sleeps) == 1


def test_a_dead_api_is_a_connection_error_after_retries(fake_api: FakeApi) -> None:
    url = fake_api.url
    fake_api.stop()
    client = ApiClient(base_url=url, token=TOKEN, max_retries=1, sleep=lambda _: None, connect_timeout=1)
    with pytest.raises(ApiError, match="connection failed"):
        client.get_json(NEWS)
    client.close()


def test_waits_out_the_minute_when_the_api_says_none_is_left(fake_api: FakeApi) -> None:
    sleeps: list[float] = []
    fake_api.fail_next(200, headers={"x-uw-req-per-minute-remaining": "0", "x-uw-req-per-minute-reset": "1500"},
                       body='{"data": []}')
    client = _client(fake_api, sleeps)
    client.get_json(NEWS)
    client.get_json(NEWS)
    client.close()
    assert sleeps == [1.5]


def test_a_redirect_is_never_followed_so_the_token_stays_put(fake_api: FakeApi) -> None:
    fake_api.fail_next(302, headers={"Location": "http://127.0.0.2:9/steal"})
    client = _client(fake_api, [])
    with pytest.raises(ApiError, match="HTTP 302"):
        client.get_json(NEWS)
    client.close()
    assert len(fake_api.requests) == 1
