"""Block Kit for the alert about a tweet a brand account posted outside brandbot, and the form
that records why it was expected. The alert is redrawn in place as people act."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)

from bot.core.models import OutsidePost, OutsidePostState
from bot.slack.cards.forms import form, metadata_of, text_in
from bot.slack.cards.mention_card import escape, quoted, slack_date

EXPECTED_CALLBACK = "outside_post_expected_modal"
REASON_BLOCK, REASON_ACTION = "reason", "reason_text"
MAX_REASON = 500
S = OutsidePostState


class OutsidePostAction(StrEnum):
    EXPECTED = "outside_post_expected"
    DELETE = "outside_post_delete"


@dataclass(frozen=True)
class ExpectedContext:
    """Where the Expected click came from; checked against the database again on submit."""

    tweet_id: str
    channel: str
    message_ts: str

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def load(cls, raw: str) -> ExpectedContext:
        data = metadata_of(raw)
        return cls(*(text_in(data, k) for k in ("tweet_id", "channel", "message_ts")))


def tweet_url(post: OutsidePost) -> str:
    return f"https://x.com/{post.account}/status/{post.tweet_id}"


def _what(post: OutsidePost) -> str:
    return "a reply" if post.in_reply_to else "a tweet"


def fallback_text(post: OutsidePost) -> str:
    said = f"@{post.account} posted {_what(post)} that nobody approved in brandbot: {post.text}"
    return escape(said)[:3000]


def build_outside_post_alert(
    post: OutsidePost, *, recognised_as: int | None = None
) -> list[dict[str, Any]]:
    """The alert; `recognised_as` is the draft whose post it turned out to be, if one does."""
    what = _what(post)
    where = [slack_date(post.created_at)]
    if post.source:
        where.append(f"via *{escape(post.source)}*")
    where.append(f"<{tweet_url(post)}|Open on X>")
    if post.in_reply_to:
        where.append(f"<https://x.com/i/status/{post.in_reply_to}|the tweet it answers>")
    blocks: list[Block] = [
        SectionBlock(
            block_id=f"outside_post:{post.tweet_id}",
            text=MarkdownTextObject(
                text=(
                    f":rotating_light: *@{post.account} posted {what} that nobody approved in "
                    f"brandbot*\n{quoted(post.text)}"
                )[:3000]
            ),
        ),
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(where)[:3000])]),
    ]
    if recognised_as is not None:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f":white_check_mark: *Recognised since*: this is brandbot's post of "
                    f"draft #{recognised_as}, approved there — nothing to do here."
                )
            )
        )
        return [block.to_dict() for block in blocks]
    if post.resembles_draft is not None:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"It reads like draft #{post.resembles_draft}, whose post brandbot "
                        "could not confirm: if it is that post, it was approved — check that "
                        "draft's card."
                    )
                ]
            )
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=_status(post)[:3000])))
    buttons = _buttons(post)
    if buttons:
        blocks.append(
            ActionsBlock(block_id=f"outside_post_actions:{post.tweet_id}", elements=buttons)
        )
    return [block.to_dict() for block in blocks]


def _status(post: OutsidePost) -> str:
    match post.state:
        case S.ALERTED:
            return (
                "Someone with the account's password, a scheduler or an intruder posted it. "
                "An admin can mark it *Expected* (saying why); *Delete from X* needs two people."
            )
        case S.EXPECTED:
            reason = escape(post.expected_reason or "")
            return f":white_check_mark: *Expected* by <@{post.expected_by}>: “{reason}”"
        case S.DELETE_REQUESTED:
            return (
                f":hourglass_flowing_sand: Deletion requested by <@{post.delete_requested_by}> "
                "— waiting for a second person to confirm *Delete from X*."
            )
        case S.DELETING:
            return f":hourglass: <@{post.deleted_by}> is deleting it from X…"
        case S.DELETED:
            when = slack_date(post.deleted_at) if post.deleted_at else ""
            return (
                f":wastebasket: *Deleted from X* by <@{post.deleted_by}> {when} "
                f"(asked by <@{post.delete_requested_by}>)"
            )
        case S.GONE:
            return (
                f":wastebasket: *Gone from X*: it was already deleted there when "
                f"<@{post.deleted_by}> confirmed the take-down."
            )
    return f"*{escape(str(post.state))}*"


def _buttons(post: OutsidePost) -> list[Any]:
    value = post.tweet_id
    buttons: list[Any] = []
    if post.state in (S.ALERTED, S.DELETE_REQUESTED):
        buttons.append(
            ButtonElement(text="Expected", action_id=OutsidePostAction.EXPECTED, value=value)
        )
    if post.state in (S.ALERTED, S.EXPECTED, S.DELETE_REQUESTED):
        confirming = post.state == S.DELETE_REQUESTED
        buttons.append(
            ButtonElement(
                text="Confirm delete from X" if confirming else "Delete from X",
                action_id=OutsidePostAction.DELETE,
                value=value,
                style="danger",
                confirm=ConfirmObject(
                    title="Delete from X?",
                    text=(
                        "This deletes the tweet from X for good."
                        if confirming
                        else "You ask for the take-down; a second person confirms it."
                    ),
                    confirm="Delete" if confirming else "Ask",
                    deny="Cancel",
                ),
            )
        )
    return buttons


def build_expected_modal(*, context: ExpectedContext, post: OutsidePost) -> dict[str, Any]:
    return form(
        callback_id=EXPECTED_CALLBACK,
        title="Expected tweet",
        submit="Record",
        metadata=context.dump(),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=f"*@{post.account}*:\n{quoted(post.text, 2000)}")
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Why is it fine? (kept in the audit log)",
                element=PlainTextInputElement(
                    action_id=REASON_ACTION,
                    multiline=True,
                    max_length=MAX_REASON,
                    placeholder="e.g. our agency's scheduled post for the launch",
                ),
            ),
        ],
    )


def parse_reason(values: dict[str, Any]) -> str:
    return str(values.get(REASON_BLOCK, {}).get(REASON_ACTION, {}).get("value") or "").strip()
