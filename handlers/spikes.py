"""The spike alert's button: Freeze scheduled posts (admins), confirmed like /brand freeze."""

from __future__ import annotations

from typing import Any

from bot.services import Services
from bot.slack.cards.spike_alert import SpikeAction
from handlers.acks import Listen
from handlers.brand_command import frozen_note
from handlers.clicks import click_from
from handlers.errors import answering


def register(listen: Listen, services: Services) -> None:
    def freeze(body: dict[str, Any]) -> str:
        outcome = services.spikes.freeze(click_from(body))
        if isinstance(outcome, str):
            return outcome
        return frozen_note(outcome.freeze, outcome.on_their_way)

    listen.action(SpikeAction.FREEZE)(answering(freeze))
