"""Block Kit for a member's App Home: what is on their plate now, from the database.

Approve and Reject on a draft carry `draft_id:text_hash`, as on its approval card; the server
finds the card from its own records and acts there, so only the id and the hash are trusted
(and only to cross-check). Action ids differ from the card's: a click from the Home tab has no
channel, and the handler must know to look the card up."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.core.models import Draft, DraftState, Freeze, Mention
from bot.slack.cards.mention_card import escape, principal_mention, segment_label, slack_date
from bot.slack.cards.surge_summary import SurgeLine, home_surge_blocks
from policies.response_time import ResponseClock, Urgency

MAX_BLOCKS = 100  # Slack's limit for a Home tab
MAX_TEXT = 3000  # a section's text
SHOWN = 15  # claimed mentions, drafts awaiting approval: at most this many each
SHOWN_MINE = 10  # the person's own drafts, newest first
SHOWN_SEGMENTS = 20


class HomeAction(StrEnum):
    APPROVE = "home_approve"
    REJECT = "home_reject"
    EDIT_SEGMENT = "home_edit_segment"


@dataclass(frozen=True)
class ClaimedMention:
    mention: Mention
    clock: ResponseClock
    channel: str  # where its card is
    assigned: bool = False  # assigned to them, and nobody has claimed it yet


@dataclass(frozen=True)
class AwaitingDraft:
    draft: Draft
    so_far: str  # "1 of 2", or one count per rule
    texts: int  # how many candidate texts (more than one: pick on the card)
    channel: str  # where its card is
    card_link: str | None = None  # its card's permalink, when Slack gave one


@dataclass(frozen=True)
class SegmentSummary:
    name: str
    channel: str
    approvers: list[str]
    approvals_required: int
    first_response_minutes: int
    accounts: list[str]  # who it may post as now
    keywords: list[str]
    hashtags: list[str]
    authors: list[str]


@dataclass(frozen=True)
class HomeView:
    user_id: str
    freezes: list[Freeze]
    claimed: list[ClaimedMention]
    awaiting: list[AwaitingDraft]
    mine: list[Draft]
    segments: list[SegmentSummary] | None = None  # None: not an admin (or not known to be)
    notice: str | None = None  # the outcome of what the person just did here
    unchecked: list[str] = field(default_factory=list)  # what Slack couldn't tell us just now
    more_claimed: int = 0
    more_awaiting: int = 0
    more_mine: int = 0
    surges: list[SurgeLine] = field(default_factory=list)  # surges with mentions waiting


def build_home(view: HomeView) -> dict[str, Any]:
    """The Home tab view for `views.publish`: at most MAX_BLOCKS blocks."""
    blocks: list[Block] = [HeaderBlock(text="Your brandbot")]
    if view.notice:
        blocks.append(_section(f":information_source: {view.notice}"))
    blocks += _freezes(view.freezes)
    if view.unchecked:
        blocks.append(_context(" ".join(view.unchecked)))
    blocks += home_surge_blocks(view.surges)
    blocks += _claimed(view)
    blocks += _awaiting(view)
    blocks += _mine(view)
    if view.segments is not None:
        blocks += _segments(view.segments)
    rendered = [b.to_dict() for b in blocks]
    if len(rendered) > MAX_BLOCKS:  # the caps above keep within it; this is the backstop
        cut = _context(f"… {len(rendered) - MAX_BLOCKS + 1} more blocks not shown.")
        rendered = [*rendered[: MAX_BLOCKS - 1], cut.to_dict()]
    return {"type": "home", "blocks": rendered}


def _section(text: str, **more: Any) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:MAX_TEXT]), **more)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:MAX_TEXT])])


def _heading(title: str, count: int) -> list[Block]:
    return [DividerBlock(), HeaderBlock(text=f"{title} ({count})"[:150])]


def _quote(text: str, limit: int = 280) -> str:
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return "\n".join(f">{line}" for line in escape(short).splitlines() or [""])


def _more(count: int, where: str) -> list[Block]:
    return [_context(f"… and {count} more {where}.")] if count else []


def _freezes(freezes: list[Freeze]) -> list[Block]:
    if not freezes:
        return [_context(":large_green_circle: Publishing is on: nothing is frozen.")]
    lines = []
    for freeze in freezes[:5]:
        scope = "every account" if freeze.scope == "all" else f"@{freeze.scope}"
        until = f"until {slack_date(freeze.until)}" if freeze.until else "until an admin lifts it"
        lines.append(
            f":octagonal_sign: *Publishing is frozen* for {scope} by <@{freeze.frozen_by}> "
            f"since {slack_date(freeze.frozen_at)}, {until}: {escape(freeze.reason)}"
        )
    return [_section("\n".join(lines))]


URGENCY = {
    Urgency.WITHIN: ":large_green_circle:",
    Urgency.DUE_SOON: ":large_yellow_circle:",
    Urgency.OVERDUE: ":red_circle:",
}


def _against_target(clock: ResponseClock) -> str:
    if clock.urgency == Urgency.OVERDUE:
        standing = f"*{clock.minutes_over} min over* the {clock.target_minutes} min target"
    else:
        standing = f"{clock.minutes_left} min left of the {clock.target_minutes} min target"
    return f"{URGENCY[clock.urgency]} {clock.age_minutes} min old · {standing}"


def _claimed(view: HomeView) -> list[Block]:
    title = "Mentions you claimed"
    if any(item.assigned for item in view.claimed):
        title += " or were assigned"
    blocks = _heading(title, len(view.claimed) + view.more_claimed)
    if not view.claimed:
        return [*blocks, _context("Nothing claimed. Claim a mention on its card to see it here.")]
    for item in view.claimed:
        mention = item.mention
        assigned = (
            f"\n:bust_in_silhouette: assigned to you by <@{mention.assigned_by}>: claim it on its card"
            if item.assigned
            else ""
        )
        blocks.append(
            _section(
                f"<{mention.url}|@{escape(mention.author_handle)}> → @{mention.account} · "
                f"{segment_label(mention.segment)} in <#{item.channel}>{assigned}\n"
                f"{_against_target(item.clock)}\n{_quote(mention.text)}"
            )
        )
    return blocks + _more(view.more_claimed, "claimed mentions")


def _awaiting(view: HomeView) -> list[Block]:
    blocks = _heading("Waiting for your approval", len(view.awaiting) + view.more_awaiting)
    if not view.awaiting:
        return [*blocks, _context("No draft is waiting for you.")]
    for item in view.awaiting:
        draft = item.draft
        reply = (
            f" · reply to <https://x.com/i/status/{draft.in_reply_to}|this tweet>"
            if draft.in_reply_to
            else ""
        )
        head = (
            f"*#{draft.id} for @{draft.account}* by <@{draft.author_id}> · "
            f"{segment_label(draft.segment)}{reply} · approvals so far: {item.so_far}"
        )
        value = f"{draft.id}:{draft.text_hash}"
        if item.texts > 1:
            where = (
                f"<{item.card_link}|its card>"
                if item.card_link
                else f"its card in <#{item.channel}>"
            )
            blocks.append(_section(f"{head}\n{item.texts} candidate texts: pick one on {where}."))
            continue
        blocks.append(_section(f"{head}\n{_quote(draft.text, limit=1000)}"))
        blocks.append(
            ActionsBlock(
                block_id=f"home_draft:{draft.id}",
                elements=[
                    ButtonElement(
                        text="Approve", action_id=HomeAction.APPROVE, value=value, style="primary"
                    ),
                    ButtonElement(
                        text="Reject", action_id=HomeAction.REJECT, value=value, style="danger"
                    ),
                ],
            )
        )
    return blocks + _more(view.more_awaiting, "drafts: see their cards")


STATE_LABELS: dict[str, str] = {
    DraftState.PENDING: ":hourglass_flowing_sand: waiting for approval",
    DraftState.APPROVED: ":white_check_mark: approved, in the publish queue",
    DraftState.POSTING: ":outbox_tray: posting",
    DraftState.POSTED: ":bird: posted",
    DraftState.DELETING: ":wastebasket: being deleted from X",
    DraftState.NEEDS_CHECK: ":rotating_light: needs a person to check X",
    DraftState.FAILED: ":warning: X refused it",
    DraftState.HELD: ":pause_button: held by a freeze",
    DraftState.REJECTED: ":no_entry_sign: rejected",
    DraftState.EXPIRED: ":alarm_clock: expired",
    DraftState.CANCELLED: ":heavy_multiplication_x: cancelled",
    DraftState.DELETED: ":wastebasket: deleted from X",
}


def _draft_line(draft: Draft) -> str:
    first = (draft.text.splitlines() or [""])[0]
    short = first if len(first) <= 80 else first[:79] + "…"
    state = STATE_LABELS.get(draft.state, str(draft.state))  # a state from a newer version: as is
    if draft.state == DraftState.POSTED and draft.tweet_id:
        state += f" — <https://x.com/{draft.account}/status/{draft.tweet_id}|view on X>"
    if draft.state == DraftState.REJECTED and draft.reject_reason:
        state += f" by <@{draft.rejected_by}>: {escape(draft.reject_reason[:200])}"
    return f"• *#{draft.id}* @{draft.account} “{escape(short)}” — {state}"


def _mine(view: HomeView) -> list[Block]:
    blocks = _heading("Your drafts", len(view.mine) + view.more_mine)
    if not view.mine:
        return [*blocks, _context("You have no drafts. `/tweet` starts one.")]
    blocks.append(_section("\n".join(_draft_line(d) for d in view.mine)))
    return blocks + _more(view.more_mine, "older drafts")


def _listed(values: list[str]) -> str:
    return ", ".join(escape(v) for v in values) if values else "—"


def _segments(segments: list[SegmentSummary]) -> list[Block]:
    blocks = _heading("Segments (you are an admin)", len(segments))
    for segment in segments[:SHOWN_SEGMENTS]:
        approvers = ", ".join(map(principal_mention, segment.approvers)) or "nobody named"
        accounts = ", ".join(f"@{a}" for a in segment.accounts) or "no account"
        text = (
            f"*{segment_label(segment.name)}* → <#{segment.channel}>\n"
            f"Approvers: {approvers} · needs {segment.approvals_required} · "
            f"first response within {segment.first_response_minutes} min\n"
            f"Posts as {accounts} · follows keywords {_listed(segment.keywords)}; "
            f"hashtags {_listed(segment.hashtags)}; authors {_listed(segment.authors)}"
        )
        blocks.append(
            _section(
                text,
                block_id=f"home_segment:{segment.name}",
                accessory=ButtonElement(
                    text="Edit", action_id=HomeAction.EDIT_SEGMENT, value=segment.name
                ),
            )
        )
    return blocks + _more(max(0, len(segments) - SHOWN_SEGMENTS), "segments: `/brand segments`")
