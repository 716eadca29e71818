"""/tweet, a mention's Reply, and the buttons and modals of an approval card."""

from __future__ import annotations

import re
from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused
from bot.drafts.service import DraftInvalid, DraftRequest
from bot.services import Services
from bot.slack.cards.approval_card import DraftAction
from bot.slack.cards.draft_modals import (
    BLOCKS,
    CREATE_CALLBACK,
    EDIT_CALLBACK,
    REJECT_CALLBACK,
    DraftContext,
    build_edit_modal,
    build_reject_modal,
    build_tweet_modal,
    value_of,
)
from bot.slack.cards.mark_posted_modal import (
    MARK_POSTED_CALLBACK,
    TWEET_BLOCK,
    build_mark_posted_modal,
)
from bot.slack.cards.mention_card import MentionAction
from bot.slack.cards.quoted_context import QuotedContext
from bot.slack.cards.saved_reply_fill import errors_for_view, form_values
from bot.slack.clicks import Click
from handlers.acks import Decision, Listen
from handlers.clicks import click_from, person_of
from handlers.errors import answering

MAX_COMMAND_TEXT = 1000


def register(listen: Listen, services: Services) -> None:
    _register_drafting(listen, services)
    _register_approval_card(listen, services)


def _register_drafting(listen: Listen, services: Services) -> None:
    """/tweet and a mention's Reply open the draft form; submitting it creates the draft."""
    drafts, segments = services.drafts, services.segments

    def open_tweet_modal(
        client: WebClient,
        trigger_id: str,
        context: DraftContext,
        segment: str,
        text: str,
        account: str | None = None,
        quoted: QuotedContext | None = None,
    ) -> None:
        accounts = drafts.accounts_for(segment, prefer=account)
        view = build_tweet_modal(
            context=context,
            accounts=accounts or [a.handle for a in segments.config.accounts],
            segments=segments.names(),
            segment=segment,
            text=text[:MAX_COMMAND_TEXT],
            quoted=quoted,
            saved_replies=services.inbox.saved_reply_names(segment),
        )
        client.views_open(trigger_id=trigger_id, view=view)

    @listen.command("/tweet")
    def tweet(body: dict[str, Any], client: WebClient) -> None:
        segment = (
            segments.for_channel(body["channel_id"]) or segments.config.routing.default_segment
        )
        context = DraftContext(channel=body["channel_id"])
        open_tweet_modal(client, body["trigger_id"], context, segment, body.get("text", ""))

    def answer(body: dict[str, Any], client: WebClient, *, quote: bool) -> None:
        """Reply (or Quote) claims the mention for the clicker, then opens the form quoting it."""
        click = click_from(body)
        found = services.mentions.reply_form(click, quote=quote)
        mention = found.mention
        context = (
            DraftContext(channel=click.channel, quote_of=mention.id)
            if quote
            else DraftContext(channel=click.channel, in_reply_to=mention.id)
        )
        open_tweet_modal(
            client,
            body["trigger_id"],
            context,
            mention.segment,
            "" if quote else f"@{mention.author_handle} ",
            account=mention.account,  # answer from the account that was mentioned
            quoted=found.context,
        )

    @listen.action(MentionAction.REPLY)
    def reply(body: dict[str, Any], client: WebClient) -> None:
        answer(body, client, quote=False)

    @listen.action(MentionAction.QUOTE)
    def quote(body: dict[str, Any], client: WebClient) -> None:
        answer(body, client, quote=True)

    @listen.view(CREATE_CALLBACK)
    def submit_draft(
        ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> str | None:
        submitted = view["state"]["values"]
        values = form_values(submitted)  # Text may be renamed by a saved reply
        try:
            context = DraftContext.load(view.get("private_metadata", ""))
        except (KeyError, ValueError, TypeError):
            ack(response_action="errors", errors={BLOCKS["text"]: "This form is not one of mine."})
            return None
        try:
            draft = drafts.create(author=person_of(body), request=_request_from(values, context))
        except DraftInvalid as invalid:
            ack(response_action="errors", errors=errors_for_view(_errors(invalid), submitted))
            return None
        ack()
        channel = segments.channel(draft.segment)
        return f"Your draft is waiting for approval in <#{channel}>."


def _register_approval_card(listen: Listen, services: Services) -> None:
    """The approval card's buttons, and the reject and edit forms they open."""
    drafts = services.drafts

    # One action id per candidate text of a reply ("draft_approve_2"), plain for a single text.
    listen.action(re.compile(rf"^{DraftAction.APPROVE}(_\d)?$"))(
        answering(lambda body: drafts.approve(click_from(body)))
    )
    listen.action(DraftAction.DELETE)(answering(lambda body: drafts.delete(click_from(body))))

    listen.action(DraftAction.RELEASE)(answering(lambda body: drafts.release(click_from(body))))
    listen.action(DraftAction.RETRY)(answering(lambda body: drafts.retry(click_from(body))))
    listen.action(DraftAction.CANCEL)(answering(lambda body: drafts.cancel(click_from(body))))
    listen.action(DraftAction.CHECK_X)(answering(lambda body: drafts.check_on_x(click_from(body))))

    @listen.action(DraftAction.MARK_POSTED)
    def open_mark_posted(body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        draft = drafts.mark_posted_form(click)
        context = DraftContext(channel=click.channel, card_ts=click.message_ts, value=click.value)
        client.views_open(
            trigger_id=body["trigger_id"],
            view=build_mark_posted_modal(context=context, account=draft.account),
        )

    @listen.view(MARK_POSTED_CALLBACK)
    def submit_mark_posted(
        ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> str | None:
        reference = str(value_of(view["state"]["values"], TWEET_BLOCK) or "")
        try:
            said = drafts.mark_posted(_click_from_view(body, view), reference=reference)
        except ActionRefused as refused:  # back to the form, the pasted link kept
            ack(response_action="errors", errors={TWEET_BLOCK: str(refused)})
            return None
        ack()
        return said

    @listen.action(DraftAction.REJECT)
    def open_reject(body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        context = DraftContext(channel=click.channel, card_ts=click.message_ts, value=click.value)
        client.views_open(trigger_id=body["trigger_id"], view=build_reject_modal(context=context))

    @listen.view(REJECT_CALLBACK)
    def submit_reject(
        ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        reason = str(value_of(view["state"]["values"], "reason") or "")
        try:
            drafts.reject(_click_from_view(body, view), reason=reason)
        except ActionRefused as refused:
            ack(response_action="errors", errors={"reason": str(refused)})
            return
        ack()

    @listen.action(DraftAction.EDIT)
    def open_edit(body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        draft = drafts.edit_form(click)
        context = DraftContext(channel=click.channel, card_ts=click.message_ts, value=click.value)
        client.views_open(
            trigger_id=body["trigger_id"], view=build_edit_modal(context=context, text=draft.text)
        )

    @listen.view(EDIT_CALLBACK)
    def submit_edit(
        ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        text = str(value_of(view["state"]["values"], BLOCKS["text"]) or "")
        try:
            drafts.edit(_click_from_view(body, view), text=text)
        except DraftInvalid as invalid:
            ack(response_action="errors", errors={BLOCKS["text"]: invalid.issues[0].message})
            return
        except ActionRefused as refused:
            ack(response_action="errors", errors={BLOCKS["text"]: str(refused)})
            return
        ack()


def _request_from(values: dict[str, Any], context: DraftContext) -> DraftRequest:
    """The draft form's fields, as submitted (the service checks every one of them)."""
    return DraftRequest(
        account=str(value_of(values, BLOCKS["account"]) or ""),
        segment=str(value_of(values, BLOCKS["segment"]) or ""),
        text=str(value_of(values, BLOCKS["text"]) or ""),
        link=value_of(values, BLOCKS["link"]) or None,
        schedule_at=value_of(values, BLOCKS["schedule"]),
        in_reply_to=context.in_reply_to,
        quote_of=context.quote_of,
        alternatives=tuple(
            str(value_of(values, BLOCKS[field]) or "")
            for field in ("alternative_2", "alternative_3")
        ),
    )


def _click_from_view(body: dict[str, Any], view: dict[str, Any]) -> Click:
    try:
        context = DraftContext.load(view.get("private_metadata", ""))
    except (KeyError, ValueError) as exc:
        raise ActionRefused("This form is not one of mine.") from exc
    return Click(person_of(body), context.channel, context.card_ts or "", context.value)


def _errors(invalid: DraftInvalid) -> dict[str, str]:
    errors: dict[str, str] = {}
    for issue in invalid.issues:
        block = BLOCKS.get(issue.field, BLOCKS["text"])
        errors[block] = f"{errors[block]} {issue.message}" if block in errors else issue.message
    return errors
