"""Modals of the shared inbox (a note, the bulk actions) and the reply form's saved-replies menu."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)

from bot.core.models import Mention
from bot.slack.cards.dismiss_modal import reason_inputs
from bot.slack.cards.forms import form, metadata_of, text_in
from bot.slack.cards.mention_card import escape

NOTE_CALLBACK = "inbox_note_modal"
BULK_DISMISS_CALLBACK = "inbox_bulk_dismiss_modal"
RESOLVE_SELECTED_CALLBACK = "inbox_resolve_selected_modal"
NOTE_TEXT_BLOCK, NOTE_TEXT_ACTION = "note", "note_text"
CHOSEN_BLOCK, CHOSEN_ACTION = "mentions", "chosen"
SAVED_REPLY_BLOCK, SAVED_REPLY_ACTION = "saved_reply", "saved_reply_pick"
MAX_NOTE = 3000
MAX_LISTED = 100  # a multi-select offers at most 100 options; the metadata holds 3000 characters


@dataclass(frozen=True)
class InboxContext:
    """The card a modal was opened from (and, for a bulk dismiss, the mentions it counted);
    checked against the database again on submit."""

    mention_id: str
    channel: str
    message_ts: str
    mention_ids: list[str] = field(default_factory=list)

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: str) -> InboxContext:
        data = metadata_of(raw)
        ids = data.get("mention_ids", [])
        if not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise ValueError("private_metadata mention_ids is not a list of strings")
        mention, channel, ts = (text_in(data, k) for k in ("mention_id", "channel", "message_ts"))
        return cls(mention, channel, ts, ids)


def _quoted(mention: Mention) -> SectionBlock:
    text = f"*@{mention.author_handle}*: {escape(mention.text)}"  # the customer's text, shown as is
    return SectionBlock(text=MarkdownTextObject(text=text[:2900]))


def build_note_modal(*, context: InboxContext, mention: Mention) -> dict[str, Any]:
    return form(
        callback_id=NOTE_CALLBACK,
        title="Internal note",
        submit="Add note",
        metadata=context.dump(),
        blocks=[
            _quoted(mention),
            InputBlock(
                block_id=NOTE_TEXT_BLOCK,
                label="Note (posted in the card's thread; never sent to X)",
                element=PlainTextInputElement(
                    action_id=NOTE_TEXT_ACTION, multiline=True, max_length=MAX_NOTE
                ),
            ),
        ],
    )


def build_bulk_dismiss_modal(
    *, context: InboxContext, author_handle: str, segment_title: str
) -> dict[str, Any]:
    count = len(context.mention_ids)
    what = "mention" if count == 1 else "mentions"
    summary = (
        f"Dismiss *{count}* open or claimed {what} from *@{author_handle}* in {segment_title}? "
        "Each is dismissed with this reason, audited and its card updated. A mention someone "
        "else has claimed is skipped (unless you are an admin)."
    )
    return form(
        callback_id=BULK_DISMISS_CALLBACK,
        title="Dismiss all from author",
        submit=f"Dismiss {count}",
        metadata=context.dump(),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=summary)),
            *reason_inputs(),
        ],
    )


def mention_option(mention: Mention) -> Option:
    """One mention in a list: author, state and the start of its text (Slack's 75 characters)."""
    text = f"@{mention.author_handle} ({mention.state}): {' '.join(mention.text.split())}"
    return Option(value=mention.id, text=text if len(text) <= 75 else text[:74] + "…")


def build_resolve_selected_modal(
    *, context: InboxContext, mentions: Sequence[Mention], segment_title: str, more: int
) -> dict[str, Any]:
    options = [mention_option(m) for m in mentions]
    preselected = [o for o in options if o.value == context.mention_id]
    note = f"The {len(options)} newest open, claimed or replied mentions in {segment_title}."
    if more:
        note += f" {more} older ones are not listed: resolve them from their cards."
    return form(
        callback_id=RESOLVE_SELECTED_CALLBACK,
        title="Resolve selected",
        submit="Resolve",
        metadata=context.dump(),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=note)),
            InputBlock(
                block_id=CHOSEN_BLOCK,
                label="Mentions to resolve",
                element=StaticMultiSelectElement(
                    action_id=CHOSEN_ACTION,
                    placeholder="Pick mentions",
                    options=options,
                    initial_options=preselected or None,
                ),
            ),
        ],
    )


def saved_replies_block(names: Sequence[str]) -> list[Block]:
    """The reply form's menu of its segment's saved replies (none: no menu). Picking one sends
    block_actions at once; the form is then redrawn with the text filled in."""
    if not names:
        return []
    return [
        ActionsBlock(
            block_id=SAVED_REPLY_BLOCK,
            elements=[
                StaticSelectElement(
                    action_id=SAVED_REPLY_ACTION,
                    placeholder="Use a saved reply…",
                    options=[Option(value=n, text=n) for n in names[:100]],
                )
            ],
        )
    ]


def note_text(values: dict[str, Any]) -> str:
    return str(values.get(NOTE_TEXT_BLOCK, {}).get(NOTE_TEXT_ACTION, {}).get("value") or "").strip()


def chosen_ids(values: dict[str, Any]) -> list[str]:
    element = values.get(CHOSEN_BLOCK, {}).get(CHOSEN_ACTION, {})
    return [str(o.get("value")) for o in element.get("selected_options") or []]
