"""The publish queue: approved drafts reach X exactly once, and never past a freeze.

A post goes through one **gate** right before X is called: a short transaction that checks the
freezes and the hourly limit and records the attempt (state POSTING, `attempt_at`) under the
publish-gate lock that `/brand freeze` takes exclusively. So a freeze either commits first (the
gate sees it and nothing is sent) or waits for the gate to commit (the freeze then sees the post
on its way and names it in its confirmation). Nothing else can slip between the two.

X has no idempotency key, so when an attempt's outcome is unknown (timeout, 5xx, a crash between
X's answer and our commit) the next attempt first looks for the post among the account's own
recent tweets, comparing the whole text — links by their expanded URLs — and the reply target
(`policies.tweet_match`). Found → recorded as posted; not surely ours → a person checks; surely
absent → posted again (X's duplicate-content 403 is the backstop). Every move of a draft is a
`bot.drafts.machine` transition, so each lands in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bot.alerts.outside_posts import recognised
from bot.core import audit, outbox
from bot.core.clock import iso
from bot.core.context import ServiceContext
from bot.core.db import is_postgres, rowcount, skip_locked
from bot.core.leader import live_owners
from bot.core.models import Draft, DraftState
from bot.core.worker import Worker
from bot.drafts import machine as draft_machine
from bot.drafts.matching import post_match
from bot.drafts.service import AUTHOR_DM
from bot.drafts.standing import rules_for
from bot.freeze.gate import FROZEN, account_gate, active_freeze, freeze_at, publish_gate
from bot.mentions.service import reply_posted
from bot.slack.directory import DirectoryUnavailable
from bot.x.gateway import (
    XDuplicate,
    XGateway,
    XRateLimited,
    XRejected,
    XReplyNotAllowed,
    XUnavailable,
)
from policies import draft_reasons as reasons
from policies.approvals import ApprovalRule, RuleProgress, all_met
from policies.tweet_match import Match

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=15)
FROZEN_RECHECK = timedelta(seconds=5)


@dataclass(frozen=True)
class Found:
    """What a search of the account's own tweets says about a post of unknown outcome."""

    match: Match
    tweet_id: str | None = None


@dataclass(kw_only=True)
class Publisher(Worker):
    ctx: ServiceContext
    gateway: XGateway
    owner: str
    timers: list[Callable[[], object]] = field(default_factory=list)  # e.g. freezes running out
    # The rules that apply to a draft now and how far it meets them (DraftService): checked right
    # before posting, so a reply whose mention moved to a stricter segment, or an approval by
    # someone since removed from the approvers, never posts on approvals it no longer has.
    approvals: Callable[[Draft], tuple[list[ApprovalRule], list[RuleProgress]]]
    lease_seconds: int = 60
    x_timeout: float = 10.0  # the gateway's request timeout
    # PostgreSQL, every replica running the leader election (bot/core/leader.py): a draft
    # leased by a replica no longer connected is taken at once, not when its lease runs out.
    take_from_the_dead: bool = False

    @property
    def repost_grace(self) -> timedelta:
        """How long after a worker's attempt another worker waits before posting it again when
        it took the draft over (an expired lease) and found nothing on X: the first request may
        still be on its way."""
        return timedelta(seconds=self.lease_seconds + 2 * self.x_timeout)

    def work(self) -> int:
        return self.publish_due()

    def publish_due(self) -> int:
        # The posts before the timers: a pass woken by an approval must not wait for the
        # timers' transactions (bench/approve_latency.py). The order changes no outcome: a
        # lapsing freeze releases nothing to post (what came due in it waits for a person, and
        # the gate holds it by the freeze's times even before the lapse is recorded). The
        # expiry still comes first, but only when a draft is to expire: one read finds both.
        now = self.ctx.clock.now()
        due, expiring = self._due(now)
        if expiring:
            self._expire_unapproved(now)
        published = sum(self._publish(draft_id) for draft_id in due)
        for timer in self.timers:
            timer()
        return published

    def _due(self, now: datetime) -> tuple[Sequence[int], bool]:
        """The drafts due to post now, oldest first, and whether a scheduled draft still
        waiting for approvals has reached its time."""
        with self.ctx.transaction(read_only=True) as session:
            # ids of stored rows: the column is Optional only until a row is inserted
            due = cast(
                Sequence[int],
                session.scalars(
                    select(col(Draft.id))
                    .where(
                        col(Draft.state).in_([DraftState.APPROVED, DraftState.POSTING]),
                        col(Draft.due_at) <= now,
                        self._lease_free(now),
                    )
                    .order_by(col(Draft.due_at), col(Draft.id))
                    .limit(50)
                ).all(),
            )
            expiring = session.execute(self._unapproved_at(now).limit(1)).first() is not None
        return due, expiring

    def _lease_free(self, now: datetime) -> ColumnElement[bool]:
        free = or_(col(Draft.lease_until).is_(None), col(Draft.lease_until) < now)
        if self.take_from_the_dead and is_postgres(self.ctx.engine):
            # Safe even if the owner only lost its connection for a moment: the gate refuses a
            # worker whose lease was taken, and a taker finding a post of unknown outcome
            # absent on X waits `repost_grace` before posting it again.
            return or_(free, col(Draft.lease_owner).not_in(live_owners()))
        return free

    @staticmethod
    def _unapproved_at(now: datetime) -> Select[Draft]:
        return select(Draft).where(
            col(Draft.state) == DraftState.PENDING, col(Draft.schedule_at) <= now
        )

    def _expire_unapproved(self, now: datetime) -> None:
        """A scheduled draft still waiting for approvals at its time expires and tells its author
        (posting it late could be wrong; the author can draft it again)."""
        with self.ctx.transaction() as session:
            expired = session.scalars(self._unapproved_at(now)).all()
            for draft in expired:
                moved = draft_machine.move(
                    session,
                    draft,
                    "expire",
                    actor=audit.SYSTEM,
                    at=now,
                    after={"schedule_at": iso(draft.schedule_at)},
                )
                if moved:
                    outbox.enqueue(
                        session,
                        [outbox.NewMessage(AUTHOR_DM, str(draft.id), draft.author_id)],
                        now=now,
                    )
        if expired:
            self.ctx.hooks.cards_changed()

    # -- one post ---------------------------------------------------------------------------

    def _publish(self, draft_id: int) -> bool:
        leased = self._lease(draft_id)
        if leased is None:
            return False
        draft, took_over = leased
        outcome_unknown = draft.state == DraftState.POSTING  # an earlier attempt never finished
        if outcome_unknown:
            try:
                found = self._find_posted(draft)
            except XUnavailable as exc:
                self._unlease(draft, due=self._backoff(draft), error=str(exc))
                return False
            if found.match == Match.SAME and found.tweet_id:
                return self._posted(draft, found.tweet_id, recovered=True)
            if found.match == Match.UNSURE:
                return self._stop(draft, "needs_check", _UNSURE)
            patient_until = (draft.attempt_at or draft.created_at) + self.repost_grace
            if took_over and self.ctx.clock.now() < patient_until:
                self._unlease(draft, due=patient_until, error=_STRAGGLER)
                return False
        try:
            rules, progress = self.approvals(draft)
        except DirectoryUnavailable:
            self._unlease(draft, due=self._backoff(draft), error=_NO_DIRECTORY)
            return False
        if not all_met(progress):
            return self._approvals_lost(draft, progress)
        attempt = self._pass_gate(draft, outcome_unknown=outcome_unknown, rules=rules)
        if attempt is None:  # held, or back to wait: its card may say why now (after commit)
            self.ctx.hooks.cards_changed()
            return False
        try:
            tweet_id = self.gateway.post(
                attempt.account,
                attempt.text,
                in_reply_to=attempt.in_reply_to,
                quote_of=attempt.quote_of,
            )
        except XDuplicate:
            return self._after_duplicate(attempt)
        except XRateLimited as exc:
            # X refused before creating anything; only an earlier attempt may still be on X.
            event = "post_unknown" if outcome_unknown else "post_deferred"
            self._attempt_ended(attempt, event, due=exc.retry_at, error=str(exc))
            return False
        except XUnavailable as exc:
            self._attempt_ended(attempt, "post_unknown", due=None, error=str(exc))
            return False
        except XReplyNotAllowed:  # X's 2026 reply rule: no retry can help, never retried
            return self._stop(attempt, "failed", reasons.reply_rule_refusal(attempt.account))
        except XRejected as exc:
            return self._stop(attempt, "failed", str(exc))
        return self._posted(attempt, tweet_id, recovered=False)

    def _lease(self, draft_id: int) -> tuple[Draft, bool] | None:
        """Take the draft for this worker (no state change: the gate records the attempt); also
        say whether it was taken over from another worker whose lease ran out."""
        now = self.ctx.clock.now()
        with self.ctx.transaction() as session:
            # Another replica's worker on this draft holds its row: skip it, don't queue behind.
            free = session.execute(
                skip_locked(
                    select(col(Draft.lease_owner)).where(
                        col(Draft.id) == draft_id,
                        col(Draft.state).in_([DraftState.APPROVED, DraftState.POSTING]),
                        self._lease_free(now),
                    ),
                    self.ctx.engine,
                )
            ).first()
            if free is None:
                return None
            previous = free[0]
            leased = rowcount(
                session.execute(
                    update(Draft)
                    .where(
                        and_(
                            col(Draft.id) == draft_id,
                            col(Draft.state).in_([DraftState.APPROVED, DraftState.POSTING]),
                            self._lease_free(now),
                        )
                    )
                    .values(
                        lease_owner=self.owner,
                        lease_until=now + timedelta(seconds=self.lease_seconds),
                    )
                )
            )
            if leased != 1:
                return None
            draft = session.get(Draft, draft_id, populate_existing=True)
            assert draft is not None
            return draft, previous not in (None, self.owner)

    def _approvals_lost(self, draft: Draft, progress: list[RuleProgress]) -> bool:
        missing = [
            f"{p.missing} more from {p.rule.segment} ({p.rule.reason})"
            for p in progress
            if not p.met
        ]
        self._end(
            draft,
            "approvals_lost",
            values={"due_at": None},
            after={"missing": missing or ["no approval rule applies any more"]},
        )
        return False

    def _pass_gate(
        self, draft: Draft, *, outcome_unknown: bool, rules: list[ApprovalRule]
    ) -> Draft | None:
        """The last check before X, under the publish gate: not frozen now, not due during a
        freeze that has ended since, within the hourly limit. Records the attempt, or returns
        None having put the draft back to wait (or held it for a person)."""
        now = self.ctx.clock.now()
        with self.ctx.transaction() as session:
            publish_gate(session, exclusive=False)
            current = session.get(Draft, draft.id, populate_existing=True)
            if (
                current is None
                or current.lease_owner != self.owner
                or current.state not in (DraftState.APPROVED, DraftState.POSTING)
            ):
                return None
            if rules_for(session, self.ctx.segments, current) != rules:  # changed since we counted
                self._wait(session, current, now, reason=_RULES_CHANGED, due=now)
                return None
            freeze = active_freeze(session, current.account, now)
            if freeze is not None:
                reason = f"{FROZEN} by {freeze.frozen_by_name}: {freeze.reason}"
                self._wait(session, current, now, reason=reason, due=now + FROZEN_RECHECK)
                return None
            ended = self._came_due_while_frozen(session, current)
            if ended is not None:
                draft_machine.move(
                    session,
                    current,
                    "hold",
                    actor=audit.SYSTEM,
                    at=now,
                    values={
                        "held_reason": "held when the freeze ended: release it or reject it",
                        "lease_owner": None,
                        "lease_until": None,
                    },
                    after={"why": ended, "came_due": iso(current.due_at)},
                )
                return None
            late = self._late(current, now)
            if late is not None:  # surely not on X (searched above if it may have been)
                draft_machine.move(
                    session,
                    current,
                    "hold_stale",
                    actor=audit.SYSTEM,
                    at=now,
                    values={"held_reason": late, "lease_owner": None, "lease_until": None},
                    after={"wanted_at": iso(current.wanted_at), "why": late},
                )
                return None
            limit = self._hourly_limit(session, current, now)
            if limit is not None:
                # Waiting for its slot is the plan, not lateness: the card names the slot, so
                # lateness counts from it (an outage or a freeze after that still counts).
                wanted = max(current.wanted_at, limit[1]) if current.wanted_at else None
                self._wait(session, current, now, reason=limit[0], due=limit[1], wanted_at=wanted)
                return None
            attempt = current.attempts + 1
            moved = draft_machine.move(
                session,
                current,
                "attempt",
                actor=audit.SYSTEM,
                at=now,
                where=col(Draft.lease_owner) == self.owner,
                values={
                    "attempt_at": current.attempt_at if outcome_unknown else now,
                    "attempts": attempt,
                    "held_reason": None,
                },
                after={"attempt": attempt, "account": current.account},
            )
            if not moved:
                return None
            return session.get(Draft, draft.id, populate_existing=True)

    def _late(self, draft: Draft, now: datetime) -> str | None:
        """Why a post would go out too long after its approvers meant it to (X was down, a
        freeze), if it would: then a person confirms it is still right. A wait for the hourly
        limit's next slot moves `wanted_at` to that slot (see `_pass_gate`)."""
        if draft.wanted_at is None:
            return None
        segment = self.ctx.segments.config.segments.get(draft.segment)
        minutes = segment.stale_after_minutes if segment is not None else 30
        late = now - draft.wanted_at
        if late <= timedelta(minutes=minutes):
            return None
        wanted = draft.wanted_at
        return (
            f"{reasons.STALE} it was meant to go out at {wanted:%H:%M} UTC on {wanted:%d %b}"
            f" ({int(late.total_seconds() // 60)} min ago, more than {minutes}): an approver confirms it is still right, or rejects it"
        )[:200]

    def _came_due_while_frozen(self, session: Session, draft: Draft) -> str | None:
        """A draft that came due during a freeze that has ended since waits for a person, however
        late the publisher looks at it (a busy loop may first see it after a timer ran out)."""
        if (draft.held_reason or "").startswith(FROZEN):
            return "held by a freeze"
        past = freeze_at(session, draft.account, draft.due_at) if draft.due_at else None
        return f"freeze {past.id}" if past is not None else None

    def _hourly_limit(
        self, session: Session, draft: Draft, now: datetime
    ) -> tuple[str, datetime] | None:
        account = self.ctx.segments.config.account(draft.account)
        account_gate(session, draft.account)  # one count at a time per account, until commit
        hour_ago = now - timedelta(hours=1)
        # A post whose outcome is unknown may be on X already: it counts until we know, from its
        # latest move (each hand-off to X is one; `attempt_at` keeps the first, for the search).
        sent_at = func.coalesce(col(Draft.posted_at), col(Draft.updated_at))
        may_be_on_x = col(Draft.state).in_(
            [DraftState.POSTED, DraftState.POSTING, DraftState.NEEDS_CHECK]
        )
        recent = session.execute(
            select(func.count(), func.min(sent_at)).where(
                col(Draft.account) == draft.account,
                col(Draft.id) != draft.id,
                may_be_on_x,
                sent_at > hour_ago,
            )
        ).one()
        if recent[0] < account.max_posts_per_hour:
            return None
        next_slot = recent[1] + timedelta(hours=1)
        return (
            f"@{draft.account} posted {recent[0]} tweets in the last hour (limit {account.max_posts_per_hour}); next slot {next_slot:%H:%M} UTC",
            next_slot,
        )

    def _wait(
        self,
        session: Session,
        draft: Draft,
        now: datetime,
        *,
        reason: str,
        due: datetime | None,
        wanted_at: datetime | None = None,
    ) -> None:
        """Back to the queue until `due`, the card saying why (not a state change)."""
        # Read before the UPDATE: it refreshes `draft` when the session holds it.
        reason_changed = draft.held_reason != reason
        moved = {"wanted_at": wanted_at} if wanted_at is not None else {}
        session.execute(
            update(Draft)
            .where(col(Draft.id) == draft.id, col(Draft.lease_owner) == self.owner)
            .values(held_reason=reason, due_at=due, lease_owner=None, lease_until=None, **moved)
        )
        if reason_changed:
            outbox.mark_changed(session, draft.card_id, now=now)

    # -- outcomes ---------------------------------------------------------------------------

    def _find_posted(self, draft: Draft) -> Found:
        """Look for the draft's post among the account's own tweets since its attempt."""
        since = (draft.attempt_at or draft.created_at) - timedelta(minutes=2)
        try:
            tweets = self.gateway.recent_posts(draft.account, since=since)
        except (XUnavailable, XRejected) as exc:
            raise XUnavailable(f"could not check recent tweets: {exc}") from exc
        verdicts = {t.id: post_match(draft, t) for t in tweets}
        candidates = [i for i, v in verdicts.items() if v != Match.DIFFERENT]
        with self.ctx.transaction(read_only=True) as session:
            taken = set(
                session.scalars(
                    select(col(Draft.tweet_id)).where(
                        col(Draft.tweet_id).in_(candidates),
                        col(Draft.id) != draft.id,
                    )
                )
            )
        same = [i for i in candidates if verdicts[i] == Match.SAME and i not in taken]
        if same:
            return Found(Match.SAME, min(same, key=int))
        if any(verdicts[i] == Match.UNSURE for i in candidates if i not in taken):
            return Found(Match.UNSURE)
        return Found(Match.DIFFERENT)

    def _after_duplicate(self, attempt: Draft) -> bool:
        """X says the account already has this text: ours from an earlier attempt, or not."""
        try:
            found = self._find_posted(attempt)
        except XUnavailable as exc:
            self._attempt_ended(attempt, "post_unknown", due=None, error=str(exc))
            return False
        if found.match == Match.SAME and found.tweet_id:
            return self._posted(attempt, found.tweet_id, recovered=True)
        return self._stop(
            attempt,
            "needs_check",
            "X says this account already posted this text, and I can't find it among its recent tweets: check the account before retrying.",
        )

    def _posted(self, draft: Draft, tweet_id: str, *, recovered: bool) -> bool:
        now = self.ctx.clock.now()
        try:
            with self.ctx.transaction() as session:
                # Guarded by the draft's version as this worker last moved it: X gave us the
                # tweet, so we record it even if our lease ran out meanwhile — unless another
                # worker has moved the draft since (it then records or finds the tweet itself).
                recorded = draft_machine.move(
                    session,
                    draft,
                    "post",
                    actor=audit.SYSTEM,
                    at=now,
                    values={
                        "tweet_id": tweet_id,
                        "posted_at": now,
                        "lease_owner": None,
                        "lease_until": None,
                        "last_error": None,
                        "due_at": None,
                    },
                    after={
                        "tweet_id": tweet_id,
                        "url": f"https://x.com/{draft.account}/status/{tweet_id}",
                        "account": draft.account,
                        "recovered": recovered,
                    },
                )
                if recorded:
                    posted = session.get(Draft, draft.id, populate_existing=True)
                    assert posted is not None
                    reply_posted(session, posted, now=now)
                    recognised(session, str(posted.tweet_id), now=now)  # an alert for it?
        except IntegrityError:  # another draft already has this tweet: never share it
            return self._stop(
                draft,
                "needs_check",
                f"X's tweet {tweet_id} is already recorded for another draft: check the account before retrying.",
            )
        if recorded:
            self.ctx.hooks.cards_changed()
        return recorded

    def _attempt_ended(
        self, attempt: Draft, event: str, *, due: datetime | None, error: str
    ) -> None:
        """The attempt got no tweet id: back to the queue (POSTING means "maybe on X", so the
        next attempt searches first)."""
        self._end(
            attempt,
            event,
            values={"due_at": due or self._backoff(attempt), "last_error": error},
            after={"error": error, "attempt": attempt.attempts},
        )
        log.warning("draft %s not posted yet: %s", attempt.id, error)

    def _unlease(self, draft: Draft, *, due: datetime, error: str) -> None:
        """Nothing was sent (e.g. the search before a re-post failed): look again later."""
        with self.ctx.transaction() as session:
            session.execute(
                update(Draft)
                .where(col(Draft.id) == draft.id, col(Draft.lease_owner) == self.owner)
                .values(due_at=due, lease_owner=None, lease_until=None, last_error=error)
            )
            outbox.mark_changed(session, draft.card_id, now=self.ctx.clock.now())
        self.ctx.hooks.cards_changed()
        log.warning("draft %s not posted yet: %s", draft.id, error)

    def _backoff(self, draft: Draft) -> datetime:
        return self.ctx.clock.now() + min(
            MAX_BACKOFF, timedelta(seconds=2 ** min(draft.attempts, 10))
        )

    def _stop(self, draft: Draft, event: str, error: str) -> bool:
        self._end(
            draft, event, values={"last_error": error, "due_at": None}, after={"error": error}
        )
        return False

    def _end(
        self, draft: Draft, event: str, *, values: dict[str, Any], after: dict[str, Any]
    ) -> None:
        """Move a draft this worker holds, and let the lease go. Only while we hold it: a worker
        that took over an expired lease may have moved it already."""
        with self.ctx.transaction() as session:
            current = session.get(Draft, draft.id, populate_existing=True)
            if current is not None:
                draft_machine.move(
                    session,
                    current,
                    event,
                    actor=audit.SYSTEM,
                    at=self.ctx.clock.now(),
                    where=col(Draft.lease_owner) == self.owner,
                    values={"lease_owner": None, "lease_until": None, **values},
                    after=after,
                )
        self.ctx.hooks.cards_changed()


_STRAGGLER = reasons.STRAGGLER
_NO_DIRECTORY = "I couldn't check its approvers with Slack just now; trying again shortly."
_RULES_CHANGED = "Its approval rules changed just now; checking again."
_UNSURE = (
    "A tweet on the account looks like this draft, but X did not say where its links go, so I "
    "can't tell whether it is this post: check the account before retrying."
)
