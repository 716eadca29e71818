"""The buttons of the held-queue message an unfreeze posts: Release / Cancel each, or all."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.services import Services
from bot.slack.cards.held_queue import HeldAction
from bot.slack.clicks import Click
from handlers.acks import Listen
from handlers.clicks import click_from
from handlers.errors import answering


def register(listen: Listen, services: Services) -> None:
    queue = services.held_queue
    buttons: dict[Any, Callable[[Click], str]] = {
        re.compile(rf"^{HeldAction.RELEASE}:\d+$"): queue.release,
        re.compile(rf"^{HeldAction.CANCEL}:\d+$"): queue.cancel,
        HeldAction.RELEASE_ALL: queue.release_all,
        HeldAction.CANCEL_ALL: queue.cancel_all,
    }
    for action_id, service_call in buttons.items():
        listen.action(action_id)(answering(_by_click(service_call)))


def _by_click(call: Callable[[Click], str]) -> Callable[[dict[str, Any]], str]:
    """A button's body, read as a queue click, for the service call."""
    return lambda body: call(click_from(body))
