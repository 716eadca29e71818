"""Block Kit for a response-target reminder: a message in a mention card's thread that names who
should act (the owner; at escalation the approvers too) and offers Acknowledge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack.cards.mention_card import principal_mention, slack_date

HERE = "here"  # in `notified`: nobody is named, so the channel's people who are around


class ReminderAction(StrEnum):
    ACKNOWLEDGE = "mention_acknowledge"


@dataclass(frozen=True)
class ReminderView:
    """What one reminder shows, read from the database at send time."""

    reminder_id: int
    mention_id: str
    step: str  # remind, escalate, repeat (policies.response_schedule.Step)
    notified: tuple[str, ...]  # user / user-group IDs, or HERE
    author_handle: str
    mention_url: str
    target_minutes: int
    due_at: datetime  # the tweet's time plus the target
    waited_minutes: int  # since the tweet, when the reminder was sent
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    ended: str | None = None  # "answered" or "closed": no more reminders, nothing to acknowledge


def named(principals: tuple[str, ...]) -> str:
    return " ".join("<!here>" if p == HERE else principal_mention(p) for p in principals)


def reminder_text(view: ReminderView) -> str:
    """The message itself (also the notification's text): who, what, since when."""
    who = named(view.notified)
    tweet = f"<{view.mention_url}|@{view.author_handle}'s mention>"
    waited = f"has waited {_duration(view.waited_minutes)} with no reply"
    target = f"its {view.target_minutes} min response target (due {slack_date(view.due_at)})"
    if view.step == "remind":
        return f":alarm_clock: {who}: {tweet} {waited}, past {target}."
    lead = "*Escalated* to" if view.step == "escalate" else "*Still unanswered* —"
    return f":rotating_light: {lead} {who}: {tweet} {waited}, over twice {target}."


def _duration(minutes: int) -> str:
    hours, rest = divmod(max(0, minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def build_reminder(view: ReminderView) -> tuple[str, list[dict[str, Any]]]:
    """(text, blocks): the reminder, with Acknowledge until someone acknowledges or it ends."""
    text = reminder_text(view)
    blocks: list[Block] = [
        SectionBlock(block_id=f"reminder:{view.reminder_id}", text=MarkdownTextObject(text=text))
    ]
    if view.acknowledged_by is not None:
        when = f" {slack_date(view.acknowledged_at)}" if view.acknowledged_at else ""
        status = (
            f":white_check_mark: Acknowledged by <@{view.acknowledged_by}>{when} — no more "
            "reminders; the response time still counts until a reply reaches X."
        )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=status)]))
    elif view.ended is not None:
        what = "answered" if view.ended == "answered" else "closed"
        status = f":speech_balloon: The mention is {what}: no more reminders."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=status)]))
    else:
        blocks.append(
            ActionsBlock(
                block_id=f"reminder_actions:{view.reminder_id}",
                elements=[
                    ButtonElement(
                        text="Acknowledge",
                        action_id=ReminderAction.ACKNOWLEDGE,
                        value=view.mention_id,
                        style="primary",
                    )
                ],
            )
        )
        hint = "Acknowledge stops the reminders (the response time still counts); a reply stops them too."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=hint)]))
    return text, [block.to_dict() for block in blocks]
