"""The buttons on a mention card and the dismiss modal: parse, call the mention service, reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.cards.dismiss_modal import (
    CALLBACK_ID,
    REASON_BLOCK,
    DismissContext,
    build_dismiss_modal,
    dismiss_form_errors,
    parse_dismiss_values,
)
from bot.cards.mention_card import MentionAction
from bot.errors import ActionRefused
from bot.mentions import Click
from bot.services import Services
from handlers.errors import guarded


def register(app: App, services: Services) -> None:
    mentions = services.mentions
    simple: dict[MentionAction, Callable[[Click], None]] = {
        MentionAction.CLAIM: mentions.claim,
        MentionAction.RELEASE: mentions.release,
        MentionAction.RESOLVE: mentions.resolve,
        MentionAction.REOPEN: mentions.reopen,
    }
    for action_id, service_call in simple.items():
        app.action(action_id)(guarded(_button(service_call)))

    @app.action(MentionAction.REROUTE)
    @guarded
    def reroute(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        selected = (body["actions"][0].get("selected_option") or {}).get("value", "")
        mentions.reroute(click_from_action(body), to_segment=selected)

    @app.action(MentionAction.DISMISS)
    @guarded
    def open_dismiss(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        context, mention = mentions.dismiss_form(click_from_action(body))
        client.views_open(
            trigger_id=body["trigger_id"],
            view=build_dismiss_modal(
                context=context, author_handle=mention.author_handle, text=mention.text
            ),
        )

    @app.view(CALLBACK_ID)
    @guarded
    def submit_dismiss(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        reason, note = parse_dismiss_values(view["state"]["values"])
        errors = dismiss_form_errors(reason, note)
        if errors:
            ack(response_action="errors", errors=errors)  # the form stays open, nothing is lost
            return
        try:
            context = DismissContext.load(view.get("private_metadata", ""))
        except (KeyError, ValueError):
            ack(response_action="errors", errors={REASON_BLOCK: "This form is not one of mine."})
            return
        user = body["user"]
        click = Click(
            user_id=user["id"],
            user_name=user.get("username") or user.get("name", ""),
            channel=context.channel,
            message_ts=context.message_ts,
            mention_id=context.mention_id,
        )
        try:
            mentions.dismiss(click, reason=reason, note=note)
        except ActionRefused as refused:
            ack(response_action="errors", errors={REASON_BLOCK: str(refused)})
            return
        ack()


def _button(service_call: Callable[[Click], None]) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        service_call(click_from_action(body))

    return listener


def click_from_action(body: dict[str, Any]) -> Click:
    """Where and by whom: from Slack's envelope (signed), not from our own button values."""
    action = body["actions"][0]
    container = body.get("container") or {}
    block_id = str(action.get("block_id", ""))
    mention_id = action.get("value") if "value" in action else block_id.partition(":")[2] or None
    user = body["user"]
    return Click(
        user_id=user["id"],
        user_name=user.get("username") or user.get("name", ""),
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id", ""),
        message_ts=container.get("message_ts", ""),
        mention_id=mention_id,
    )
