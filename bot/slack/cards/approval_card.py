"""Block Kit for the approval card: a draft exactly as it will appear, and who approved it."""

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
from bot.slack.cards.mention_card import escape, segment_label, slack_date
from bot.slack.cards.quoted_context import QuotedContext, quoted_context_blocks
from policies import draft_reasons as reasons
from policies.approvals import ApprovalRule
from policies.text import MAX_WEIGHTED_LENGTH, weighted_length


class DraftAction(StrEnum):
    APPROVE = "draft_approve"
    REJECT = "draft_reject"
    EDIT = "draft_edit"
    RETRY = "draft_retry"
    RELEASE = "draft_release"
    DELETE = "draft_delete"
    MARK_POSTED = "draft_mark_posted"  # opens the modal: paste the tweet's URL, checked on X
    CANCEL = "draft_cancel"
    CHECK_X = "draft_check_x"  # a Posting… draft: search the account's tweets now


def approve_option_action(number: int) -> str:
    """A distinct action id per candidate text ("draft_approve_2"): Slack wants them unique."""
    return f"{DraftAction.APPROVE}_{number}"


@dataclass(frozen=True)
class ApprovalView:
    draft: Draft
    approvers: list[str]  # Slack user ids of the people who approved the current text
    required: int
    freeze: Freeze | None
    # (text, its hash, ids of who approved it) for each candidate of a reply with alternatives
    candidates: list[tuple[str, str, list[str]]] = field(default_factory=list)
    rules: list[ApprovalRule] = field(default_factory=list)  # more than one: every one must be met
    context: QuotedContext | None = None  # a reply's or quote's tweet and conversation, quoted


def fallback_text(draft: Draft) -> str:
    return escape(f"Draft for @{draft.account} by {draft.author_name}: {draft.text}")[:3000]


def build_approval_card(view: ApprovalView) -> list[dict[str, Any]]:
    draft = view.draft
    quoted = "\n".join(f">{line}" for line in escape(draft.text).splitlines() or [""])
    reply = _answers(draft)
    length = weighted_length(draft.text)
    blocks: list[Block] = []
    if view.freeze is not None and draft.state in (
        DraftState.PENDING,
        DraftState.APPROVED,
        DraftState.HELD,
    ):
        until = f" until {slack_date(view.freeze.until)}" if view.freeze.until else ""
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f":octagonal_sign: *Publishing is frozen* by <@{view.freeze.frozen_by}>{until}: {escape(view.freeze.reason)}"
                )
            )
        )
    blocks += quoted_context_blocks(view.context)  # what it answers, before the answer
    if len(view.candidates) > 1 and draft.state == DraftState.PENDING:
        return [b.to_dict() for b in blocks + _candidate_blocks(view, reply)]
    blocks += [
        SectionBlock(
            block_id=f"draft:{draft.id}",
            text=MarkdownTextObject(
                text=f"*Draft for @{draft.account}* by <@{draft.author_id}> · {segment_label(draft.segment)}{reply}\n{quoted}"[
                    :3000
                ]
            ),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{length}/{MAX_WEIGHTED_LENGTH} characters · {_when(draft)}"
                )
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text=_status(view)[:3000])),
    ]
    actions, why_none = next_steps(draft)
    if actions:
        blocks.append(ActionsBlock(block_id=f"draft_actions:{draft.id}", elements=actions))
    else:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=why_none)]))
    return [block.to_dict() for block in blocks]


def _answers(draft: Draft) -> str:
    """What the post answers on X: a reply to a tweet, or a quote of one (X's reply rule)."""
    if draft.in_reply_to:
        return f" · reply to <https://x.com/i/status/{draft.in_reply_to}|this tweet>"
    if draft.quote_of:
        return f" · Quote of <https://x.com/i/status/{draft.quote_of}|this tweet>"
    return ""


def _when(draft: Draft) -> str:
    """When it goes (or went) out, true for the state it is in now."""
    scheduled = slack_date(draft.schedule_at) if draft.schedule_at else None
    match draft.state:
        case DraftState.PENDING:
            return (
                f"scheduled for {scheduled} if approved by then"
                if scheduled
                else "posts once approved"
            )
        case DraftState.APPROVED:
            return (
                f"goes out at {scheduled}" if scheduled else "goes out as soon as the queue allows"
            )
        case DraftState.HELD:
            return "held: not posted"
        case DraftState.POSTING:
            since = f" since {slack_date(draft.attempt_at)}" if draft.attempt_at else ""
            return f"handed to X{since}, not confirmed yet"
        case DraftState.POSTED | DraftState.DELETING:
            return f"posted {slack_date(draft.posted_at)}" if draft.posted_at else "posted"
        case DraftState.DELETED:
            return "was posted, then deleted from X"
        case DraftState.NEEDS_CHECK:
            return "not confirmed on X"
        case DraftState.FAILED:
            return "not posted"
    return "never posted"  # rejected, expired, cancelled


def _candidate_blocks(view: ApprovalView, reply: str) -> list[Block]:
    """A reply with alternatives: each text on its own, approved separately; the first to get
    enough approvals is posted and the others are discarded."""
    draft = view.draft
    header = f"*Reply for @{draft.account}* by <@{draft.author_id}> · {segment_label(draft.segment)}{reply}\nPick one: approving a text discards the others. Needs {_needs(view)} from approvers other than the author."
    blocks: list[Block] = [
        SectionBlock(block_id=f"draft:{draft.id}", text=MarkdownTextObject(text=header[:3000]))
    ]
    for number, (text, digest, approvers) in enumerate(view.candidates, start=1):
        quoted = "\n".join(f">{line}" for line in escape(text).splitlines() or [""])
        so_far = _people(approvers)
        blocks += [
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*Option {number}* ({weighted_length(text)}/{MAX_WEIGHTED_LENGTH})\n{quoted}"[
                        :3000
                    ]
                )
            ),
            ContextBlock(elements=[MarkdownTextObject(text=f"Approved by {so_far}")]),
            ActionsBlock(
                block_id=f"draft_option:{draft.id}:{number}",
                elements=[
                    ButtonElement(
                        text=f"Approve option {number}",
                        action_id=approve_option_action(number),
                        value=f"{draft.id}:{digest}",
                        style="primary",
                    )
                ],
            ),
        ]
    value = f"{draft.id}:{draft.text_hash}"
    blocks.append(
        ActionsBlock(
            block_id=f"draft_actions:{draft.id}",
            elements=[
                ButtonElement(
                    text="Reject", action_id=DraftAction.REJECT, value=value, style="danger"
                ),
                ButtonElement(text="Edit", action_id=DraftAction.EDIT, value=value),
            ],
        )
    )
    return blocks


def _status(view: ApprovalView) -> str:
    draft = view.draft
    approved_by = _people(view.approvers)
    match draft.state:
        case DraftState.PENDING:
            return f":hourglass_flowing_sand: *Needs {_needs(view)}* from approvers other than the author — {len(view.approvers)} so far: {approved_by}"
        case DraftState.APPROVED:
            held = (
                f"\n:pause_button: Held: {escape(draft.held_reason)}" if draft.held_reason else ""
            )
            return f":white_check_mark: *Approved* by {approved_by} — in the publish queue{held}"
        case DraftState.HELD:
            return f":pause_button: *Held* — {escape(draft.held_reason or '')} (approved by {approved_by})"
        case DraftState.POSTING:
            error = f" (retrying: {escape(draft.last_error)})" if draft.last_error else ""
            return f":outbox_tray: *Posting…*{error}"
        case DraftState.POSTED:
            url = f"https://x.com/{draft.account}/status/{draft.tweet_id}"
            requested = (
                f"\n:wastebasket: <@{draft.delete_requested_by}> asks to delete it from X: another approver or an admin must confirm."
                if draft.delete_requested_by
                else ""
            )
            return f":bird: *Posted* by @{draft.account} — <{url}|view on X> · approved by {approved_by}{requested}"
        case DraftState.DELETING:
            return f":wastebasket: *Deleting from X…* confirmed by <@{draft.deleted_by}>"
        case DraftState.DELETED:
            return f":wastebasket: *Deleted from X* by <@{draft.deleted_by}> (asked by <@{draft.delete_requested_by}>)"
        case DraftState.EXPIRED:
            return ":alarm_clock: *Expired*: it was not approved by its scheduled time, so it was not posted."
        case DraftState.REJECTED:
            return f":no_entry_sign: *Rejected* by <@{draft.rejected_by}>: {escape(draft.reject_reason or '')}"
        case DraftState.FAILED:
            return f":warning: *X refused it*: {escape(draft.last_error or '')}"
        case DraftState.NEEDS_CHECK:
            return f":rotating_light: *Needs a person*: {escape(draft.last_error or '')}\nIf it is on @{draft.account}, *Mark as posted* with its link; if it is not, *Retry*; if it should not go out, *Cancel*."
        case DraftState.CANCELLED:
            return ":heavy_multiplication_x: *Cancelled*: it was not posted."
    return f"*{draft.state}*"


def _people(user_ids: list[str]) -> str:
    """Approvers as Slack mentions, so each shows as the person Slack knows (and links to them)."""
    return ", ".join(f"<@{u}>" for u in user_ids) or "nobody yet"


def _needs(view: ApprovalView) -> str:
    """`2 approval(s)`, or each rule when several apply (a guarded account, a moved mention)."""
    if len(view.rules) <= 1:
        return f"{view.required} approval(s)"
    return " and ".join(
        f"{rule.required} approval(s) from {segment_label(rule.segment)} ({rule.reason})"
        for rule in view.rules
    )


# Why a card in a final state has no button: it says so rather than leave a dead end.
_FINAL = {
    DraftState.DELETED: "Nothing more to do: the tweet is off X; this card and the audit log keep the record.",
    DraftState.REJECTED: "Nothing more to do here: the author can draft it again with `/tweet`.",
    DraftState.EXPIRED: "Nothing more to do here: draft it again with `/tweet` if it should still go out.",
    DraftState.CANCELLED: "Nothing more to do here: draft it again with `/tweet` if it should still go out.",
}


def next_steps(draft: Draft) -> tuple[list[ButtonElement], str]:
    """The one place that decides what a person can do next with a draft in each state: the
    buttons, or (none) the line saying why nothing is needed."""
    value = f"{draft.id}:{draft.text_hash}"

    def button(text: str, action: DraftAction, **kwargs: Any) -> ButtonElement:
        return ButtonElement(text=text, action_id=action, value=value, **kwargs)

    reject = button("Reject", DraftAction.REJECT, style="danger")
    cancel = button("Cancel", DraftAction.CANCEL)
    match draft.state:
        case DraftState.PENDING:
            return [
                button("Approve", DraftAction.APPROVE, style="primary"),
                reject,
                button("Edit", DraftAction.EDIT),
            ], ""
        case DraftState.APPROVED:
            return [reject], ""
        case DraftState.POSTING:  # the publisher searches before any new attempt: never posts
            return [button("Check on X", DraftAction.CHECK_X)], ""
        case DraftState.FAILED if reasons.refused_by_reply_rule(
            state=draft.state, last_error=draft.last_error
        ):
            return [cancel], ""  # retrying can't help: X refuses replies to this tweet
        case DraftState.FAILED:
            return [button("Retry", DraftAction.RETRY), reject], ""
        case DraftState.NEEDS_CHECK:  # a person looks at the account: on X, not on X, drop it
            retry = button(
                "Retry",
                DraftAction.RETRY,
                confirm=ConfirmObject(
                    title="Not on X?",
                    text=f"Check @{draft.account}'s recent posts first: if it is there, use Mark as posted. Retry posts it again.",
                    confirm="It's not on X: post it",
                    deny="Go back",
                ),
            )
            return [
                button("Mark as posted", DraftAction.MARK_POSTED, style="primary"),
                retry,
                cancel,
            ], ""
        case DraftState.HELD:
            label = (
                "Confirm it is still right"
                if reasons.held_as_stale(state=draft.state, held_reason=draft.held_reason)
                else "Release"
            )
            return [button(label, DraftAction.RELEASE, style="primary"), reject], ""
        case DraftState.POSTED | DraftState.DELETING:
            label = "Confirm delete from X" if draft.delete_requested_by else "Delete from X"
            confirm = ConfirmObject(
                title="Delete from X?",
                text="The tweet is removed from X. This cannot be undone.",
                confirm="Delete",
                deny="Keep it",
                style="danger",
            )
            return [button(label, DraftAction.DELETE, style="danger", confirm=confirm)], ""
    return [], _FINAL.get(DraftState(draft.state), "Nothing more to do here.")
