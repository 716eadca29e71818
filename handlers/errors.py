"""One error handler: refusals become an ephemeral note; anything else is logged with a reference."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.errors import ActionRefused

log = logging.getLogger("brandbot.handlers")


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        if isinstance(error, ActionRefused):
            tell(client, body, str(error))
            return
        ref = uuid.uuid4().hex[:8]
        log.error("unhandled error ref=%s type=%s", ref, body.get("type"), exc_info=error)
        tell(client, body, f"Something went wrong on my side (ref {ref}). Please try again.")


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
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
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except Exception:
        log.warning("could not post ephemeral reply to %s", user)


def _channel_from_view(body: dict[str, Any]) -> str | None:
    import json

    raw = (body.get("view") or {}).get("private_metadata") or ""
    try:
        return json.loads(raw).get("channel") if raw else None
    except (ValueError, AttributeError):
        return None
