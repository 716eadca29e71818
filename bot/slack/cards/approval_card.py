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
from policies.approvals import ApprovalRule
from policies.text import MAX_WEIGHTED_LENGTH, weighted_length


class DraftAction(StrEnum):
    APPROVE = "draft_approve"
    REJECT = "draft_reject"
    EDIT = "draft_edit"
    RETRY = "draft_retry"
    RELEASE = "draft_release"
    DELETE = "draft_delete"


def approve_option_action(number: int) -> str:
    """A distinct action id per candidate text ("draft_approve_2"): Slack wants them unique."""
    return f"{DraftAction.APPROVE}_{number}"


@dataclass(frozen=True)
class ApprovalView:
    draft: Draft
    approvers: list[str]  # names of the people who approved the current text
    required: int
    freeze: Freeze | None
    candidates: list[tuple[str, str, list[str]]] = field(default_factory=list)
    rules: list[ApprovalRule] = field(default_factory=list)  # more than one: every one must be met
    context: QuotedContext | None = None  # a reply's or quote's tweet and conversation, quoted
    # (text, its hash, who approved it) for each candidate of a reply with alternatives


def fallback_text(draft: Draft) -> str:
    return escape(f"Draft for @{draft.account} by {draft.author_name}: {draft.text}")[:3000]


def build_approval_card(view: ApprovalView) -> list[dict[str, Any]]:
    draft = view.draft
    quoted = "\n".join(f">{line}" for line in escape(draft.text).splitlines() or [""])
    reply = (
        f" · reply to <https://x.com/i/status/{draft.in_reply_to}|this tweet>"
        if draft.in_reply_to
        else ""
    )
    length = weighted_length(draft.text)
    when = (
        f"scheduled for {slack_date(draft.schedule_at)}"
        if draft.schedule_at
        else "posts once approved"
    )
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
                MarkdownTextObject(text=f"{length}/{MAX_WEIGHTED_LENGTH} characters · {when}")
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text=_status(view)[:3000])),
    ]
    actions = _actions(draft)
    if actions:
        blocks.append(ActionsBlock(block_id=f"draft_actions:{draft.id}", elements=actions))
    return [block.to_dict() for block in blocks]


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
        so_far = ", ".join(approvers) or "nobody yet"
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
    approved_by = ", ".join(view.approvers) or "nobody yet"
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
            return f":rotating_light: *Needs a person*: {escape(draft.last_error or '')}\nIf it is not on X, *Not on X: post it*; if it is (or should not be), *Reject*."
    return f"*{draft.state}*"


def _needs(view: ApprovalView) -> str:
    """`2 approval(s)`, or each rule when several apply (a guarded account, a moved mention)."""
    if len(view.rules) <= 1:
        return f"{view.required} approval(s)"
    return " and ".join(
        f"{rule.required} approval(s) from {segment_label(rule.segment)} ({rule.reason})"
        for rule in view.rules
    )


def _actions(draft: Draft) -> list[ButtonElement]:
    value = f"{draft.id}:{draft.text_hash}"
    reject = ButtonElement(text="Reject", action_id=DraftAction.REJECT, value=value, style="danger")
    match draft.state:
        case DraftState.PENDING:
            return [
                ButtonElement(
                    text="Approve", action_id=DraftAction.APPROVE, value=value, style="primary"
                ),
                reject,
                ButtonElement(text="Edit", action_id=DraftAction.EDIT, value=value),
            ]
        case DraftState.APPROVED:
            return [reject]
        case DraftState.FAILED:
            return [ButtonElement(text="Retry", action_id=DraftAction.RETRY, value=value), reject]
        case DraftState.NEEDS_CHECK:  # a person looked at the account: post it, or drop it
            return [
                ButtonElement(text="Not on X: post it", action_id=DraftAction.RETRY, value=value),
                reject,
            ]
        case DraftState.HELD:
            return [
                ButtonElement(
                    text="Release", action_id=DraftAction.RELEASE, value=value, style="primary"
                ),
                reject,
            ]
        case DraftState.POSTED | DraftState.DELETING:
            label = "Confirm delete from X" if draft.delete_requested_by else "Delete from X"
            confirm = ConfirmObject(
                title="Delete from X?",
                text="The tweet is removed from X. This cannot be undone.",
                confirm="Delete",
                deny="Keep it",
                style="danger",
            )
            return [
                ButtonElement(
                    text=label,
                    action_id=DraftAction.DELETE,
                    value=value,
                    style="danger",
                    confirm=confirm,
                )
            ]
    return []
