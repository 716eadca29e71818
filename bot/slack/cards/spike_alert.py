"""Block Kit for a spike alert: the one message a storm of an account's mentions posts in the
alert channel — the counts against normal, the top terms, five example tweets, and **Freeze
scheduled posts** (admins) until someone froze publishing from it. When the storm has calmed
down, or a freeze was ordered from it, the message says so in place."""

from __future__ import annotations

import json
from dataclasses import dataclass
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

from bot.core.models import Mention, SpikeAlert
from bot.slack.cards.mention_card import escape, quoted, sentiment_label, slack_date

EXAMPLE_CHARS = 280


class SpikeAction(StrEnum):
    FREEZE = "spike_freeze"  # value: the spike's id (cross-checked with the message's own)


@dataclass(frozen=True)
class SpikeAlertView:
    spike: SpikeAlert
    examples: list[Mention]


def fallback_text(view: SpikeAlertView) -> str:
    spike = view.spike
    return (
        f"Spike in mentions of @{spike.account}: {spike.negative} negative and {spike.mentions} "
        f"in all in the last {spike.window_minutes} minutes."
    )


def build_spike_alert(view: SpikeAlertView) -> list[dict[str, Any]]:
    spike = view.spike
    blocks: list[Block] = [
        SectionBlock(
            block_id="spike_header",
            text=MarkdownTextObject(text=_headline(spike)[:3000]),
        ),
        ContextBlock(
            block_id="spike_baseline",
            elements=[MarkdownTextObject(text=_against(spike)[:3000])],
        ),
    ]
    terms = _terms(spike)
    if terms:
        blocks.append(
            SectionBlock(
                block_id="spike_terms",
                text=MarkdownTextObject(text=f"*Top terms:* {terms}"[:3000]),
            )
        )
    for mention in view.examples[:5]:
        blocks.append(
            SectionBlock(
                block_id=f"spike_example:{mention.id}",
                text=MarkdownTextObject(text=_example(mention)[:3000]),
            )
        )
    blocks.append(
        ContextBlock(
            block_id="spike_status", elements=[MarkdownTextObject(text=_status(spike)[:3000])]
        )
    )
    if spike.freeze_id is None and spike.id is not None:
        blocks.append(ActionsBlock(block_id="spike_actions", elements=[_freeze_button(spike)]))
    return [block.to_dict() for block in blocks]


def _headline(spike: SpikeAlert) -> str:
    minutes = spike.window_minutes
    return (
        f":rotating_light: *Spike in mentions of @{escape(spike.account)}* — "
        f"*{spike.negative} negative* and {spike.mentions} mentions in all in the "
        f"{minutes} minutes to {slack_date(spike.started_at)}."
    )


def _against(spike: SpikeAlert) -> str:
    """What normal is, and where that comes from, so the team can judge the alert."""
    normal = (
        f"Normally about {spike.negative_baseline:.1f} negative and "
        f"{spike.mentions_baseline:.1f} in all per {spike.window_minutes} minutes"
    )
    if spike.baseline_days:
        source = f"at this time on the previous {spike.baseline_days} day(s)"
    elif spike.negative_baseline or spike.mentions_baseline:
        source = "in the two hours before (less than a day of history so far)"
    else:
        source = "(no history yet)"
    levels = (
        f"It alerts at {spike.negative_level:.0f} negative or {spike.mentions_level:.0f} in all "
        f"({spike.trigger} reached)."
    )
    return f"{normal} {source}. {levels}"


def _terms(spike: SpikeAlert) -> str:
    terms = [str(t) for t in json.loads(spike.terms or "[]")]
    return " · ".join(f"`{escape(t)}`" for t in terms)


def _example(mention: Mention) -> str:
    who = f"<{mention.url}|@{escape(mention.author_handle)}>"
    return (
        f"{who} · {sentiment_label(mention.sentiment)} · {slack_date(mention.tweeted_at)}\n"
        f"{quoted(mention.text, EXAMPLE_CHARS)}"
    )


def _status(spike: SpikeAlert) -> str:
    lines = []
    if spike.ended_at is None:
        lines.append(":red_circle: Still going: this alert stays the only one until it calms down.")
    else:
        lines.append(
            f":large_green_circle: Calmed down {slack_date(spike.ended_at)} — at its peak "
            f"{spike.peak_negative} negative and {spike.peak_mentions} in all per "
            f"{spike.window_minutes} minutes."
        )
    if spike.freeze_id is not None and spike.frozen_at is not None:
        who = f"<@{spike.frozen_by}>" if spike.frozen_by else escape(spike.frozen_by_name or "")
        lines.append(
            f":octagonal_sign: Frozen by {who} at {slack_date(spike.frozen_at)}: nothing is "
            "published until an admin runs `/brand unfreeze`."
        )
    return "\n".join(lines)


def _freeze_button(spike: SpikeAlert) -> ButtonElement:
    return ButtonElement(
        text="Freeze scheduled posts",
        action_id=SpikeAction.FREEZE,
        value=str(spike.id),
        style="danger",
        confirm=ConfirmObject(
            title="Freeze publishing?",
            text=(
                "Nothing more goes to X from any brand account — scheduled posts included — "
                "until an admin runs /brand unfreeze. Drafting and approving go on."
            ),
            confirm="Freeze",
            deny="Not now",
            style="danger",
        ),
    )
