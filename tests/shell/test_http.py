"""The HTTP client: what it sends, what it retries, and how long it waits."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TOKEN
from tests.fakes.api import FakeApi
from vvv import __version__
from vvv.core.base import Request
from vvv.io.http import (
    ApiClient,
    ApiError,
    Budget,
    BudgetSpent,
    Pacer,
    daily_reset_after,
    page_problem,
    parse_budget,
    read_bounded,
    retry_delay,
)

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


class _Time:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@given(limit=st.integers(1, 30), gaps=st.lists(st.floats(0, 5), min_size=1, max_size=120))
def test_pacer_never_lets_more_than_the_limit_into_any_minute_and_never_waits_needlessly(
    limit: int, gaps: list[float]
) -> None:
    t = _Time()
    pacer = Pacer(limit, clock=lambda: t.now, sleep=t.sleep)
    sent = []
    for gap in gaps:
        t.sleep(gap)
        asked = t.now
        surely_in_window = sum(1 for s in sent if s > asked - 61.2 + 1e-6)
        maybe_in_window = sum(1 for s in sent if s > asked - 61.2 - 1e-6)
        waited = pacer.wait_turn()
        assert t.now == pytest.approx(asked + waited)
        if waited == 0:
            assert surely_in_window < limit
        else:
            assert maybe_in_window >= limit
        sent.append(t.now)
    for i, start in enumerate(sent):
        assert sum(1 for s in sent[i:] if s < start + 60) <= limit


def test_pacer_learns_a_smaller_plan_and_a_spent_minute_from_the_headers() -> None:
    t = _Time()
    pacer = Pacer(120, clock=lambda: t.now, sleep=t.sleep)
    pacer.observe(Budget(per_minute_remaining=57, minute_count=3))
    assert pacer.limit == 60
    pacer.observe(Budget(per_minute_remaining=0, minute_reset_ms=1500, minute_count=60))
    assert pacer.wait_turn() == 1.5


def test_waits_out_the_minute_when_the_api_says_none_is_left(fake_api: FakeApi) -> None:
    t = _Time()
    fake_api.fail_next(200, headers={"x-uw-req-per-minute-remaining": "0", "x-uw-req-per-minute-reset": "1500",
                                     "x-uw-minute-req-counter": "120"}, body='{"data": []}')
    client = _client(fake_api, [], pacer=Pacer(120, clock=lambda: t.now, sleep=t.sleep))
    client.get_json(NEWS)
    client.get_json(NEWS)
    client.close()
    assert t.now == 1001.5


def test_the_daily_reserve_is_never_spent(fake_api: FakeApi) -> None:
    fake_api.daily_limit = 10
    client = _client(fake_api, [], daily_reserve=3)
    for _ in range(7):
        client.get_json(NEWS)
    with pytest.raises(BudgetSpent, match="7 of 10 requests used, 3 kept in reserve; collecting again after"):
        client.get_json(NEWS)
    client.close()
    assert len(fake_api.requests) == 7
    assert client.paused_until() == daily_reset_after(client.budget_reported_at)


def test_a_daily_429_is_not_retried(fake_api: FakeApi) -> None:
    fake_api.daily_limit = 2
    other = _client(fake_api, [])  # another program on the same token spends the day
    other.get_json(NEWS)
    other.get_json(NEWS)
    other.close()
    client = _client(fake_api, [])
    with pytest.raises(BudgetSpent, match="Daily request limit of 2 reached"):
        client.get_json(NEWS)
    client.close()
    assert len(fake_api.requests) == 3


def test_a_redirect_is_never_followed_so_the_token_stays_put(fake_api: FakeApi) -> None:
    fake_api.fail_next(302, headers={"Location": "http://127.0.0.2:9/steal"})
    client = _client(fake_api, [])
    with pytest.raises(ApiError, match="HTTP 302"):
        client.get_json(NEWS)
    client.close()
    assert len(fake_api.requests) == 1


def test_nan_and_infinity_in_a_body_are_kept_as_the_text_sent(fake_api: FakeApi) -> None:
    fake_api.fail_next(200, body='{"data": [{"premium": NaN, "size": Infinity, "x": -Infinity}]}')
    client = _client(fake_api, [])
    payload = client.get_json(NEWS)
    client.close()
    assert payload == {"data": [{"premium": "NaN", "size": "Infinity", "x": "-Infinity"}]}


NOT_PAGES = ['{"data": null}', '{"data": "oops"}', "[1,2,3]", "null", '{"msg": "ok"}', '"data"', "{}"]


@pytest.mark.parametrize("body", NOT_PAGES)
def test_a_200_that_is_not_a_page_is_retried_like_a_5xx(fake_api: FakeApi, body: str) -> None:
    sleeps: list[float] = []
    fake_api.fail_next(200, body=body)
    client = _client(fake_api, sleeps)
    payload = client.get_json(NEWS)
    client.close()
    assert len(payload["data"]) == 5
    assert len(sleeps) == 1 and client.requests == 2


@pytest.mark.parametrize("body", NOT_PAGES)
def test_a_200_that_is_never_a_page_fails_naming_what_came_back(fake_api: FakeApi, body: str) -> None:
    fake_api.fail_next(200, body=body, times=3)
    client = _client(fake_api, [], max_retries=2)
    with pytest.raises(ApiError, match="after 3 attempts: got a 200 that is not a page") as failure:
        client.get_json(NEWS)
    client.close()
    assert json.dumps(json.loads(body)) in str(failure.value)


def test_what_a_body_that_is_not_a_page_held_is_shortened() -> None:
    problem = page_problem({"data": None, "msg": "x" * 5000})
    assert problem is not None and len(problem) < 200 and '{"data": null' in problem


@given(items=st.lists(st.dictionaries(st.text(max_size=3), st.integers()), max_size=5))
def test_a_data_list_is_a_page_whatever_its_items(items: list[dict]) -> None:
    assert page_problem({"data": items}) is None
    assert page_problem({"data": items, "other": 1}) is None


class _Trickle:
    """A local server whose first `times` answers send their body one byte every `every` seconds, then pages."""

    def __init__(self, *, times: int, every: float, size: int = 200) -> None:
        self.times, self.every, self.size, self.requests = times, every, size, 0
        self.stopped = threading.Event()
        trickle = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                trickle.requests += 1
                slow = trickle.requests <= trickle.times
                body = b" " * trickle.size if slow else b'{"data": [{"id": 1}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for i in range(len(body) if slow else 0):
                        if trickle.stopped.wait(trickle.every):
                            return
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                    if not slow:
                        self.wfile.write(body)
                except OSError:  # the client gave up on the body: that is the point
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Trickle:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


def _big_page(megabytes: float) -> str:
    item = '{"headline": "' + "x" * 1000 + '"}'
    return '{"data": [' + ", ".join([item] * int(megabytes * 2**20 / 1000)) + "]}"


def test_a_body_over_the_size_cap_is_retried_then_the_page_comes(fake_api: FakeApi) -> None:
    sleeps: list[float] = []
    fake_api.fail_next(200, body=_big_page(1.5))
    client = _client(fake_api, sleeps, max_response_mb=1)
    assert len(client.get_json(NEWS)["data"]) == 5
    client.close()
    assert len(sleeps) == 1


def test_a_body_always_over_the_size_cap_fails_naming_the_bound(fake_api: FakeApi) -> None:
    fake_api.fail_next(200, body=_big_page(1.5), times=3)
    client = _client(fake_api, [], max_response_mb=1, max_retries=2)
    with pytest.raises(ApiError, match=r"after 3 attempts: .*larger than api.max_response_mb \(1 MB\)"):
        client.get_json(NEWS)
    client.close()


@given(chunks=st.lists(st.binary(min_size=1, max_size=64), max_size=40), cap=st.integers(1, 1000))
def test_a_body_is_read_no_further_than_one_chunk_past_the_cap(chunks: list[bytes], cap: int) -> None:
    taken: list[bytes] = []

    def stream():
        for chunk in chunks:
            taken.append(chunk)
            yield chunk

    body = read_bounded(stream(), max_bytes=cap, deadline=float("inf"), clock=lambda: 0.0)
    whole = b"".join(chunks)
    if len(whole) <= cap:
        assert body == whole
    else:
        assert body == "size"
        assert sum(map(len, taken[:-1])) <= cap < sum(map(len, taken))


def test_a_body_read_past_the_deadline_is_given_up() -> None:
    times = iter([0.0, 0.5, 1.2, 9.0])
    body = read_bounded(iter([b"a", b"b", b"c"]), max_bytes=100, deadline=1.0, clock=lambda: next(times))
    assert body == "deadline"


def test_a_trickling_body_is_cut_off_at_the_request_deadline_and_retried() -> None:
    sleeps: list[float] = []
    with _Trickle(times=1, every=0.3) as server:
        client = ApiClient(base_url=server.url, token=TOKEN, sleep=sleeps.append, jitter=lambda: 1.0,
                           read_timeout=5, request_timeout=1)
        assert client.get_json(NEWS)["data"] == [{"id": 1}]
        client.close()
    assert len(sleeps) == 1 and server.requests == 2


def test_a_body_that_always_trickles_fails_naming_the_deadline() -> None:
    with _Trickle(times=2, every=0.3) as server:
        client = ApiClient(base_url=server.url, token=TOKEN, sleep=lambda _: None, read_timeout=5,
                           request_timeout=1, max_retries=1)
        with pytest.raises(ApiError, match=r"after 2 attempts: .*longer than api.request_timeout \(1 s\)"):
            client.get_json(NEWS)
        client.close()
