"""Modals for drafting (/tweet, Reply), editing and rejecting a draft."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
    UrlInputElement,
)

from bot.slack.cards.forms import form, metadata_of, optional_text_in, text_in
from bot.slack.cards.inbox_modals import saved_replies_block
from bot.slack.cards.mention_card import segment_label
from bot.slack.cards.quoted_context import QuotedContext, quoted_context_blocks

CREATE_CALLBACK = "draft_create_modal"
EDIT_CALLBACK = "draft_edit_modal"
REJECT_CALLBACK = "draft_reject_modal"

# block id per input; lint issues name a field, and errors are shown on its block
BLOCKS = {
    "account": "account",
    "segment": "segment",
    "text": "text",
    "alternative_2": "alternative_2",
    "alternative_3": "alternative_3",
    "link": "link",
    "schedule": "schedule",
}
ACTION = "value"


@dataclass(frozen=True)
class DraftContext:
    """What the modal was opened for; the server checks it again on submit."""

    channel: str
    in_reply_to: str | None = None
    card_ts: str | None = None  # for edit and reject: the approval card
    value: str | None = None
    quote_of: str | None = (
        None  # a quote post of a mention (X lets us quote what we can't reply to)
    )

    @property
    def answers(self) -> str | None:
        """The mention this draft answers, by reply or by quote."""
        return self.in_reply_to or self.quote_of

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: str) -> DraftContext:
        data = metadata_of(raw)
        return cls(
            channel=text_in(data, "channel"),
            in_reply_to=optional_text_in(data, "in_reply_to"),
            card_ts=optional_text_in(data, "card_ts"),
            value=optional_text_in(data, "value"),
            quote_of=optional_text_in(data, "quote_of"),
        )


def _options(values: list[str], label: Any = str) -> list[Option]:
    return [Option(value=v, text=label(v)) for v in values]


def build_tweet_modal(
    *,
    context: DraftContext,
    accounts: list[str],
    segments: list[str],
    segment: str,
    text: str = "",
    quoted: QuotedContext | None = None,
    saved_replies: Sequence[str] = (),
) -> dict[str, Any]:
    """/tweet's form, or a mention's reply (quote) form: that one quotes what it answers and has
    no Segment or Schedule field — it belongs to its mention's segment and goes out when approved."""
    account_options = _options(accounts, lambda h: f"@{h}")
    segment_options = _options(segments, segment_label)
    answering = context.answers is not None
    title = "Quote on X" if context.quote_of else "Reply on X" if answering else "Draft a tweet"
    return form(
        callback_id=CREATE_CALLBACK,
        title=title,
        submit="Send for approval",
        metadata=context.dump(),
        blocks=[
            *quoted_context_blocks(quoted),
            InputBlock(
                block_id=BLOCKS["account"],
                label="Post as",
                element=StaticSelectElement(
                    action_id=ACTION, options=account_options, initial_option=account_options[0]
                ),
            ),
            # A reply belongs to its mention's segment (the server decides it from the mention);
            # offering a choice would only invite skipping that segment's approvals.
            ContextBlock(
                block_id=BLOCKS["segment"],
                elements=[
                    MarkdownTextObject(
                        text=f"In *{segment_label(segment)}*, like the tweet it answers: its approvers decide. It goes out once approved."
                    )
                ],
            )
            if answering
            else InputBlock(
                block_id=BLOCKS["segment"],
                label="Segment (its approvers decide)",
                element=StaticSelectElement(
                    action_id=ACTION,
                    options=segment_options,
                    initial_option=next(o for o in segment_options if o.value == segment),
                ),
            ),
            *(saved_replies_block(saved_replies) if context.in_reply_to else []),
            InputBlock(
                block_id=BLOCKS["text"],
                label="Text",
                element=PlainTextInputElement(
                    action_id=ACTION, multiline=True, initial_value=text or None, max_length=1000
                ),
                hint="280 characters as X counts them: links count 23, emoji and CJK count 2.",
            ),
            *(_alternatives() if context.in_reply_to else []),
            InputBlock(
                block_id=BLOCKS["link"],
                label="Link",
                optional=True,
                element=UrlInputElement(action_id=ACTION),
            ),
            *([] if answering else [_schedule()]),
        ],
    )


def _schedule() -> InputBlock:
    return InputBlock(
        block_id=BLOCKS["schedule"],
        label="Schedule (your time zone)",
        optional=True,
        element=DateTimePickerElement(action_id=ACTION),
        hint="Leave empty to post as soon as it is approved. Unapproved at its time, it expires.",
    )


def _alternatives() -> list[InputBlock]:
    """Replies may offer up to two more texts; the approvers pick the one that is posted."""
    return [
        InputBlock(
            block_id=BLOCKS[f"alternative_{number}"],
            label=f"Alternative {number} (optional)",
            optional=True,
            element=PlainTextInputElement(action_id=ACTION, multiline=True, max_length=1000),
            hint="The approvers choose one text; the others are discarded."
            if number == 2
            else None,
        )
        for number in (2, 3)
    ]


def build_edit_modal(*, context: DraftContext, text: str) -> dict[str, Any]:
    return form(
        callback_id=EDIT_CALLBACK,
        title="Edit draft",
        submit="Save",
        metadata=context.dump(),
        blocks=[
            InputBlock(
                block_id=BLOCKS["text"],
                label="Text (saving resets every approval)",
                element=PlainTextInputElement(
                    action_id=ACTION, multiline=True, initial_value=text, max_length=1000
                ),
            )
        ],
    )


def build_reject_modal(*, context: DraftContext) -> dict[str, Any]:
    return form(
        callback_id=REJECT_CALLBACK,
        title="Reject draft",
        submit="Reject",
        metadata=context.dump(),
        blocks=[
            InputBlock(
                block_id="reason",
                label="Why? The author gets this in a DM.",
                element=PlainTextInputElement(action_id=ACTION, multiline=True, max_length=1000),
            )
        ],
    )


def value_of(values: dict[str, Any], block: str) -> Any:
    """The submitted value of one input, whatever its element type."""
    element = values.get(block, {}).get(ACTION, {})
    if "selected_option" in element:
        return (element["selected_option"] or {}).get("value")
    if "selected_date_time" in element:
        stamp = element["selected_date_time"]
        try:
            return datetime.fromtimestamp(int(stamp), UTC) if stamp else None
        except (OverflowError, OSError, ValueError):  # past year 9999 or before year 1: forged
            # The farthest time there is, so the lint refuses it with the range it allows.
            return (datetime.max if int(stamp) > 0 else datetime.min).replace(tzinfo=UTC)
    return element.get("value")
