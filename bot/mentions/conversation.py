"""A mention's conversation as brandbot has seen it: the context quoted on every reply, who owns
it, and whether a new tweet in it is a follow-up of one we already answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from bot.core import outbox
from bot.core.models import Draft, DraftState, Mention, MentionState
from bot.slack.cards.quoted_context import MAX_EARLIER, QuotedContext, QuotedTweet

ANSWERED = (MentionState.REPLIED, MentionState.RESOLVED)  # a new message there is a follow-up
ON_X = (DraftState.POSTED, DraftState.DELETING)


def quoted(mention: Mention) -> QuotedTweet:
    return QuotedTweet(
        author_name=mention.author_name,
        author_handle=mention.author_handle,
        text=mention.text,
        at=mention.tweeted_at,
        url=mention.url,
    )


def conversation_context(session: Session, mention: Mention) -> QuotedContext:
    """The tweet and the last few messages before it (theirs and our posted replies)."""
    others = list(
        session.scalars(
            select(Mention).where(
                col(Mention.conversation_id) == mention.conversation_id,
                col(Mention.id) != mention.id,
                col(Mention.tweeted_at) <= mention.tweeted_at,
            )
        )
    )
    # Our posted replies to those earlier mentions (not to this one: that would be an answer
    # to it), each placed after the tweet it answered: X's and our clocks needn't agree.
    answered = {m.id: m.tweeted_at for m in others}
    ours = session.scalars(
        select(Draft).where(
            col(Draft.in_reply_to).in_(list(answered)),
            col(Draft.state).in_(ON_X),
        )
    )
    earlier: list[tuple[tuple[datetime, int, datetime], QuotedTweet]] = [
        ((m.tweeted_at, 0, m.tweeted_at), quoted(m)) for m in others
    ]
    for draft in ours:
        at = draft.posted_at or draft.updated_at
        key = (answered[str(draft.in_reply_to)], 1, at)
        earlier.append(
            (
                key,
                QuotedTweet(
                    author_name=f"@{draft.account}",
                    author_handle=draft.account,
                    text=draft.text,
                    at=at,
                    url=f"https://x.com/{draft.account}/status/{draft.tweet_id}",
                    ours=True,
                ),
            )
        )
    earlier.sort(key=lambda item: item[0])
    shown = [tweet for _, tweet in earlier][-MAX_EARLIER:]
    return QuotedContext(tweet=quoted(mention), earlier=shown)


def conversation_owner(session: Session, mention: Mention) -> str | None:
    """Who answered the mention: whoever claimed it, else the author of its posted reply."""
    if mention.claimed_by:
        return mention.claimed_by
    return session.scalars(
        select(col(Draft.author_id))
        .where(col(Draft.in_reply_to) == mention.id, col(Draft.state).in_(ON_X))
        .order_by(col(Draft.id).desc())
        .limit(1)
    ).first()


def link_follow_ups(session: Session, rows: list[dict[str, Any]], *, now: datetime) -> None:
    """Mark each new tweet in a conversation we already answered as a follow-up of the newest
    answered mention there, and keep it with that mention's segment (its card then threads
    under the conversation's card, with the team that answered it)."""
    for row in rows:
        row.setdefault("follow_up_of", None)  # one shape for every row of the bulk insert
    conversations = {row["conversation_id"] for row in rows}
    if not conversations:
        return
    answered: dict[str, Mention] = {}
    for mention in session.scalars(
        select(Mention)
        .where(
            col(Mention.conversation_id).in_(conversations),
            col(Mention.state).in_(ANSWERED),
        )
        .order_by(col(Mention.tweeted_at))
    ):
        answered[mention.conversation_id] = mention  # the newest wins
    for row in rows:
        original = answered.get(row["conversation_id"])
        if original is None or original.id == row["id"]:
            continue
        row["follow_up_of"] = original.id
        row["segment"] = original.segment
        row["account"] = original.account
        row["route_reason"] = f"follow-up of a conversation we answered ({original.url})"
        outbox.mark_changed(session, original.card_id, now=now)  # "… wrote again"
