"""The socket client's own rules: the token only ever shown redacted, the backoff, the keepalive."""

from __future__ import annotations

import random
import threading

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TOKEN
from tests.faults import wait_for
from tests.fakes.socket import FakeSocket
from vvv.io.socket import Backoff, Socket, is_ack, redact, socket_url


@given(token=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40))
def test_the_token_rides_in_the_url_and_never_in_its_shown_form(token) -> None:
    url = socket_url("wss://api.unusualwhales.com/socket", token)
    assert "token=" in url and token not in redact(url)
    assert redact(url) == "wss://api.unusualwhales.com/socket?token=***"


@given(attempt=st.integers(1, 60), seed=st.integers(0, 1000))
def test_the_backoff_doubles_with_jitter_up_to_its_cap(attempt, seed) -> None:
    backoff = Backoff(first=1.0, cap=60.0)
    ceiling = min(60.0, 2.0 ** (attempt - 1))
    assert ceiling / 2 <= backoff.wait(attempt, random.Random(seed)) <= ceiling


def test_an_ack_is_recognized_and_a_payload_is_not() -> None:
    assert is_ack({"response": {}, "status": "ok"}) and is_ack({"response": {"e": 1}, "status": "error"})
    assert not is_ack({"status": "ok", "response": {}, "id": "x"}) and not is_ack(["status", "response"])


class _Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def connected(self) -> None:
        self.events.append(("connected",))

    def acknowledged(self, channel, ok, detail) -> None:
        self.events.append(("ack", channel, str(ok)))

    def message(self, channel, payload, raw) -> None:
        self.events.append(("message", channel))

    def idle(self) -> None:
        pass

    def disconnected(self, reason) -> None:
        self.events.append(("disconnected", reason))


def test_a_socket_gone_silent_is_found_by_the_keepalive_and_reconnected_with_every_channel_joined_again() -> None:
    with FakeSocket(token=TOKEN) as fake:
        seen, stop = _Seen(), threading.Event()
        socket = Socket(fake.url, TOKEN, ["news", "gex:SPY"], ping_interval=0.2, ping_timeout=0.2, idle_s=0.02,
                        backoff=Backoff(first=0.05, cap=0.1))
        thread = threading.Thread(target=socket.run, args=(seen, stop.is_set), daemon=True)
        thread.start()
        try:
            fake.wait_joined("gex:SPY")
            fake.silence()  # as a second socket of one token does: no close frame, no pong
            assert wait_for(lambda: socket.connections == 2, 10)
            assert wait_for(lambda: fake.joins.count("news") == 2 and fake.joins.count("gex:SPY") == 2, 10)
        finally:
            stop.set()
            thread.join(10)
    reasons = [event[1] for event in seen.events if event[0] == "disconnected"]
    assert reasons and ("1006" in reasons[0] or "1011" in reasons[0])
