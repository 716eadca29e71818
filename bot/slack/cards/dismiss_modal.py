"""The modal that asks why a mention is dismissed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
)

from bot.slack.cards.forms import form, metadata_of, text_in
from bot.slack.cards.mention_card import escape
from policies.dismissal import REASONS, dismissal_problems

CALLBACK_ID = "mention_dismiss_modal"
REASON_BLOCK, REASON_ACTION = "reason", "reason_choice"
NOTE_BLOCK, NOTE_ACTION = "note", "note_text"


@dataclass(frozen=True)
class DismissContext:
    """Where the click came from; checked against the database again on submit."""

    mention_id: str
    channel: str
    message_ts: str

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: str) -> DismissContext:
        data = metadata_of(raw)
        return cls(*(text_in(data, k) for k in ("mention_id", "channel", "message_ts")))


def build_dismiss_modal(
    *, context: DismissContext, author_handle: str, text: str
) -> dict[str, Any]:
    return form(
        callback_id=CALLBACK_ID,
        title="Dismiss mention",
        submit="Dismiss",
        metadata=context.dump(),
        blocks=[
            SectionBlock(text=f"*@{author_handle}*: {escape(text[:2500])}"),  # mrkdwn: escaped once
            *reason_inputs(),
        ],
    )


def dismiss_form_errors(reason: str, note: str) -> dict[str, str]:
    """Inline errors for the modal (`response_action: errors`), keyed by block id."""
    blocks = {"reason": REASON_BLOCK, "note": NOTE_BLOCK}
    return {blocks[field]: message for field, message in dismissal_problems(reason, note).items()}


def parse_dismiss_values(values: dict[str, Any]) -> tuple[str, str]:
    """(reason key, note) from a view submission's state values."""
    choice = values.get(REASON_BLOCK, {}).get(REASON_ACTION, {}).get("selected_option") or {}
    note = values.get(NOTE_BLOCK, {}).get(NOTE_ACTION, {}).get("value") or ""
    return str(choice.get("value", "")), str(note).strip()


def reason_inputs() -> list[InputBlock]:
    """Why no response is needed, and a note: one dismissal or all of an author's alike."""
    return [
        InputBlock(
            block_id=REASON_BLOCK,
            label="Why is no response needed?",
            element=RadioButtonsElement(
                action_id=REASON_ACTION,
                options=[Option(value=key, label=label) for key, label in REASONS.items()],
            ),
        ),
        InputBlock(
            block_id=NOTE_BLOCK,
            label="Note",
            optional=True,
            element=PlainTextInputElement(action_id=NOTE_ACTION, max_length=500),
        ),
    ]
