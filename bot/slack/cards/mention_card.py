"""Block Kit for the mention card: one per mention, in its segment's channel, updated in place."""

from __future__ import annotations

from calendar import timegm
from dataclasses import dataclass, field
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
from policies.slack_text import clip


class MentionAction(StrEnum):
    CLAIM = "mention_claim"
    RELEASE = "mention_release"
    REROUTE = "mention_reroute"
    RESOLVE = "mention_resolve"
    DISMISS = "mention_dismiss"
    REOPEN = "mention_reopen"
    REPLY = "mention_reply"
    QUOTE = "mention_quote"  # a search hit that doesn't mention us: X lets us quote, not reply
    HISTORY = "mention_history"
    OPEN_ON_X = "mention_open_on_x"  # a link button: Slack still sends the click, we ack it


@dataclass(frozen=True)
class ReplyFacts:
    """The newest reply (or quote) drafted for the mention, as its card tells it."""

    state: str  # a DraftState
    author_id: str
    approver_ids: list[str] = field(default_factory=list)
    approval_link: str | None = None  # permalink of its approval card, once Slack has it
    tweet_url: str | None = None
    rejected_by: str | None = None
    reason: str | None = None
    is_quote: bool = False


@dataclass(frozen=True)
class CardFacts:
    """What else the card says, read from the database beside the mention."""

    reply: ReplyFacts | None = None
    posted: ReplyFacts | None = None  # the newest answer on X, when a later draft is `reply`
    wrote_again_at: datetime | None = None  # a follow-up of this answered mention arrived
    wrote_again_by: str | None = None  # its author's handle: not always this mention's author
    owner: str | None = None  # a follow-up: who answered the conversation (mentioned, notified)
    timer: TimerFacts | None = None  # how its response-target timer stands
    native_reply_by: str | None = None  # the brand account that replied on X directly
    native_reply_deleted: bool = False  # that reply was taken down from X since


@dataclass(frozen=True)
class TimerFacts:
    """The response-target timer's last step (policies.response_schedule.Step) and who
    acknowledged its reminders."""

    last_step: str | None = None
    acknowledged_by: str | None = None


def segment_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def principal_mention(principal: str) -> str:
    """A person or a user group as Slack renders it: @name, @group-handle."""
    return f"<!subteam^{principal}>" if principal.startswith("S") else f"<@{principal}>"


def slack_date(at: datetime) -> str:
    """A time as each viewer reads it in their own time zone, with its date unless today
    ("today 14:05", "yesterday 09:12", "Mar 3 17:40"): one format everywhere."""
    epoch = timegm(at.timetuple())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def quoted(text: str, limit: int = 2500) -> str:
    """The text as a mrkdwn quote, escaped once and clipped (never through an entity) to fit
    in a block or message with room to spare."""
    return "\n".join(f">{line}" for line in clip(escape(text), limit).splitlines() or [""])


def sentiment_label(score: float) -> str:
    """The label in words, then the score: "negative (-0.72)". The ±0.05 bounds are VADER's
    own convention; the care lexicon scores on VADER's scale, so they still fit. The word is
    decided on the number shown, so the two never disagree."""
    shown = round(score, 2) + 0.0  # + 0.0: never "-0.00"
    if shown <= -0.05:
        mood = "negative"
    elif shown >= 0.05:
        mood = "positive"
    else:
        mood = "neutral"
    return f"{mood} ({shown:+.2f})" if shown else f"{mood} (0.00)"


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
    facts: CardFacts | None = None,
) -> list[dict[str, Any]]:
    """The card's blocks. `is_live` is False for a card left behind when the mention moved."""
    facts = facts or CardFacts()
    author = f"*{escape(mention.author_name or mention.author_handle)}* <https://x.com/{mention.author_handle}|@{mention.author_handle}>"
    to = f"@{mention.account}"
    blocks: list[Block] = [
        SectionBlock(
            block_id=f"mention:{mention.id}",
            text=MarkdownTextObject(text=f"{author} → {to}\n{quoted(mention.text)}"[:3000]),
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
        SectionBlock(
            text=MarkdownTextObject(text=_status(mention, segment, is_live, facts)[:3000])
        ),
    ]
    if is_live:
        actions = _actions(mention, segment, segments)
        if actions:
            blocks.append(ActionsBlock(block_id=f"mention_actions:{mention.id}", elements=actions))
        blocks += inbox_blocks(mention, segment)  # assign, note, tags, bulk (inbox_controls)
    return [block.to_dict() for block in blocks]


def _status(mention: Mention, segment: SegmentView, is_live: bool, facts: CardFacts) -> str:
    if not is_live:
        return f":arrow_right: Moved to <#{segment.channel}> ({segment_label(segment.name)})"
    lines = []
    if mention.follow_up_of:
        owner = f"<@{facts.owner}> answered" if facts.owner else "We answered"
        lines.append(
            f":leftwards_arrow_with_hook: *Follow-up*: {owner} this conversation and the customer wrote again."
        )
    lines.append(_state_line(mention, segment, facts.timer))
    if mention.replied_via == "x" and mention.reply_tweet_id:
        by = facts.native_reply_by or mention.account
        url = f"https://x.com/{by}/status/{mention.reply_tweet_id}"
        if facts.native_reply_deleted:
            lines.append(f":wastebasket: A reply @{by} posted on X directly was deleted from X")
        else:
            lines.append(f":bird: Replied on X directly by @{by} — <{url}|view on X>")
    if facts.posted is not None:
        lines.append(_reply_line(facts.posted))
    if facts.reply is not None:
        lines.append(_reply_line(facts.reply))
    if facts.wrote_again_at is not None:
        lines.append(
            f":leftwards_arrow_with_hook: @{facts.wrote_again_by or mention.author_handle} wrote again {slack_date(facts.wrote_again_at)} — the new message is in this thread."
        )
    if not mention.summoned and mention.state not in CLOSED:
        lines.append(
            f":information_source: X only lets @{mention.account} reply to tweets that mention it — quote it instead."
        )
    return "\n".join(lines)


CLOSED = (MentionState.RESOLVED, MentionState.DISMISSED)


def _state_line(mention: Mention, segment: SegmentView, timer: TimerFacts | None = None) -> str:
    due = mention.tweeted_at + timedelta(minutes=segment.first_response_minutes)
    target = f"{segment.first_response_minutes} min target"
    step = timer.last_step if timer is not None else None
    match mention.state:
        case MentionState.OPEN:
            if step is None:
                return f":large_yellow_circle: *Open* — respond by {slack_date(due)} ({target})"
            emoji, phrase = _timer_warning(due, target, timer)
            return f"{emoji} *Open* — {phrase}"
        case MentionState.CLAIMED:
            line = f":raising_hand: *Claimed* by <@{mention.claimed_by}> {slack_date(mention.claimed_at or mention.ingested_at)}"
            if step is None:
                return line
            emoji, phrase = _timer_warning(due, target, timer)
            return f"{line}\n{emoji} {phrase[0].upper()}{phrase[1:]}"
        case MentionState.REPLIED:
            return f":speech_balloon: *Replied* {slack_date(mention.replied_at or mention.ingested_at)} — the response target is met; resolve it when the conversation is done"
        case MentionState.RESOLVED:
            return f":white_check_mark: *Resolved* by <@{mention.closed_by}> {slack_date(mention.closed_at or mention.ingested_at)}"
        case MentionState.DISMISSED:
            reason = escape(mention.dismiss_reason or "no reason given")
            return f":wastebasket: *Dismissed* by <@{mention.closed_by}>: {reason}"
    return f"*{escape(str(mention.state))}*"


def _timer_warning(due: datetime, target: str, timer: TimerFacts | None) -> tuple[str, str]:
    """Half the target gone (a warning), or past it (overdue: reminded, maybe escalated)."""
    if timer is None or timer.last_step == "warn":
        return ":warning:", f"half the {target} has passed: respond by {slack_date(due)}"
    escalated = timer.last_step in ("escalate", "repeat")
    phrase = f"overdue since {slack_date(due)} ({target})"
    phrase += ", escalated to the approvers" if escalated else ", reminded in the thread"
    if timer.acknowledged_by:
        phrase += f"; acknowledged by <@{timer.acknowledged_by}>"
    return ":red_circle:", phrase


def _reply_line(reply: ReplyFacts) -> str:
    what = "Quote" if reply.is_quote else "Reply"
    by = f"<@{reply.author_id}>"
    card = f" — <{reply.approval_link}|see its approval card>" if reply.approval_link else ""
    approvers = ", ".join(f"<@{a}>" for a in reply.approver_ids) or "nobody yet"
    match reply.state:
        case "pending":
            return f":memo: {what} drafted by {by} — waiting for approval{card}"
        case "approved" | "posting" | "held":
            return f":outbox_tray: {what} by {by}, approved by {approvers} — on its way to X{card}"
        case "needs_check" | "failed":
            return f":warning: {what} by {by} did not go out: a person must look at it{card}"
        case "posted" | "deleting":
            view = f" — <{reply.tweet_url}|view on X>" if reply.tweet_url else ""
            verb = "Quoted" if reply.is_quote else "Replied"
            return f":bird: {verb} by {by}, approved by {approvers}{view}"
        case "rejected":
            reason = f": {escape(reply.reason)}" if reply.reason else ""
            return f":no_entry_sign: {what} by {by} was rejected by <@{reply.rejected_by}>{reason}{card}"
        case "cancelled":
            return f":heavy_multiplication_x: {what} by {by} was cancelled{card}"
        case "expired":
            return f":alarm_clock: {what} by {by} expired unapproved{card}"
        case "deleted":
            return f":wastebasket: {what} by {by} was deleted from X{card}"
    return f"{what} by {by}: {escape(reply.state)}{card}"


def _actions(mention: Mention, segment: SegmentView, segments: list[SegmentView]) -> list[Any]:
    value = mention.id
    history = ButtonElement(text="History", action_id=MentionAction.HISTORY, value=value)
    if mention.state in CLOSED:
        return [ButtonElement(text="Reopen", action_id=MentionAction.REOPEN, value=value), history]
    answer = (
        ButtonElement(text="Reply", action_id=MentionAction.REPLY, value=value)
        if mention.summoned
        else ButtonElement(text="Quote", action_id=MentionAction.QUOTE, value=value)
    )
    elements: list[Any] = []
    if mention.state == MentionState.OPEN:
        elements.append(
            ButtonElement(text="Claim", action_id=MentionAction.CLAIM, value=value, style="primary")
        )
    elif mention.state == MentionState.CLAIMED:
        elements.append(ButtonElement(text="Release", action_id=MentionAction.RELEASE, value=value))
    others = [s for s in segments if s.name != segment.name]
    if others and mention.state != MentionState.REPLIED:  # answered: it stays where it was
        elements.append(
            StaticSelectElement(
                placeholder="Reroute to…",
                action_id=MentionAction.REROUTE,
                options=[Option(text=segment_label(s.name), value=s.name) for s in others],
            )
        )
    elements += [
        answer,
        ButtonElement(text="Resolve", action_id=MentionAction.RESOLVE, value=value),
        ButtonElement(text="Dismiss", action_id=MentionAction.DISMISS, value=value, style="danger"),
        history,
    ]
    if not mention.summoned:
        elements.append(
            ButtonElement(text="Open on X", action_id=MentionAction.OPEN_ON_X, url=mention.url)
        )
    return elements
