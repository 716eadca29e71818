"""/brand: the admin's command (freeze and unfreeze publishing today)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.drafts import Person
from bot.errors import ActionRefused
from bot.services import Services
from handlers.errors import tell

USAGE = (
    "`/brand freeze [account|all] <reason> [for 2h]` stops all publishing at once · "
    "`/brand unfreeze [account|all]` lifts it (held posts wait for an approver to release them)"
)
MAX_TEXT = 500


def register(app: App, services: Services) -> None:
    @app.command("/brand")
    def brand(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        text = str(body.get("text", "")).strip()
        if len(text) > MAX_TEXT:
            raise ActionRefused(f"That is {len(text)} characters; keep it under {MAX_TEXT}.")
        subcommand, _, rest = text.partition(" ")
        person = Person(body["user_id"], body.get("user_name", ""))
        match subcommand.lower():
            case "freeze":
                freeze = services.freeze.freeze(person=person, text=rest)
                until = (
                    f" until {freeze.until:%Y-%m-%d %H:%M} UTC" if freeze.until else " until lifted"
                )
                tell(
                    client,
                    body,
                    f":octagonal_sign: Publishing is frozen for {freeze.scope}{until}. Drafting and approving go on.",
                )
            case "unfreeze":
                held = services.freeze.unfreeze(person=person, text=rest)
                tell(
                    client,
                    body,
                    f"Publishing resumed. {held} post(s) that came due while frozen are held: release or reject each on its card.",
                )
            case _:
                tell(client, body, USAGE)
