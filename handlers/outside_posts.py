"""The buttons of an alert about a tweet posted around brandbot, and its Expected form."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused
from bot.services import Services
from bot.slack.cards.outside_post_alert import (
    EXPECTED_CALLBACK,
    REASON_BLOCK,
    ExpectedContext,
    OutsidePostAction,
    build_expected_modal,
    parse_reason,
)
from bot.slack.clicks import Click
from handlers.acks import Decision, Listen
from handlers.clicks import click_from, person_of
from handlers.errors import answering


def register(listen: Listen, services: Services) -> None:
    alerts = services.outside_posts
    listen.action(OutsidePostAction.DELETE)(answering(lambda body: alerts.delete(click_from(body))))

    @listen.action(OutsidePostAction.EXPECTED)
    def open_expected(body: dict[str, Any], client: WebClient) -> None:
        context, post = alerts.expected_form(click_from(body))
        view = build_expected_modal(context=context, post=post)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @listen.view(EXPECTED_CALLBACK)
    def submit_expected(
        ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> str | None:
        reason = parse_reason(view["state"]["values"])
        try:
            said = alerts.mark_expected(_click_from_view(body, view), reason=reason)
        except ActionRefused as refused:  # back to the form, what they typed kept
            ack(response_action="errors", errors={REASON_BLOCK: str(refused)})
            return None
        ack()
        return said


def _click_from_view(body: dict[str, Any], view: dict[str, Any]) -> Click:
    """The alert the form was opened from (the service finds it again by channel and ts)."""
    try:
        context = ExpectedContext.load(view.get("private_metadata", ""))
    except (KeyError, ValueError) as exc:
        raise ActionRefused("This form is not one of mine.") from exc
    return Click(person_of(body), context.channel, context.message_ts, context.tweet_id)
