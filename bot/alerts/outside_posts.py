"""The alert about a tweet posted around brandbot (raised by bot/alerts/timeline.py) and what
people do with it.

The alert's lifecycle is a state machine like the others (TRANSITIONS, one `_move` that updates
the row on its version, redraws the card and appends the audit entry). Delete from X needs two
different people, admins included; the confirmation claims the take-down first, so X is called
once however many click.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import select, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.context import ServiceContext
from bot.core.db import rowcount
from bot.core.errors import ActionRefused
from bot.core.guard import Checkpoint
from bot.core.models import Draft, OutsidePost, OutsidePostState, SlackMessage
from bot.core.outbox import Rendered
from bot.mentions.service import native_reply_taken_down
from bot.slack.cards.outside_post_alert import (
    MAX_REASON,
    ExpectedContext,
    build_outside_post_alert,
    fallback_text,
)
from bot.slack.clicks import Click
from bot.x.gateway import XGateway, XNotFound, XRejected, XUnavailable
from policies import permissions
from policies.approvals import is_member
from policies.config.schema import CRISIS_SEGMENT

OUTSIDE_POST_ALERT = "outside_post_alert"
DELETE_TIMEOUT = timedelta(minutes=2)  # a take-down X never answered may be confirmed again
S = OutsidePostState

# event -> (states it may start from, state it ends in); `outside_post.<event>` is the audit action
TRANSITIONS: dict[str, tuple[frozenset[OutsidePostState], OutsidePostState]] = {
    "expected": (frozenset({S.ALERTED, S.DELETE_REQUESTED}), S.EXPECTED),
    # from DELETE_REQUESTED: the one who asked lost the role, so a new request replaces theirs
    "delete_requested": (
        frozenset({S.ALERTED, S.EXPECTED, S.DELETE_REQUESTED}),
        S.DELETE_REQUESTED,
    ),
    "delete_confirmed": (frozenset({S.DELETE_REQUESTED, S.DELETING}), S.DELETING),
    "deleted": (frozenset({S.DELETING}), S.DELETED),
    "gone": (frozenset({S.DELETING}), S.GONE),
    "delete_failed": (frozenset({S.DELETING}), S.DELETE_REQUESTED),
}


def outside_post_renderer(session: Session, message: SlackMessage) -> Rendered:
    post = session.get(OutsidePost, message.subject_id)
    if post is None:
        return Rendered(text="(alert no longer available)", blocks=[])
    # The publisher (or Mark as posted) may record it as a draft's post after the alert went out.
    draft = session.scalars(
        select(col(Draft.id)).where(col(Draft.tweet_id) == post.tweet_id)
    ).first()
    blocks = build_outside_post_alert(post, recognised_as=draft)
    return Rendered(text=fallback_text(post), blocks=blocks)


def recognised(session: Session, tweet_id: str, *, now: datetime) -> None:
    """A draft's post was just recorded as `tweet_id` (in the caller's transaction): if an alert
    went out for that tweet (its deferral ran out first), redraw it — it now says whose it is."""
    card_id = session.scalars(
        select(col(OutsidePost.card_id)).where(col(OutsidePost.tweet_id) == tweet_id)
    ).first()
    outbox.mark_changed(session, card_id, now=now)


class OutsidePostService:
    """What people do with an alert: Expected (admins, with a reason) and Delete from X (two
    different people among the admins and the alert segment's approvers)."""

    def __init__(self, ctx: ServiceContext, *, gateway: XGateway | None = None) -> None:
        self._ctx = ctx
        self._gateway = gateway

    def expected_form(self, click: Click) -> tuple[ExpectedContext, OutsidePost]:
        """What the Expected form needs. A non-admin is told at once rather than after typing a
        reason (the directory is cached, well within Slack's 3 s); submitting checks again."""
        post = self._locate(click, "expected")
        check = self._checkpoint(click, post, "expected")
        check.require(permissions.may_mark_expected(is_admin=check.is_admin()))
        if post.state not in TRANSITIONS["expected"][0]:
            raise ActionRefused(f"It is {post.state.replace('_', ' ')} already; nothing to record.")
        return ExpectedContext(post.tweet_id, click.channel, click.message_ts), post

    def mark_expected(self, click: Click, *, reason: str) -> str:
        post = self._locate(click, "expected")
        check = self._checkpoint(click, post, "expected")
        check.require(permissions.may_mark_expected(is_admin=check.is_admin()))
        reason = reason.strip()
        if not reason:
            raise ActionRefused("Say why it was expected: the reason goes in the audit log.")
        if len(reason) > MAX_REASON:
            raise ActionRefused(f"Keep the reason under {MAX_REASON} characters.")
        actor = self._ctx.actor(click.person)
        values = {
            "expected_by": actor.id,
            "expected_by_name": actor.name,
            "expected_reason": reason,
            "expected_at": self._ctx.clock.now(),
            "delete_requested_by": None,
            "delete_requested_at": None,
        }
        if not self._move(post, "expected", actor, values, after={"reason": reason}):
            raise ActionRefused(self._changed(post.tweet_id))
        return "Recorded as expected; the alert says why."

    def delete(self, click: Click) -> str:
        """Delete from X: the first eligible click asks, a different person's click confirms."""
        post = self._locate(click, "delete")
        now = self._ctx.clock.now()
        stale = post.state == S.DELETING and post.updated_at < now - DELETE_TIMEOUT
        if post.state in (S.DELETED, S.GONE):
            return f"Already deleted from X by <@{post.deleted_by}>."
        if post.state == S.DELETING and not stale:
            return f"<@{post.deleted_by}> is deleting it from X right now."
        check = self._checkpoint(click, post, "delete")
        user = click.person.user_id
        is_admin = check.is_admin()
        approvers = self._approvers()
        is_approver = bool(approvers) and is_member(user, approvers, check.members(approvers))
        check.require(
            permissions.may_delete_outside_post(is_admin=is_admin, is_approver=is_approver)
        )
        actor = self._ctx.actor(click.person)
        requested_by = post.delete_requested_by if post.state != S.EXPECTED else None
        if requested_by is not None and requested_by != user:
            # The first of the two people must still be one: removed since asking, no longer.
            admins = list(self._ctx.segments.admins)
            still = is_member(requested_by, admins, check.members(admins)) or (
                bool(approvers) and is_member(requested_by, approvers, check.members(approvers))
            )
            requested_by = requested_by if still else None
        confirm = permissions.may_confirm_outside_delete(user_id=user, requested_by=requested_by)
        if requested_by == user:
            check.require(confirm)  # the same person twice: refused, and audited
        if not confirm.allowed:
            asked = self._move(
                post,
                "delete_requested",
                actor,
                {"delete_requested_by": user, "delete_requested_at": now},
                after={"requested_by": user},
            )
            if not asked:
                raise ActionRefused(self._changed(post.tweet_id))
            return "Deletion requested: a different person must confirm Delete from X on the alert."
        return self._take_down(post, actor, requested_by=str(requested_by))

    def _take_down(self, post: OutsidePost, actor: audit.Actor, *, requested_by: str) -> str:
        """Claim the take-down, then call X once and record what it said."""
        if not self._move(
            post,
            "delete_confirmed",
            actor,
            {"deleted_by": actor.id},
            after={"requested_by": requested_by, "confirmed_by": actor.id},
        ):
            return self._delete_outcome(post.tweet_id)
        deleting = self._post(post.tweet_id)
        try:
            if self._gateway is None:
                raise XRejected("deleting from X is not configured here")
            self._gateway.delete(post.account, post.tweet_id)
        except XNotFound:
            self._move(deleting, "gone", actor, {"deleted_at": self._ctx.clock.now()})
            return "X no longer had it (it was deleted there already); the alert says so."
        except (XRejected, XUnavailable) as exc:
            self._move(
                deleting,
                "delete_failed",
                actor,
                {"deleted_by": None, "last_error": str(exc)[:500]},
                after={"error": str(exc)},
            )
            raise ActionRefused(
                f"X did not delete it ({exc}). It is still on X: try Confirm delete again in a moment."
            ) from exc
        self._move(
            deleting,
            "deleted",
            actor,
            {"deleted_at": self._ctx.clock.now(), "last_error": None},
            after={"requested_by": requested_by, "confirmed_by": actor.id},
        )
        return "Deleted from X."

    # -- helpers ----------------------------------------------------------------------------

    def _approvers(self) -> list[str]:
        """The approvers of the segment whose channel alerts go to (crisis management's by
        default): they may ask for and confirm a take-down, beside the admins."""
        config = self._ctx.segments.config
        segment = self._ctx.segments.for_channel(config.alert_channel)
        if segment is None and CRISIS_SEGMENT in config.segments:
            segment = CRISIS_SEGMENT
        return list(config.segments[segment].approvers) if segment else []

    def _move(
        self,
        post: OutsidePost,
        event: str,
        actor: audit.Actor,
        values: dict[str, Any],
        *,
        after: dict[str, Any] | None = None,
    ) -> bool:
        """Move the alert by `event` if it is still as last read (its version and state); redraw
        the card and append `outside_post.<event>` in the same transaction."""
        sources, target = TRANSITIONS[event]
        if post.state not in sources:
            return False
        now = self._ctx.clock.now()
        with self._ctx.transaction() as session:
            result = session.execute(
                update(OutsidePost)
                .where(
                    col(OutsidePost.tweet_id) == post.tweet_id,
                    col(OutsidePost.version) == post.version,
                    col(OutsidePost.state) == post.state,
                )
                .values(
                    state=target, version=col(OutsidePost.version) + 1, updated_at=now, **values
                )
            )
            if rowcount(result) != 1:
                return False
            outbox.mark_changed(session, post.card_id, now=now)
            if target in (S.DELETED, S.GONE):  # a reply it was: its customer has no answer now
                native_reply_taken_down(session, post.tweet_id, now=now)
            audit.record(
                session,
                actor=actor,
                action=f"outside_post.{event}",
                subject=f"tweet:{post.tweet_id}",
                at=now,
                before={"state": str(post.state)},
                after={"state": str(target), "account": post.account, **(after or {})},
            )
        self._ctx.hooks.cards_changed()
        return True

    def _post(self, tweet_id: str) -> OutsidePost:
        with self._ctx.transaction(read_only=True) as session:
            post = session.get(OutsidePost, tweet_id)
        assert post is not None
        return post

    def _changed(self, tweet_id: str) -> str:
        post = self._post(tweet_id)
        if post.state == S.DELETE_REQUESTED:
            return (
                f"<@{post.delete_requested_by}> asked to delete it just now; if you agree, "
                "press Confirm delete from X on the alert."
            )
        return f"Someone changed this alert just now (it is {post.state.replace('_', ' ')}); the card shows the latest."

    def _delete_outcome(self, tweet_id: str) -> str:
        """What a confirmation that lost the race to another one is told."""
        post = self._post(tweet_id)
        if post.state in (S.DELETED, S.GONE):
            return f"Already deleted from X by <@{post.deleted_by}>."
        if post.state == S.DELETING:
            return f"<@{post.deleted_by}> is deleting it from X right now."
        raise ActionRefused(self._changed(tweet_id))

    def _locate(self, click: Click, action: str) -> OutsidePost:
        """The alert clicked, found by where the click happened; what the button says is only
        cross-checked."""
        with self._ctx.transaction(read_only=True) as session:
            card = self._ctx.card_at(session, OUTSIDE_POST_ALERT, click)
            post = session.get(OutsidePost, card.subject_id) if card else None
        if post is None:
            self._refuse(click, None, action, "That message isn't one of my alerts.")
        assert post is not None
        if click.value is not None and click.value != post.tweet_id:
            self._refuse(
                click, post, action, "That button doesn't match its alert; nothing was changed."
            )
        with self._ctx.transaction() as session:
            draft = session.scalars(
                select(col(Draft.id)).where(col(Draft.tweet_id) == post.tweet_id)
            ).first()
        if draft is not None:  # redrawn without buttons, but a stale client still sends them
            self._refuse(
                click,
                post,
                action,
                f"This is brandbot's post of draft #{draft}, approved there: take it down from "
                "the draft's card.",
            )
        return post

    def _checkpoint(self, click: Click, post: OutsidePost | None, action: str) -> Checkpoint:
        subject = f"tweet:{post.tweet_id if post else 'unknown'}"
        return Checkpoint(self._ctx, click.person, click.channel, "outside_post", subject, action)

    def _refuse(self, click: Click, post: OutsidePost | None, action: str, reason: str) -> NoReturn:
        self._checkpoint(click, post, action).refuse(reason)
