"""The shared-inbox controls of a mention card (Assign to…, Unassign, Note, Tags, the bulk
overflow), their modals, and the reply form's saved-replies menu: parse, call the inbox
service, say what happened."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.core.errors import ActionRefused
from bot.mentions.inbox import InboxService
from bot.services import Services
from bot.slack.cards.dismiss_modal import (
    REASON_BLOCK,
    dismiss_form_errors,
    parse_dismiss_values,
)
from bot.slack.cards.draft_modals import DraftContext
from bot.slack.cards.inbox_controls import BulkChoice, InboxAction
from bot.slack.cards.inbox_modals import (
    BULK_DISMISS_CALLBACK,
    CHOSEN_BLOCK,
    NOTE_CALLBACK,
    NOTE_TEXT_BLOCK,
    RESOLVE_SELECTED_CALLBACK,
    SAVED_REPLY_ACTION,
    InboxContext,
    build_bulk_dismiss_modal,
    build_note_modal,
    build_resolve_selected_modal,
    chosen_ids,
    note_text,
)
from bot.slack.cards.mention_card import segment_label
from bot.slack.cards.saved_reply_fill import refilled_view
from bot.slack.clicks import Click
from handlers.acks import Decision, Listen
from handlers.clicks import click_from, person_of
from handlers.errors import tell


def register(listen: Listen, services: Services) -> None:
    listeners = InboxListeners(services.inbox)
    listen.action(InboxAction.ASSIGN)(listeners.assign)
    listen.action(InboxAction.UNASSIGN)(listeners.unassign)
    listen.action(InboxAction.TAGS)(listeners.tags)
    listen.action(InboxAction.NOTE)(listeners.open_note)
    listen.view(NOTE_CALLBACK)(listeners.submit_note)
    listen.action(InboxAction.BULK)(listeners.open_bulk)
    listen.form(BULK_DISMISS_CALLBACK, listeners.bulk_dismiss_problems)(
        listeners.submit_bulk_dismiss
    )
    listen.form(RESOLVE_SELECTED_CALLBACK, listeners.resolve_selected_problems)(
        listeners.submit_resolve_selected
    )
    listen.action(SAVED_REPLY_ACTION)(listeners.pick_saved_reply)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    return dict((body.get("actions") or [{}])[0])


def _click_from_view(body: dict[str, Any], context: InboxContext) -> Click:
    return Click(person_of(body), context.channel, context.message_ts, value=context.mention_id)


def _context(view: dict[str, Any]) -> InboxContext | None:
    try:
        return InboxContext.load(view.get("private_metadata", ""))
    except (KeyError, ValueError, TypeError):
        return None


class InboxListeners:
    """Bolt listeners as plain methods, so a test can call them too."""

    def __init__(self, inbox: InboxService) -> None:
        self.inbox = inbox

    def assign(self, body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        chosen = str(_action(body).get("selected_user") or "")
        note = self.inbox.assign(click, chosen) if chosen else self.inbox.unassign(click)
        tell(client, body, note)

    def unassign(self, body: dict[str, Any], client: WebClient) -> None:
        tell(client, body, self.inbox.unassign(click_from(body)))

    def tags(self, body: dict[str, Any], client: WebClient) -> None:
        chosen = [str(o.get("value")) for o in _action(body).get("selected_options") or []]
        self.inbox.set_tags(click_from(body), chosen)

    def open_note(self, body: dict[str, Any], client: WebClient) -> None:
        context, mention = self.inbox.note_form(click_from(body))
        client.views_open(
            trigger_id=body["trigger_id"], view=build_note_modal(context=context, mention=mention)
        )

    def submit_note(
        self, ack: Decision, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        context = _context(view)
        if context is None:
            ack(response_action="errors", errors={NOTE_TEXT_BLOCK: "This form is not one of mine."})
            return
        try:
            self.inbox.add_note(_click_from_view(body, context), note_text(view["state"]["values"]))
        except ActionRefused as refused:  # the form stays open with what was typed
            ack(response_action="errors", errors={NOTE_TEXT_BLOCK: str(refused)})
            return
        ack()

    def open_bulk(self, body: dict[str, Any], client: WebClient) -> None:
        click = click_from(body)
        choice = (_action(body).get("selected_option") or {}).get("value")
        if choice == BulkChoice.DISMISS_AUTHOR:
            context, mention = self.inbox.dismiss_author_form(click)
            view = build_bulk_dismiss_modal(
                context=context,
                author_handle=mention.author_handle,
                segment_title=segment_label(mention.segment),
            )
        elif choice == BulkChoice.RESOLVE_SELECTED:
            context, origin, mentions, more = self.inbox.resolve_selected_form(click)
            view = build_resolve_selected_modal(
                context=context,
                mentions=mentions,
                segment_title=segment_label(origin.segment),
                more=more,
            )
        else:
            raise ActionRefused("I don't know that menu item.")
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @staticmethod
    def bulk_dismiss_problems(view: dict[str, Any]) -> dict[str, str]:
        if _context(view) is None:
            return {REASON_BLOCK: "This form is not one of mine."}
        return dismiss_form_errors(*parse_dismiss_values(view["state"]["values"]))

    def submit_bulk_dismiss(
        self, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        """Many mentions may follow: the form closes first, the outcome comes as a message."""
        reason, note = parse_dismiss_values(view["state"]["values"])
        context = _context(view)
        assert context is not None  # bulk_dismiss_problems said so before this ran
        outcome = self.inbox.dismiss_author(
            _click_from_view(body, context), context, reason=reason, note=note
        )
        tell(client, body, outcome.summary())

    @staticmethod
    def resolve_selected_problems(view: dict[str, Any]) -> dict[str, str]:
        context = _context(view)
        if context is None or not chosen_ids(view["state"]["values"]):
            why = "Pick at least one mention." if context else "This form is not one of mine."
            return {CHOSEN_BLOCK: why}
        return {}

    def submit_resolve_selected(
        self, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        context = _context(view)
        assert context is not None  # resolve_selected_problems said so before this ran
        chosen = chosen_ids(view["state"]["values"])
        outcome = self.inbox.resolve_selected(_click_from_view(body, context), chosen)
        tell(client, body, outcome.summary())

    def pick_saved_reply(self, body: dict[str, Any], client: WebClient) -> None:
        """A saved reply picked in the reply form: redraw the form with its text filled in."""
        view = body.get("view") or {}
        try:
            context = DraftContext.load(view.get("private_metadata", ""))
        except (KeyError, ValueError, TypeError):
            raise ActionRefused("This form is not one of mine.") from None
        name = str((_action(body).get("selected_option") or {}).get("value") or "")
        text = self.inbox.saved_reply_text(context.in_reply_to, name)
        client.views_update(
            view_id=view["id"], hash=view.get("hash"), view=refilled_view(view, text)
        )
