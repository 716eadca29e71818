"""The buttons of the held-queue message an unfreeze posts: Release / Cancel each, or all."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.cards.held_queue import HeldAction
from bot.drafts import Person
from bot.freeze import QueueClick
from bot.services import Services
from handlers.errors import guarded, tell


def register(app: App, services: Services) -> None:
    queue = services.freeze.held_queue(services.drafts)

    @app.action(re.compile(rf"^{HeldAction.RELEASE}:\d+$"))
    @guarded
    def release(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        tell(client, body, queue.release(queue_click(body)))

    @app.action(re.compile(rf"^{HeldAction.CANCEL}:\d+$"))
    @guarded
    def cancel(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        tell(client, body, queue.cancel(queue_click(body)))

    @app.action(HeldAction.RELEASE_ALL)
    @guarded
    def release_all(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        tell(client, body, queue.release_all(queue_click(body)))

    @app.action(HeldAction.CANCEL_ALL)
    @guarded
    def cancel_all(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        tell(client, body, queue.cancel_all(queue_click(body)))


def queue_click(body: dict[str, Any]) -> QueueClick:
    """Where and by whom, from Slack's signed envelope; the button's value is only cross-checked."""
    container = body.get("container") or {}
    user = body.get("user") or {}
    action = body["actions"][0]
    return QueueClick(
        person=Person(user.get("id", ""), user.get("username") or user.get("name", "")),
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id", ""),
        message_ts=container.get("message_ts", ""),
        action_id=str(action.get("action_id", "")),
        value=action.get("value"),
    )
