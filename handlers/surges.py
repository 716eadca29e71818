"""A surge summary's buttons: Show next 10 and Claim next. Each answers the clicker only."""

from __future__ import annotations

from typing import Any

from bot.services import Services
from bot.slack.cards.surge_summary import SurgeAction
from handlers.acks import Listen
from handlers.clicks import click_from
from handlers.errors import answering


def register(listen: Listen, services: Services) -> None:
    surges = services.surges

    def show_next(body: dict[str, Any]) -> str:
        return surges.show_next(click_from(body))

    def claim_next(body: dict[str, Any]) -> str:
        return surges.claim_next(click_from(body))

    listen.action(SurgeAction.SHOW_NEXT)(answering(show_next))
    listen.action(SurgeAction.CLAIM_NEXT)(answering(claim_next))
