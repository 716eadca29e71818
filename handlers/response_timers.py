"""Acknowledge on a response-target reminder: parse the click, call the timer service, tell the
person what it did (or why not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.services import Services
from bot.slack.cards.response_reminder import ReminderAction
from handlers.acks import Listen
from handlers.clicks import click_from
from handlers.errors import answering


def register(listen: Listen, services: Services) -> None:
    listen.action(ReminderAction.ACKNOWLEDGE)(answering(acknowledger(services)))


def acknowledger(services: Services) -> Callable[[dict[str, Any]], str]:
    """The click → the timer service → the note for the person who clicked."""

    def acknowledge(body: dict[str, Any]) -> str:
        return services.timers.acknowledge(click_from(body))

    return acknowledge
