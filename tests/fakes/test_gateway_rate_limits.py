"""The X gateway keeps what X's headers say of each read endpoint's 15-minute window
(x-rate-limit-remaining, x-rate-limit-reset), for the poller to stay inside it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.fakes.x_api import FakeX
from bot.x.gateway import XGateway, XRateLimited, rate_window
from policies.polling import RateWindow

RESET = 1_796_000_000


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"x-rate-limit-remaining": "12", "x-rate-limit-reset": str(RESET)},
            RateWindow(12, datetime.fromtimestamp(RESET, UTC)),
        ),
        ({"x-rate-limit-remaining": "12"}, None),  # half a window is no window
        ({"x-rate-limit-reset": str(RESET)}, None),
        ({"x-rate-limit-remaining": "many", "x-rate-limit-reset": str(RESET)}, None),
        ({"x-rate-limit-remaining": "1", "x-rate-limit-reset": "9" * 30}, None),  # absurd date
        ({}, None),
    ],
)
def test_rate_window_from_headers(headers: dict[str, str], expected: RateWindow | None) -> None:
    assert rate_window(headers) == expected


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(bearer_token="bearer") as server:
        yield server


def test_each_endpoint_keeps_the_window_x_last_reported(fake: FakeX) -> None:
    fake.add_user("acme")
    gateway = XGateway(bearer_token="bearer", api_url=fake.url, timeout=5)
    assert gateway.rate_window("mentions") is None  # nothing asked yet

    list(gateway.mentions("acme", since_id=None, start_time=None))
    first = gateway.rate_window("mentions")
    assert first is not None and first.reset_at.timestamp() > time.time()
    list(gateway.mentions("acme", since_id=None, start_time=None))
    second = gateway.rate_window("mentions")
    assert second is not None and second.remaining == first.remaining - 1
    assert gateway.rate_window("search") is None  # a window is per endpoint

    fake.rate_limit("/2/users/", reset_in=90)
    with pytest.raises(XRateLimited):
        list(gateway.mentions("acme", since_id=None, start_time=None))
    limited = gateway.rate_window("mentions")
    assert limited is not None and limited.remaining == 0
    assert 85 <= limited.reset_at.timestamp() - time.time() <= 91


def test_the_fake_dates_its_windows_by_the_clock_it_is_given() -> None:
    """An app on a test's clock reads X's resets in its own time (a day behind the wall clock
    here), as an app on the wall clock does on X: a reset in the wall clock's time would look
    a day away and stall the poller."""
    yesterday = time.time() - 86_400
    with FakeX(bearer_token="bearer", now=lambda: yesterday) as fake:
        fake.add_user("acme")
        gateway = XGateway(bearer_token="bearer", api_url=fake.url, timeout=5)
        list(gateway.mentions("acme", since_id=None, start_time=None))
        window = gateway.rate_window("mentions")
        assert window is not None and window.reset_at.timestamp() == int(yesterday + 900)
        fake.rate_limit("/2/users/", reset_in=90)
        with pytest.raises(XRateLimited):
            list(gateway.mentions("acme", since_id=None, start_time=None))
        limited = gateway.rate_window("mentions")
        assert limited is not None and limited.reset_at.timestamp() == int(yesterday + 90)
