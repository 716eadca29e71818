"""The tweet a reply answers and the conversation before it, quoted: one builder for the reply
form and the reply's approval card, so both show the same context."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.slack.cards.mention_card import escape, quoted, slack_date
from policies.slack_text import clip

MAX_EARLIER = 4  # the last few messages of a conversation: enough to follow it, short to read


@dataclass(frozen=True)
class QuotedTweet:
    """One message of the conversation as the customer (or we) wrote it: text not escaped."""

    author_name: str
    author_handle: str
    text: str
    at: datetime
    url: str
    ours: bool = False  # one of our posted replies


@dataclass(frozen=True)
class QuotedContext:
    tweet: QuotedTweet
    earlier: list[QuotedTweet] = field(default_factory=list)  # oldest first, at most MAX_EARLIER


def _who(tweet: QuotedTweet) -> str:
    name = escape(tweet.author_name or tweet.author_handle)
    handle = f"<https://x.com/{tweet.author_handle}|@{tweet.author_handle}>"
    return f"*{name}* {handle}" + (" (us)" if tweet.ours else "")


def _line(tweet: QuotedTweet) -> str:
    text = clip(escape(" ".join(tweet.text.split())), 300)
    return f"{_who(tweet)} · {slack_date(tweet.at)} · <{tweet.url}|link>: {text}"


def quoted_context_blocks(context: QuotedContext | None) -> list[Block]:
    """Blocks quoting the tweet answered (author, text, time, link), the conversation first."""
    if context is None:
        return []
    blocks: list[Block] = []
    if context.earlier:
        lines = [_line(t) for t in context.earlier[-MAX_EARLIER:]]
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=("Earlier in this conversation:\n" + "\n".join(lines))[:3000]
                    )
                ]
            )
        )
    tweet = context.tweet
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Answering {_who(tweet)} · {slack_date(tweet.at)} · <{tweet.url}|Open on X>\n{quoted(tweet.text)}"[
                    :3000
                ]
            )
        )
    )
    return blocks


def quoted_context_dicts(context: QuotedContext | None) -> list[dict[str, Any]]:
    return [block.to_dict() for block in quoted_context_blocks(context)]
