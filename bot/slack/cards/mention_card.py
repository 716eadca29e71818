"""Block Kit for the mention card: one per mention, in its segment's channel, updated in place."""

from __future__ import annotations

from calendar import timegm
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.core.models import Mention, MentionState
from bot.core.segments import SegmentView
from bot.slack.cards.inbox_controls import inbox_blocks
from policies.text import names_account


class MentionAction(StrEnum):
    CLAIM = "mention_claim"
    RELEASE = "mention_release"
    REROUTE = "mention_reroute"
    RESOLVE = "mention_resolve"
    DISMISS = "mention_dismiss"
    REOPEN = "mention_reopen"
    REPLY = "mention_reply"


def segment_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def principal_mention(principal: str) -> str:
    """A person or a user group as Slack renders it: @name, @group-handle."""
    return f"<!subteam^{principal}>" if principal.startswith("S") else f"<@{principal}>"


def slack_date(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    epoch = timegm(at.timetuple())
    return f"<!date^{epoch}^{fmt}|{at:%Y-%m-%d %H:%M} UTC>"


def sentiment_label(score: float) -> str:
    if score <= -0.05:
        mood = "negative"
    elif score >= 0.05:
        mood = "positive"
    else:
        mood = "neutral"
    return f"{score:+.2f} ({mood})"


def escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(mention: Mention) -> str:
    return escape(f"Mention from @{mention.author_handle}: {mention.text}")[:3000]


def build_mention_card(
    mention: Mention,
    *,
    segment: SegmentView,
    segments: list[SegmentView],
    is_live: bool,
) -> list[dict[str, Any]]:
    """The card's blocks. `is_live` is False for a card left behind when the mention moved."""
    quoted = "\n".join(f">{line}" for line in escape(mention.text).splitlines() or [""])
    author = f"*{escape(mention.author_name or mention.author_handle)}* <https://x.com/{mention.author_handle}|@{mention.author_handle}>"
    to = f"@{mention.account}"
    if not names_account(mention.text, mention.account):  # a search hit: say whose it was made
        to = f"@{mention.account} (names none of our accounts: a reply goes out as @{mention.account})"
    blocks: list[Block] = [
        SectionBlock(
            block_id=f"mention:{mention.id}",
            text=MarkdownTextObject(text=f"{author} → {to}\n{quoted}"[:3000]),
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=(
                        f"{slack_date(mention.tweeted_at)} · <{mention.url}|Open on X>"
                        f" · Sentiment {sentiment_label(mention.sentiment)}"
                    )
                ),
                MarkdownTextObject(
                    text=f"*{segment_label(segment.name)}* — why here: {escape(mention.route_reason)}"[
                        :3000
                    ]
                ),
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text=_status_line(mention, segment, is_live))),
    ]
    if is_live:
        actions = _actions(mention, segment, segments)
        if actions:
            blocks.append(ActionsBlock(block_id=f"mention_actions:{mention.id}", elements=actions))
        blocks += inbox_blocks(mention, segment)  # assign, note, tags, bulk (inbox_controls)
    return [block.to_dict() for block in blocks]


def _status_line(mention: Mention, segment: SegmentView, is_live: bool) -> str:
    if not is_live:
        return f":arrow_right: Moved to <#{segment.channel}> ({segment_label(segment.name)})"
    match mention.state:
        case MentionState.OPEN:
            due = mention.tweeted_at + timedelta(minutes=segment.first_response_minutes)
            return f":large_yellow_circle: *Open* — respond by {slack_date(due, '{time}')} ({segment.first_response_minutes} min target)"
        case MentionState.CLAIMED:
            return f":raising_hand: *Claimed* by <@{mention.claimed_by}> {slack_date(mention.claimed_at or mention.ingested_at, '{time}')}"
        case MentionState.RESOLVED:
            return f":white_check_mark: *Resolved* by <@{mention.closed_by}> {slack_date(mention.closed_at or mention.ingested_at, '{time}')}"
        case MentionState.DISMISSED:
            reason = escape(mention.dismiss_reason or "no reason given")
            return f":wastebasket: *Dismissed* by <@{mention.closed_by}>: {reason}"
    return str(mention.state)


def _actions(mention: Mention, segment: SegmentView, segments: list[SegmentView]) -> list[Any]:
    value = mention.id
    if mention.state in (MentionState.RESOLVED, MentionState.DISMISSED):
        return [ButtonElement(text="Reopen", action_id=MentionAction.REOPEN, value=value)]
    first = (
        ButtonElement(text="Claim", action_id=MentionAction.CLAIM, value=value, style="primary")
        if mention.state == MentionState.OPEN
        else ButtonElement(text="Release", action_id=MentionAction.RELEASE, value=value)
    )
    others = [s for s in segments if s.name != segment.name]
    elements: list[Any] = [first]
    if others:
        elements.append(
            StaticSelectElement(
                placeholder="Reroute to…",
                action_id=MentionAction.REROUTE,
                options=[Option(text=segment_label(s.name), value=s.name) for s in others],
            )
        )
    elements += [
        ButtonElement(text="Reply", action_id=MentionAction.REPLY, value=value),
        ButtonElement(text="Resolve", action_id=MentionAction.RESOLVE, value=value),
        ButtonElement(text="Dismiss", action_id=MentionAction.DISMISS, value=value, style="danger"),
    ]
    return elements
