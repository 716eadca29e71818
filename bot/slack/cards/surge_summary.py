"""Block Kit for a surge summary: the one card standing for a channel's mentions while more
arrive than Slack's pace could post one by one — how many, in how long, the sentiment split,
the top terms, examples (most-followed authors first) and where they stand, with **Show next
10** (their cards, in the summary's thread) and **Claim next** (the oldest nobody has claimed).
Also the App Home's list of surges with mentions waiting."""

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

from bot.core.models import Mention, Surge
from bot.slack.cards.mention_card import escape, quoted, sentiment_label, slack_date
from policies.surge import Split

SHOW_BATCH = 10
EXAMPLE_CHARS = 280


class SurgeAction(StrEnum):
    SHOW_NEXT = "surge_show_next"  # value: the surge's id (cross-checked with the card's own)
    CLAIM_NEXT = "surge_claim_next"
    HOME_CLAIM_NEXT = "home_surge_claim_next"  # from the App Home: no channel, the id finds it


@dataclass(frozen=True)
class Example:
    mention: Mention
    followers: int | None


@dataclass(frozen=True)
class Standing:
    """Where the surge's mentions are: shown in the thread, claimed, answered or closed."""

    shown: int
    waiting: int  # open and unclaimed: what Claim next takes
    claimed: int
    done: int  # replied, resolved or dismissed


@dataclass(frozen=True)
class SurgeSummaryView:
    surge: Surge
    first_at: datetime | None  # the earliest tweet it stands for
    last_at: datetime | None
    split: Split
    terms: list[str]
    examples: list[Example]
    standing: Standing


def minutes_spanned(first: datetime | None, last: datetime | None) -> int:
    if first is None or last is None:
        return 1
    return max(1, -(-int((last - first).total_seconds()) // 60))  # rounded up, at least one


def fallback_text(view: SurgeSummaryView) -> str:
    minutes = minutes_spanned(view.first_at, view.last_at)
    return f"{view.surge.mentions} new mentions in the last {minutes} minutes (surge summary)."


def build_surge_summary(view: SurgeSummaryView) -> list[dict[str, Any]]:
    surge = view.surge
    minutes = minutes_spanned(view.first_at, view.last_at)
    split = view.split
    blocks: list[Block] = [
        SectionBlock(
            block_id="surge_header",
            text=MarkdownTextObject(
                text=(
                    f":ocean: *{surge.mentions:,} new mentions in the last {minutes} minutes* — "
                    "more than one card each could reach this channel in time, so they are "
                    "gathered here. Each one is still claimable and answerable: *Show next "
                    f"{SHOW_BATCH}* posts their cards in this thread, *Claim next* gives you "
                    "the oldest nobody has claimed."
                )
            ),
        ),
        ContextBlock(
            block_id="surge_sentiment",
            elements=[
                MarkdownTextObject(
                    text=(
                        f"Sentiment: *{split.negative:,} negative* · {split.neutral:,} neutral · "
                        f"{split.positive:,} positive"
                    )
                )
            ],
        ),
    ]
    if view.terms:
        terms = ", ".join(f"`{escape(t)}`" for t in view.terms)
        blocks.append(
            SectionBlock(
                block_id="surge_terms", text=MarkdownTextObject(text=f"*Top terms:* {terms}")
            )
        )
    for example in view.examples:
        blocks.append(
            SectionBlock(
                block_id=f"surge_example:{example.mention.id}",
                text=MarkdownTextObject(text=_example(example)[:3000]),
            )
        )
    blocks.append(
        ContextBlock(
            block_id="surge_status",
            elements=[MarkdownTextObject(text=_status(view)[:3000])],
        )
    )
    buttons = []
    if view.standing.shown < surge.mentions:
        buttons.append(
            ButtonElement(
                text=f"Show next {SHOW_BATCH}",
                action_id=SurgeAction.SHOW_NEXT,
                value=str(surge.id),
            )
        )
    if view.standing.waiting:
        buttons.append(
            ButtonElement(
                text="Claim next",
                action_id=SurgeAction.CLAIM_NEXT,
                value=str(surge.id),
                style="primary",
            )
        )
    if buttons:
        blocks.append(ActionsBlock(block_id="surge_actions", elements=buttons))
    return [block.to_dict() for block in blocks]


def _example(example: Example) -> str:
    mention = example.mention
    followers = f" ({example.followers:,} followers)" if example.followers is not None else ""
    return (
        f"<{mention.url}|@{escape(mention.author_handle)}>{followers} · "
        f"{sentiment_label(mention.sentiment)} · {slack_date(mention.tweeted_at)}\n"
        f"{quoted(mention.text, EXAMPLE_CHARS)}"
    )


def _status(view: SurgeSummaryView) -> str:
    standing = view.standing
    counts = (
        f"{standing.shown:,} in the thread · {standing.waiting:,} waiting for someone · "
        f"{standing.claimed:,} claimed · {standing.done:,} answered or closed"
    )
    surge = view.surge
    if surge.ended_at is not None:
        return (
            f"{counts}\nThe surge ended {slack_date(surge.ended_at)}: new mentions get their own "
            "cards again."
        )
    return f"{counts}\nStill going since {slack_date(surge.started_at)}: updated as it grows."


@dataclass(frozen=True)
class SurgeLine:
    """A surge with mentions waiting, as the App Home lists it."""

    surge: Surge
    waiting: int


def home_surge_blocks(lines: list[SurgeLine]) -> list[Block]:
    """The Home tab's section: each surge with mentions nobody has claimed, and Claim next."""
    if not lines:
        return []
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*Surges with mentions waiting ({len(lines)})*"))
    ]
    for line in lines:
        surge = line.surge
        state = "still going" if surge.ended_at is None else "over"
        blocks.append(
            SectionBlock(
                block_id=f"home_surge:{surge.id}",
                text=MarkdownTextObject(
                    text=(
                        f"<#{surge.channel}>: {surge.mentions:,} mentions since "
                        f"{slack_date(surge.started_at)} ({state}) · *{line.waiting:,} waiting* "
                        "— Claim next gives you the oldest; its card is in the summary's thread."
                    )
                ),
                accessory=ButtonElement(
                    text="Claim next", action_id=SurgeAction.HOME_CLAIM_NEXT, value=str(surge.id)
                ),
            )
        )
    return blocks
