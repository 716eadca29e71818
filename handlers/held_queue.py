"""The buttons of the held-queue message an unfreeze posts: Release / Cancel each, or all."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.cards.held_queue import HeldAction
from bot.drafts import Person
from bot.freeze import QueueClick
from bot.services import Services
from handlers.errors import answering


def register(app: App, services: Services) -> None:
    queue = services.freeze.held_queue(services.drafts)
    buttons: dict[Any, Callable[[QueueClick], str]] = {
        re.compile(rf"^{HeldAction.RELEASE}:\d+$"): queue.release,
        re.compile(rf"^{HeldAction.CANCEL}:\d+$"): queue.cancel,
        HeldAction.RELEASE_ALL: queue.release_all,
        HeldAction.CANCEL_ALL: queue.cancel_all,
    }
    for action_id, service_call in buttons.items():
        app.action(action_id)(answering(_by_click(service_call)))


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


def _by_click(call: Callable[[QueueClick], str]) -> Callable[[dict[str, Any]], str]:
    """A button's body, read as a queue click, for the service call."""
    return lambda body: call(queue_click(body))
