"""slack-sdk WebClients pointed at SLACK_API_URL."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)


def interactive_client(*, token: str, base_url: str) -> WebClient:
    """For replies to a click: retry briefly on 429 and dropped connections."""
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


def outbox_client(*, token: str, base_url: str) -> WebClient:
    """For the outbox worker: no hidden retries; the outbox reschedules durably itself."""
    return WebClient(token=token, base_url=base_url, timeout=10, retry_handlers=[])
