"""Tweets posted around brandbot: a brand account's own timeline, read every poll, holds every
tweet it posted. Each one brandbot did not post (no draft has its id) raises one alert in the
alert channel (bot/alerts/outside_posts.py); a native reply also stops its mention's clock.

Recognising our own posts has a race: the publisher may have a tweet on X before its id is
recorded (the draft is POSTING, or NEEDS_CHECK after a lost answer). A timeline tweet that reads
like such an in-flight draft of the same account is *deferred* — the poll's cursor stays below it,
so the next poll reads it again — until the draft records it (then it is ours) or stops looking
like it, and never longer than DEFER_LIMIT after the tweet: then it alerts anyway, naming the
draft, so a deferral cannot swallow a real outside post.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlmodel import Session, col

from bot.alerts.outside_posts import OUTSIDE_POST_ALERT
from bot.core import audit, outbox
from bot.core.clock import iso
from bot.core.context import ServiceContext
from bot.core.db import insert_ignoring_conflicts, table_of
from bot.core.models import Draft, DraftState, OutsidePost, OutsidePostState
from bot.drafts.matching import post_match
from bot.mentions.service import NativeReply, replied_on_x
from bot.x.gateway import Tweet
from policies.tweet_match import Match

DEFER_LIMIT = timedelta(minutes=15)  # an in-flight look-alike holds an alert back at most this
# Tweets older than the timeline's first poll, by more than X's and our clocks may disagree, are
# history; closer ones alert (the safe side).
CLOCK_SKEW = timedelta(minutes=1)


@dataclass(frozen=True)
class TimelineOutcome:
    """What one page of an own timeline did."""

    alerted: list[str] = field(default_factory=list)  # new alerts (tweet ids)
    credited: list[str] = field(default_factory=list)  # mentions answered natively
    deferred: list[str] = field(default_factory=list)  # tweets to read again next poll


def in_flight(account: str) -> ColumnElement[bool]:
    """Drafts of the account that may be on X without their tweet id recorded: being posted,
    waiting for a person after a lost answer, or held/queued again after an attempt of unknown
    outcome (`attempt_at` is set by every hand-off to X)."""
    attempted = and_(
        col(Draft.state).in_([DraftState.APPROVED, DraftState.HELD]),
        col(Draft.attempt_at).is_not(None),
    )
    return and_(
        func.lower(col(Draft.account)) == account.lower(),
        col(Draft.tweet_id).is_(None),
        or_(col(Draft.state).in_([DraftState.POSTING, DraftState.NEEDS_CHECK]), attempted),
    )


def _look_alike(tweet: Tweet, drafts: list[Draft]) -> Draft | None:
    """The in-flight draft this tweet may be the post of (same text, same reply/quote target),
    if any: UNSURE (a t.co link X did not expand) counts, as the publisher's recovery does."""
    for draft in drafts:
        verdict = post_match(draft, tweet)
        if verdict != Match.DIFFERENT:
            return draft
    return None


def store_timeline(
    ctx: ServiceContext, tweets: list[Tweet], *, account: str, watching_since: datetime
) -> TimelineOutcome:
    """Examine one page of @account's own tweets in one transaction: skip ours, defer in-flight
    look-alikes, credit native replies to their mentions, and (when `alerts.posts_around_brandbot`)
    record each new outside post with its alert queued — an insert that ignores a tweet already
    recorded, so overlapping polls and replicas alert once. Tweets from before the timeline was
    first polled (`watching_since`) only credit replies: brandbot was not watching then."""
    if not tweets:
        return TimelineOutcome()
    config = ctx.segments.config
    now = ctx.clock.now()
    outcome = TimelineOutcome()
    with ctx.transaction() as session:
        # In-flight drafts first, then the recorded ids: a post the publisher records between
        # the two reads is then seen as one or the other (PostgreSQL reads each statement anew).
        flying = list(session.scalars(select(Draft).where(in_flight(account))))
        ids = [t.id for t in tweets]
        ours = set(session.scalars(select(col(Draft.tweet_id)).where(col(Draft.tweet_id).in_(ids))))
        rows: list[dict[str, Any]] = []
        for tweet in sorted(tweets, key=lambda t: int(t.id)):
            if tweet.id in ours:
                continue
            history = tweet.created_at < watching_since - CLOCK_SKEW
            alike = _look_alike(tweet, flying)
            if alike is not None and (history or now - tweet.created_at < DEFER_LIMIT):
                if not history:
                    outcome.deferred.append(tweet.id)
                continue  # most likely our own post, about to be recorded
            if tweet.replied_to:
                outcome.credited.extend(replied_on_x(session, _native(tweet, account), now=now))
            if config.alerts.posts_around_brandbot and not history:
                rows.append(_row(tweet, account, now, alike))
        if rows:
            outcome.alerted.extend(_alert(ctx, session, rows, now))
    if outcome.alerted or outcome.credited:
        ctx.hooks.cards_changed()
    return outcome


def _native(tweet: Tweet, account: str) -> NativeReply:
    return NativeReply(
        tweet_id=tweet.id,
        account=account,
        conversation_id=tweet.conversation_id,
        replied_to=tweet.replied_to,
        replied_to_user=tweet.replied_to_user,
        created_at=tweet.created_at,
    )


def _row(tweet: Tweet, account: str, now: datetime, alike: Draft | None) -> dict[str, Any]:
    return {
        "tweet_id": tweet.id,
        "account": account,
        "text": tweet.text,
        "created_at": tweet.created_at,
        "source": tweet.source[:200] if tweet.source else None,
        "in_reply_to": tweet.replied_to,
        "resembles_draft": alike.id if alike is not None else None,
        "state": OutsidePostState.ALERTED,
        "version": 1,
        "seen_at": now,
        "updated_at": now,
    }


def _alert(
    ctx: ServiceContext, session: Session, rows: list[dict[str, Any]], now: datetime
) -> list[str]:
    stmt = insert_ignoring_conflicts(ctx.engine, table_of(OutsidePost)).returning(
        col(OutsidePost.tweet_id)
    )
    new = set(session.execute(stmt, rows).scalars())
    fresh = [r for r in rows if r["tweet_id"] in new]
    channel = ctx.segments.config.alert_channel
    cards = outbox.enqueue(
        session,
        [outbox.NewMessage(OUTSIDE_POST_ALERT, r["tweet_id"], channel) for r in fresh],
        now=now,
    )
    for row in fresh:
        session.execute(
            update(OutsidePost)
            .where(col(OutsidePost.tweet_id) == row["tweet_id"])
            .values(card_id=cards[row["tweet_id"]])
        )
        audit.record(
            session,
            actor=audit.SYSTEM,
            action="x.post_around_brandbot",
            subject=f"tweet:{row['tweet_id']}",
            at=now,
            after={
                "account": row["account"],
                "text": row["text"],
                "source": row["source"],
                "created_at": iso(row["created_at"]),
            },
        )
    return [r["tweet_id"] for r in fresh]
