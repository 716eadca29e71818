"""Block Kit for the held queue: the one message an unfreeze posts, listing what it held.

Each listed post shows its account, segment, first line and approvers, with Release and Cancel
while it is still held; once someone acts, the buttons go and the line says who did what.
Release all / Cancel all act on the listed posts that are still held. Slack allows 50 blocks a
message, so at most `MAX_LISTED` posts are listed (two blocks each); the rest are released or
rejected on their own approval cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.core.models import Draft, DraftState, Freeze
from bot.slack.cards.mention_card import escape, segment_label

MAX_LISTED = 20  # 2 blocks a post + header, note and bulk actions stays under Slack's 50
CANCEL_REASON = "cancelled after the freeze"
FIRST_LINE_CHARS = 150


class HeldAction(StrEnum):
    RELEASE = "held_release"  # per post: "held_release:<draft id>" (Slack wants unique ids)
    CANCEL = "held_cancel"
    RELEASE_ALL = "held_release_all"
    CANCEL_ALL = "held_cancel_all"


def post_action(action: HeldAction, draft_id: int) -> str:
    return f"{action}:{draft_id}"


@dataclass(frozen=True)
class HeldPost:
    draft: Draft
    approvers: list[str]  # names of the people who approved its current text
    released_by: str | None = None  # Slack user id of whoever released it, if someone did


@dataclass(frozen=True)
class HeldQueueView:
    queue_id: str
    freeze: Freeze | None  # the lifted freeze this queue came from
    lifted_by: str | None
    posts: list[HeldPost] = field(default_factory=list)
    unlisted: int = 0  # held too, but only on their own cards

    @property
    def still_held(self) -> int:
        return sum(1 for p in self.posts if p.draft.state == DraftState.HELD)


def fallback_text(view: HeldQueueView) -> str:
    return (
        f"Held after the freeze: {view.still_held} of {len(view.posts)} listed post(s) still wait "
        "for an approver to release or cancel them."
    )


def build_held_queue(view: HeldQueueView) -> list[dict[str, Any]]:
    total = len(view.posts) + view.unlisted
    why = ""
    if view.freeze is not None:
        why = f" (frozen by <@{view.freeze.frozen_by}>: {escape(view.freeze.reason)})"
    lifted = f" <@{view.lifted_by}> lifted the freeze{why}." if view.lifted_by else ""
    blocks: list[Block] = [
        SectionBlock(
            block_id="held_header",
            text=MarkdownTextObject(
                text=(
                    f":arrow_forward: *Publishing resumed — {total} post(s) held for review.*"
                    f"{lifted}\nThey were approved before or during the freeze and nothing posts "
                    "until an approver of its segment (not its author) releases it. Cancel "
                    "rejects it and tells the author."
                )[:3000]
            ),
        )
    ]
    for post in view.posts:
        blocks += _post_blocks(post)
    if view.unlisted:
        blocks.append(
            ContextBlock(
                block_id="held_more",
                elements=[
                    MarkdownTextObject(
                        text=f"…and {view.unlisted} more — release or reject them on their cards. "
                        "Release all and Cancel all act on the posts listed here."
                    )
                ],
            )
        )
    if view.still_held:
        blocks.append(ActionsBlock(block_id="held_all", elements=_bulk_buttons(view)))
    else:
        blocks.append(
            ContextBlock(
                block_id="held_done",
                elements=[MarkdownTextObject(text="Nothing listed here is still held.")],
            )
        )
    return [block.to_dict() for block in blocks]


def _post_blocks(post: HeldPost) -> list[Block]:
    draft = post.draft
    lines = draft.text.splitlines() or [""]
    first = lines[0] if len(lines[0]) <= FIRST_LINE_CHARS else lines[0][: FIRST_LINE_CHARS - 1]
    more = "…" if first != draft.text else ""
    approved = ", ".join(escape(name) for name in post.approvers) or "nobody"
    text = (
        f"*@{escape(draft.account)}* · {segment_label(draft.segment)} · by <@{draft.author_id}>"
        f" · approved by {approved}\n>{escape(first)}{more}\n{_status(post)}"
    )
    blocks: list[Block] = [
        SectionBlock(block_id=f"held:{draft.id}", text=MarkdownTextObject(text=text[:3000]))
    ]
    if draft.state == DraftState.HELD and draft.id is not None:
        blocks.append(
            ActionsBlock(
                block_id=f"held_actions:{draft.id}",
                elements=[
                    ButtonElement(
                        text="Release",
                        action_id=post_action(HeldAction.RELEASE, draft.id),
                        value=str(draft.id),
                        style="primary",
                    ),
                    ButtonElement(
                        text="Cancel",
                        action_id=post_action(HeldAction.CANCEL, draft.id),
                        value=str(draft.id),
                        style="danger",
                    ),
                ],
            )
        )
    return blocks


def _status(post: HeldPost) -> str:
    draft = post.draft
    if draft.state == DraftState.HELD:
        return ":pause_button: Held"
    if draft.state == DraftState.REJECTED:
        if (draft.reject_reason or "") == CANCEL_REASON:
            return f":no_entry_sign: Cancelled by <@{draft.rejected_by}>"
        return f":no_entry_sign: Rejected by <@{draft.rejected_by}>: {escape(draft.reject_reason or '')}"
    released = f"Released by <@{post.released_by}>" if post.released_by else "Released"
    match draft.state:
        case DraftState.POSTED:
            url = f"https://x.com/{draft.account}/status/{draft.tweet_id}"
            return f":bird: {released} · <{url}|posted>"
        case DraftState.APPROVED | DraftState.POSTING:
            return f":white_check_mark: {released} · in the publish queue"
    return f"{released} · now *{draft.state}* (see its card)"


def _bulk_buttons(view: HeldQueueView) -> list[ButtonElement]:
    held = view.still_held
    return [
        ButtonElement(
            text="Release all",
            action_id=HeldAction.RELEASE_ALL,
            value=view.queue_id,
            style="primary",
            confirm=ConfirmObject(
                title="Release all?",
                text=f"The {held} listed post(s) still held that you may release go to the publish queue.",
                confirm="Release",
                deny="Not yet",
            ),
        ),
        ButtonElement(
            text="Cancel all",
            action_id=HeldAction.CANCEL_ALL,
            value=view.queue_id,
            style="danger",
            confirm=ConfirmObject(
                title="Cancel all?",
                text=f"The {held} listed post(s) still held are rejected and their authors told.",
                confirm="Cancel them",
                deny="Keep them",
                style="danger",
            ),
        ),
    ]
