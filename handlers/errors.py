"""Errors become a note to the person who acted: refusals say why; anything else is logged with
a reference the person can quote.

Work is run by `handlers.acks`, which reports what it raises here rather than leaving it to Bolt:
Bolt would only log what runs on its executor, and the person would hear nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.errors import ActionRefused
from bot.slack.payload import RefuseMalformed

log = logging.getLogger("brandbot.handlers")


def register(app: App) -> None:
    app.use(RefuseMalformed())  # before any listener, HTTP and Socket Mode alike

    @app.error
    def on_error(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        report(error, body, client)


def report(error: Exception, body: dict[str, Any], client: WebClient) -> None:
    tell(client, body, describe(error, body))


def describe(error: Exception, body: dict[str, Any]) -> str:
    """What the person is told: a refusal says why; anything else is logged with a reference."""
    if isinstance(error, ActionRefused):
        return str(error)
    if isinstance(error, SlackApiError):  # e.g. views.open with a trigger that expired
        code = error.response.get("error") if error.response is not None else None
        log.warning("Slack refused a call for %s: %s", body.get("type"), code)
        return "Slack didn't accept that just now; please try again."
    ref = uuid.uuid4().hex[:8]
    log.error("unhandled error ref=%s type=%s", ref, body.get("type"), exc_info=error)
    return f"Something went wrong on my side (ref {ref}). Please try again."


def answering(call: Callable[[dict[str, Any]], str]) -> Callable[..., None]:
    """A button whose service call returns the note for the person who clicked it."""

    def work(body: dict[str, Any], client: WebClient) -> None:
        tell(client, body, call(body))

    return work


def tell(
    client: WebClient,
    body: dict[str, Any],
    text: str,
    *,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Say something only the person who acted can see, where they acted."""
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    channel = (
        (body.get("container") or {}).get("channel_id")
        or (body.get("channel") or {}).get("id")
        or body.get("channel_id")
    )
    if not channel:  # e.g. a modal submission: the services put the channel in private metadata
        channel = _channel_from_view(body)
    if not (user and channel):
        return
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
    except Exception:
        log.warning("could not post ephemeral reply to %s", user)


def _channel_from_view(body: dict[str, Any]) -> str | None:
    import json

    raw = (body.get("view") or {}).get("private_metadata") or ""
    try:
        return json.loads(raw).get("channel") if raw else None
    except (ValueError, AttributeError):
        return None
