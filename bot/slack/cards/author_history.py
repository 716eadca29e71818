"""The author-history modal: earlier mentions by the same author, and X's profile of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.models import XAuthor
from bot.slack.cards.mention_card import escape, sentiment_label, slack_date
from policies.slack_text import clip

SHOWN = 3  # the last few earlier mentions; the count says how many there are


@dataclass(frozen=True)
class PastMention:
    url: str
    text: str
    state: str
    sentiment: float
    tweeted_at: datetime
    dismiss_reason: str | None = None


@dataclass(frozen=True)
class AuthorView:
    author_id: str
    handle: str
    name: str
    earlier_count: int
    recent: list[PastMention] = field(default_factory=list)  # newest first, at most SHOWN
    profile: XAuthor | None = None
    x_error: str | None = None  # X failed this time: say so, keep the rest

    @property
    def waiting_for_x(self) -> bool:
        return self.profile is None and self.x_error is None


OUTCOMES = {
    "open": "Open",
    "claimed": "Claimed",
    "replied": "Replied",
    "resolved": "Resolved",
    "dismissed": "Dismissed",
}


def _outcome(past: PastMention) -> str:
    outcome = OUTCOMES.get(past.state, past.state)
    if past.dismiss_reason:
        outcome += f" ({escape(past.dismiss_reason)})"
    return outcome


def _profile_text(view: AuthorView) -> str:
    if view.x_error:
        return f":warning: {view.x_error}"
    profile = view.profile
    if profile is None:
        return ":hourglass_flowing_sand: Asking X about this account…"
    followers = f"{profile.followers:,}" if profile.followers is not None else "unknown"
    verified = {True: "verified", False: "not verified", None: "verified: unknown"}[
        profile.verified
    ]
    since = f" · on X since {profile.created_at:%b %Y}" if profile.created_at else ""
    return f"*On X*: {followers} followers · {verified}{since}"


def build_history_modal(view: AuthorView) -> dict[str, Any]:
    who = f"*{escape(view.name or view.handle)}* <https://x.com/{view.handle}|@{view.handle}>"
    count = view.earlier_count
    seen = (
        f"{count} earlier mention{'s' if count != 1 else ''} in brandbot"
        if count
        else "No earlier mentions in brandbot: this is the first."
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=who)),
        SectionBlock(block_id="x_profile", text=MarkdownTextObject(text=_profile_text(view))),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=f"*{seen}*")),
    ]
    for past in view.recent:
        text = clip(escape(" ".join(past.text.split())), 200)  # never through an `&amp;`
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"<{past.url}|{slack_date(past.tweeted_at)}> · *{_outcome(past)}* · sentiment {sentiment_label(past.sentiment)}\n{text}"[
                            :3000
                        ]
                    )
                ]
            )
        )
    return View(type="modal", title="Author history", close="Close", blocks=blocks).to_dict()
