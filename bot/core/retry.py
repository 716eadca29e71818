"""When to try a Slack call again: what the outbox and the Home tabs do after a failure."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.errors import SlackApiError

MAX_BACKOFF = timedelta(minutes=15)


def retry_after(exc: Exception) -> timedelta | None:
    """Slack's Retry-After for a 429 (at least a second); None for any other failure."""
    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", {}) or {}
    value = headers.get("Retry-After") or headers.get("retry-after") or "1"
    if isinstance(value, list):
        value = value[0]
    try:
        return timedelta(seconds=max(1, int(value)))
    except ValueError:
        return timedelta(seconds=1)


def backoff(attempts: int) -> timedelta:
    """Exponential, from 2 seconds up to MAX_BACKOFF."""
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 10)))


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack error {exc.response.status_code}: {exc.response.get('error')}"
    return f"{type(exc).__name__}: {exc}"[:500]
