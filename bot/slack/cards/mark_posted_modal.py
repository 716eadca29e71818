"""The Mark-as-posted form of a "needs a person" draft: paste the tweet found on X."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)

from bot.slack.cards.draft_modals import ACTION, DraftContext
from bot.slack.cards.forms import form

MARK_POSTED_CALLBACK = "draft_mark_posted_modal"
TWEET_BLOCK = "tweet"


def build_mark_posted_modal(*, context: DraftContext, account: str) -> dict[str, Any]:
    return form(
        callback_id=MARK_POSTED_CALLBACK,
        title="Mark as posted",
        submit="Check on X",
        metadata=context.dump(),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Found this post on <https://x.com/{account}|@{account}>? Paste its link: I check it on X (by @{account}, the same text, no other draft's) before recording it."
                )
            ),
            InputBlock(
                block_id=TWEET_BLOCK,
                label="The tweet's link or id",
                element=PlainTextInputElement(
                    action_id=ACTION,
                    placeholder=f"https://x.com/{account}/status/…",
                    max_length=200,
                ),
            ),
        ],
    )
