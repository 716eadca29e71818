"""The buttons on a mention card and the dismiss modal: parse, call the mention service, reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused
from bot.services import Services
from bot.slack.cards.author_history import build_history_modal
from bot.slack.cards.dismiss_modal import (
    CALLBACK_ID,
    REASON_BLOCK,
    DismissContext,
    build_dismiss_modal,
    dismiss_form_errors,
    parse_dismiss_values,
)
from bot.slack.cards.mention_card import MentionAction
from bot.slack.clicks import Click
from handlers.acks import Decision, Listen
from handlers.clicks import click_from, person_of


def register(listen: Listen, services: Services) -> None:
    mentions = services.mentions
    simple: dict[MentionAction, Callable[[Click], None]] = {
        MentionAction.CLAIM: mentions.claim,
        MentionAction.RELEASE: mentions.release,
        MentionAction.RESOLVE: mentions.resolve,
        MentionAction.REOPEN: mentions.reopen,
    }
    for action_id, service_call in simple.items():
        listen.action(action_id)(_button(service_call))

    def reroute(body: dict[str, Any], client: WebClient) -> None:
        selected = (body["actions"][0].get("selected_option") or {}).get("value", "")
        mentions.reroute(click_from(body), to_segment=selected)

    def history(body: dict[str, Any], client: WebClient) -> None:
        """Open the modal from the database at once; ask X (first time only) after, and update."""
        authors = services.authors
        known = authors.view(click_from(body))
        opened = client.views_open(trigger_id=body["trigger_id"], view=build_history_modal(known))
        if known.waiting_for_x:
            full = authors.with_profile(known)
            shown = opened["view"]
            client.views_update(
                view_id=shown["id"], hash=shown["hash"], view=build_history_modal(full)
            )

    def open_on_x(body: dict[str, Any], client: WebClient) -> None:
        """A link button: Slack opens X itself and still tells us of the click."""

    def open_dismiss(body: dict[str, Any], client: WebClient) -> None:
        context, mention = mentions.dismiss_form(click_from(body))
        client.views_open(
            trigger_id=body["trigger_id"],
            view=build_dismiss_modal(
                context=context, author_handle=mention.author_handle, text=mention.text
            ),
        )

    def submit_dismiss(
        ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
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
        click = Click(
            person_of(body), context.channel, context.message_ts, value=context.mention_id
        )
        try:
            mentions.dismiss(click, reason=reason, note=note)
        except ActionRefused as refused:
            ack(response_action="errors", errors={REASON_BLOCK: str(refused)})
            return
        ack()

    listen.action(MentionAction.REROUTE)(reroute)
    listen.action(MentionAction.HISTORY)(history)
    listen.action(MentionAction.OPEN_ON_X)(open_on_x)
    listen.action(MentionAction.DISMISS)(open_dismiss)
    listen.view(CALLBACK_ID)(submit_dismiss)


def _button(service_call: Callable[[Click], None]) -> Callable[..., None]:
    def work(body: dict[str, Any], client: WebClient) -> None:
        service_call(click_from(body))

    return work
