"""The publish queue: approved drafts reach X exactly once.

Each post is recorded as an attempt (state POSTING, attempt_at) in the database *before* X is
called. X has no idempotency key, so when an attempt's outcome is unknown (timeout, 5xx, a crash
between X's answer and our commit) the next attempt first looks for the text among the
account's own recent tweets. A 403 "duplicate content" after an unknown outcome means "maybe
posted": found → recorded as posted; not found → a person must check (never a blind retry).
Freezes and the per-account hourly limit hold drafts in the queue; nothing is dropped.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select, update

from bot import audit, outbox
from bot.clock import Clock
from bot.db import transaction
from bot.drafts import AUTHOR_DM, record_draft_change
from bot.models import Draft, DraftState, Freeze
from bot.segments import SegmentCatalog
from bot.worker import Worker
from bot.x_gateway import XDuplicate, XGateway, XRateLimited, XRejected, XUnavailable

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=15)
FROZEN = "frozen"  # held_reason prefix of drafts a freeze is holding
_URL = re.compile(r"https?://\S+")


def comparable(text: str) -> str:
    """Text as X may give it back: links rewritten to t.co, entities escaped, spaces trimmed."""
    return _URL.sub("<url>", html.unescape(text)).strip()


def active_freeze(session: object, account: str, now: datetime) -> Freeze | None:
    """The freeze in force for this account (or all accounts), if any."""
    return session.scalars(  # type: ignore[attr-defined, no-any-return]
        select(Freeze)
        .where(
            Freeze.scope.in_(["all", account.lower()]),  # type: ignore[attr-defined]
            Freeze.lifted_at.is_(None),  # type: ignore[union-attr]
            or_(Freeze.until.is_(None), Freeze.until > now),  # type: ignore[union-attr, operator]
        )
        .order_by(Freeze.id.desc())  # type: ignore[union-attr]
        .limit(1)
    ).first()


@dataclass(kw_only=True)
class Publisher(Worker):
    engine: Engine
    gateway: XGateway
    segments: SegmentCatalog
    clock: Clock
    owner: str
    on_change: Callable[[], None] = lambda: None
    timers: list[Callable[[], object]] = field(default_factory=list)  # e.g. freezes running out
    lease_seconds: int = 60

    def work(self) -> int:
        return self.publish_due()

    def publish_due(self) -> int:
        now = self.clock.now()
        for timer in self.timers:
            timer()
        self._expire_unapproved(now)
        free = or_(Draft.lease_until.is_(None), Draft.lease_until < now)  # type: ignore[union-attr, operator]
        with transaction(self.engine) as session:
            due = session.scalars(
                select(Draft.id)
                .where(
                    Draft.state.in_([DraftState.APPROVED, DraftState.POSTING]),  # type: ignore[attr-defined]
                    Draft.due_at <= now,  # type: ignore[operator, arg-type]
                    free,
                )
                .order_by(Draft.due_at, Draft.id)
                .limit(50)
            ).all()
        return sum(self._publish(draft_id) for draft_id in due)

    def _expire_unapproved(self, now: datetime) -> None:
        """A scheduled draft still waiting for approvals at its time expires and tells its author
        (posting it late could be wrong; the author can draft it again)."""
        with transaction(self.engine) as session:
            expired = session.scalars(
                select(Draft).where(Draft.state == DraftState.PENDING, Draft.schedule_at <= now)  # type: ignore[arg-type, operator]
            ).all()
            for draft in expired:
                draft.state = DraftState.EXPIRED
                draft.version += 1
                session.add(draft)
                outbox.mark_changed(session, draft.card_id, now=now)  # type: ignore[arg-type]
                outbox.enqueue(
                    session, [outbox.NewMessage(AUTHOR_DM, str(draft.id), draft.author_id)], now=now
                )
                audit.record(
                    session,
                    actor=audit.SYSTEM,
                    action="draft.expire",
                    subject=f"draft:{draft.id}",
                    at=now,
                    after={
                        "schedule_at": draft.schedule_at.isoformat() if draft.schedule_at else None
                    },
                )
        if expired:
            self.on_change()

    def _publish(self, draft_id: int) -> bool:
        attempt = self._begin_attempt(draft_id)
        if attempt is None:
            return False
        draft, outcome_unknown = attempt
        try:
            if outcome_unknown and (found := self._find_posted(draft)) is not None:
                return self._posted(draft, found, recovered=True)
            if self._frozen_now(
                draft, outcome_unknown=outcome_unknown
            ):  # the last check before X: a freeze wins every race
                return False
            tweet_id = self.gateway.post(draft.account, draft.text, in_reply_to=draft.in_reply_to)
        except XDuplicate:
            found = self._find_posted(draft)
            if found is not None:
                return self._posted(draft, found, recovered=True)
            self._stop(
                draft,
                DraftState.NEEDS_CHECK,
                "X says this account already posted this text, and I can't find it among its recent tweets: check the account before retrying.",
            )
            return False
        except XRateLimited as exc:
            self._retry_later(draft, at=exc.retry_at, error=str(exc), known_not_posted=True)
            return False
        except XUnavailable as exc:
            self._retry_later(draft, at=None, error=str(exc), known_not_posted=False)
            return False
        except XRejected as exc:
            self._stop(draft, DraftState.FAILED, str(exc))
            return False
        return self._posted(draft, tweet_id, recovered=False)

    def _begin_attempt(self, draft_id: int) -> tuple[Draft, bool] | None:
        """Lease the draft and record the attempt before X is called; None if it must wait."""
        now = self.clock.now()
        with transaction(self.engine) as session:
            draft = session.get(Draft, draft_id)
            if draft is None or draft.state not in (DraftState.APPROVED, DraftState.POSTING):
                return None
            hold = self._hold_reason(session, draft, now)
            if hold is not None:
                reason, until = hold
                if draft.held_reason != reason:
                    draft.held_reason = reason
                    outbox.mark_changed(session, draft.card_id, now=now)  # type: ignore[arg-type]
                # Frozen: look again in a few seconds (a lifted freeze holds it for release);
                # over the hourly limit: wait for the next free slot.
                draft.due_at = now + timedelta(seconds=5) if reason.startswith(FROZEN) else until
                session.add(draft)
                return None
            if (draft.held_reason or "").startswith(FROZEN):
                # The freeze that held it has ended (its timer ran out): a person decides.
                draft.state = DraftState.HELD
                draft.held_reason = "held when the freeze ended: release it or reject it"
                draft.version += 1
                session.add(draft)
                outbox.mark_changed(session, draft.card_id, now=now)  # type: ignore[arg-type]
                return None
            outcome_unknown = draft.state == DraftState.POSTING  # an earlier attempt never finished
            leased = session.execute(
                update(Draft)
                .where(
                    and_(
                        Draft.id == draft_id,  # type: ignore[arg-type]
                        Draft.version == draft.version,  # type: ignore[arg-type]
                        or_(Draft.lease_until.is_(None), Draft.lease_until < now),  # type: ignore[union-attr, operator]
                    )
                )
                .values(
                    state=DraftState.POSTING,
                    attempt_at=draft.attempt_at if outcome_unknown else now,
                    attempts=Draft.attempts + 1,
                    lease_owner=self.owner,
                    lease_until=now + timedelta(seconds=self.lease_seconds),
                    held_reason=None,
                    version=Draft.version + 1,
                )
            ).rowcount  # type: ignore[attr-defined]
            if leased != 1:
                return None
            session.refresh(draft)
            return draft, outcome_unknown

    def _hold_reason(
        self, session: object, draft: Draft, now: datetime
    ) -> tuple[str, datetime | None] | None:
        freeze = active_freeze(session, draft.account, now)
        if freeze is not None:
            return f"{FROZEN} by {freeze.frozen_by_name}: {freeze.reason}", freeze.until
        account = self.segments.config.account(draft.account)
        hour_ago = now - timedelta(hours=1)
        recent = session.execute(  # type: ignore[attr-defined]
            select(func.count(), func.min(Draft.posted_at)).where(
                Draft.account == draft.account,
                Draft.state == DraftState.POSTED,
                Draft.posted_at > hour_ago,  # type: ignore[arg-type, operator]
            )
        ).one()
        if recent[0] >= account.max_posts_per_hour:
            next_slot = recent[1] + timedelta(hours=1)
            return (
                f"@{draft.account} posted {recent[0]} tweets in the last hour (limit {account.max_posts_per_hour}); next slot {next_slot:%H:%M} UTC",
                next_slot,
            )
        return None

    def _frozen_now(self, draft: Draft, *, outcome_unknown: bool) -> bool:
        now = self.clock.now()
        with transaction(self.engine) as session:
            if active_freeze(session, draft.account, now) is None:
                return False
            # Nothing was sent now: back to the queue, where the freeze holds it. An earlier
            # attempt may still have reached X, so such a draft stays "maybe posted" (POSTING).
            session.execute(
                update(Draft)
                .where(Draft.id == draft.id, Draft.lease_owner == self.owner)  # type: ignore[arg-type]
                .values(
                    state=DraftState.POSTING if outcome_unknown else DraftState.APPROVED,
                    lease_owner=None,
                    lease_until=None,
                    due_at=now,
                )
            )
        return True

    def _find_posted(self, draft: Draft) -> str | None:
        since = (draft.attempt_at or draft.created_at) - timedelta(minutes=2)
        try:
            tweets = self.gateway.recent_posts(draft.account, since=since)
        except (XUnavailable, XRejected) as exc:
            raise XUnavailable(f"could not check recent tweets: {exc}") from exc
        wanted = comparable(draft.text)
        matches = [t.id for t in tweets if comparable(t.text) == wanted]
        return min(matches, key=int) if matches else None

    def _posted(self, draft: Draft, tweet_id: str, *, recovered: bool) -> bool:
        now = self.clock.now()
        with transaction(self.engine) as session:
            recorded = session.execute(
                # Only while we hold the lease: a worker that took over an expired lease and
                # found the tweet has recorded the post already (once).
                update(Draft)
                .where(Draft.id == draft.id, Draft.lease_owner == self.owner)  # type: ignore[arg-type]
                .values(
                    state=DraftState.POSTED,
                    tweet_id=tweet_id,
                    posted_at=now,
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                    due_at=None,
                    version=Draft.version + 1,
                )
            ).rowcount  # type: ignore[attr-defined]
            if recorded != 1:
                return False
            record_draft_change(
                session,
                draft,
                actor=audit.SYSTEM,
                action="draft.post",
                at=now,
                after={
                    "tweet_id": tweet_id,
                    "url": f"https://x.com/{draft.account}/status/{tweet_id}",
                    "account": draft.account,
                    "recovered": recovered,
                },
            )
        self.on_change()
        return True

    def _retry_later(
        self, draft: Draft, *, at: datetime | None, error: str, known_not_posted: bool
    ) -> None:
        now = self.clock.now()
        delay = min(MAX_BACKOFF, timedelta(seconds=2 ** min(draft.attempts, 10)))
        with transaction(self.engine) as session:
            session.execute(
                update(Draft)
                .where(Draft.id == draft.id, Draft.lease_owner == self.owner)  # type: ignore[arg-type]
                .values(
                    # POSTING means "maybe on X": the next attempt searches before posting.
                    state=DraftState.APPROVED if known_not_posted else DraftState.POSTING,
                    due_at=at or now + delay,
                    lease_owner=None,
                    lease_until=None,
                    last_error=error,
                )
            )
            outbox.mark_changed(session, draft.card_id, now=now)  # type: ignore[arg-type]
        log.warning("draft %s not posted yet: %s", draft.id, error)

    def _stop(self, draft: Draft, state: DraftState, error: str) -> None:
        now = self.clock.now()
        with transaction(self.engine) as session:
            session.execute(
                update(Draft)
                # only while we hold the lease: a worker that took over may have posted it
                .where(Draft.id == draft.id, Draft.lease_owner == self.owner)  # type: ignore[arg-type]
                .values(
                    state=state,
                    last_error=error,
                    lease_owner=None,
                    lease_until=None,
                    due_at=None,
                    version=Draft.version + 1,
                )
            )
            record_draft_change(
                session,
                draft,
                actor=audit.SYSTEM,
                action=f"draft.{state}",
                at=now,
                after={"error": error},
            )
        self.on_change()
