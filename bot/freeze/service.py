"""The crisis switch: freeze publishing for one account or all, and release what was held.

A freeze stops the publisher at its last check before calling X, so nothing posts after the
command returns — scheduled and in-flight posts included, whoever approved them. Drafting and
approving go on. Lifting a freeze does not dump the backlog: drafts that came due while frozen
are HELD, and an approver releases or cancels each (a promotion approved before a crisis may be
tone-deaf after it).

`/brand unfreeze` also posts the held queue (`bot/freeze/held_queue.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.clock import iso
from bot.core.context import ServiceContext
from bot.core.errors import ActionRefused
from bot.core.guard import Checkpoint
from bot.core.models import Draft, DraftState, Freeze
from bot.drafts import machine as draft_machine
from bot.freeze.gate import FROZEN, active_freeze, publish_gate
from bot.freeze.held_queue import HELD_QUEUE, HELD_QUEUE_ENTRY
from bot.slack.cards.held_queue import MAX_LISTED
from bot.slack.cards.mention_card import escape
from bot.slack.clicks import Person
from policies import permissions

IN_FLIGHT_WAIT = 12.0  # seconds: longer than the X gateway's default request timeout
MAX_FREEZE = timedelta(days=30)
_DURATION = re.compile(
    r"(?:^|\s+)for\s+(\d+)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?)\s*$", re.IGNORECASE
)
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}


def parse_freeze_args(text: str, accounts: list[str]) -> tuple[str, str, timedelta | None]:
    """`[account|all] <reason> [for 2h]` → (scope, reason, duration). Raises ActionRefused."""
    rest = text.strip()
    scope = "all"
    first, _, after = rest.partition(" ")
    if first.lower().lstrip("@") in accounts or first.lower() == "all":
        scope, rest = first.lower().lstrip("@"), after.strip()
    duration = None
    match = _DURATION.search(rest)
    if match:
        minutes = int(match[1]) * _UNIT_MINUTES[match[2][0].lower()]
        if minutes < 1 or minutes > MAX_FREEZE.total_seconds() // 60:
            raise ActionRefused(
                f"A timed freeze lasts from 1 minute to {MAX_FREEZE.days} days "
                "(e.g. `for 90m`, `for 2h`, `for 3d`); leave `for …` out to freeze until "
                "`/brand unfreeze`."
            )
        duration = timedelta(minutes=minutes)
        rest = rest[: match.start()]
    reason = rest.strip()
    if not reason:
        raise ActionRefused(
            "Say why: `/brand freeze [account|all] <reason> [for 2h]` — the reason is shown on every held draft."
        )
    return scope, reason, duration


class _Claimed(Exception):
    """A once-only freeze found its claim taken: roll its transaction back."""


@dataclass(frozen=True)
class OnTheirWay:
    """Posts that had passed the publish gate when a freeze committed (they cannot be recalled).

    `unknown`: still without an outcome when the confirmation is sent (in flight, or X's answer
    never came) — each will show on its card. `posted`: reached X while the freeze was set."""

    unknown: list[Draft]
    posted: list[Draft]


@dataclass(frozen=True)
class Unfrozen:
    """What lifting a freeze left for people to decide."""

    scope: str
    held: int  # drafts waiting for an approver to release or cancel them
    listed: int  # how many of them the held-queue message lists (the rest: on their cards)
    queue_id: str | None  # subject of the held-queue message, when one was posted
    still_frozen_by: Freeze | None = None  # a freeze of every account, still in force


class FreezeService:
    def __init__(self, ctx: ServiceContext, *, in_flight_wait: float = IN_FLIGHT_WAIT) -> None:
        self._ctx = ctx
        self._in_flight_wait = in_flight_wait

    def accounts(self) -> list[str]:
        return [a.handle.lower() for a in self._ctx.segments.config.accounts]

    def freeze(self, *, person: Person, text: str, channel: str | None = None) -> Freeze:
        actor = self._admin(person, "freeze", channel)
        scope, reason, duration = parse_freeze_args(text, self.accounts())
        freeze = self._freeze(actor, scope, reason, duration, channel)
        assert freeze is not None  # nothing to claim: it always commits
        return freeze

    def freeze_once(
        self,
        *,
        person: Person,
        scope: str,
        reason: str,
        channel: str | None,
        claim: Callable[[Session, Freeze], bool],
    ) -> Freeze | None:
        """A freeze ordered from something that orders at most one (a spike alert's button):
        `claim` runs in the freeze's own transaction, the freeze's id known; when it returns
        False (a second click got there first) nothing is frozen and None is returned."""
        actor = self._admin(person, "freeze", channel)
        if scope != "all" and scope not in self.accounts():
            raise ActionRefused(f"No account @{scope} to freeze.")
        return self._freeze(actor, scope, reason, None, channel, claim)

    def _freeze(
        self,
        actor: audit.Actor,
        scope: str,
        reason: str,
        duration: timedelta | None,
        channel: str | None,
        claim: Callable[[Session, Freeze], bool] | None = None,
    ) -> Freeze | None:
        try:
            with self._ctx.transaction() as session:
                # Exclusive: no post attempt is between its last check and X while this commits.
                publish_gate(session, exclusive=True)
                now = self._ctx.clock.now()
                freeze = Freeze(
                    scope=scope,
                    reason=reason,
                    frozen_by=actor.id,
                    frozen_by_name=actor.name,
                    frozen_at=now,
                    until=now + duration if duration else None,
                    channel=channel,
                )
                session.add(freeze)
                session.flush()
                if claim is not None and not claim(session, freeze):
                    raise _Claimed
                until = freeze.until.isoformat() if freeze.until else None
                after = {"reason": reason, "until": until}
                self._announce(session, "freeze", scope, actor, now, after)
        except _Claimed:
            return None  # rolled back: the freeze row is gone with it
        self._ctx.hooks.cards_changed()
        return freeze

    def posts_on_their_way(self, freeze: Freeze, *, timeout: float | None = None) -> OnTheirWay:
        """Posts that passed the publish gate before the freeze committed cannot be recalled.
        Wait (a little longer than an X request may take) for those in flight to finish, then
        name every post of the scope whose outcome is still unknown."""
        deadline = time.monotonic() + (self._in_flight_wait if timeout is None else timeout)
        seen: set[int] = set()
        while True:
            posting = self._posting(freeze.scope)
            now = self._ctx.clock.now()
            seen |= {d.id for d in posting if d.id is not None}
            in_flight = [d for d in posting if d.lease_until is not None and d.lease_until > now]
            if not in_flight or time.monotonic() >= deadline:
                break
            time.sleep(0.05)  # other processes' rows; bounded by the deadline
        with self._ctx.transaction() as session:
            finished = session.scalars(
                select(Draft).where(col(Draft.id).in_(seen), col(Draft.state) == DraftState.POSTED)
            ).all()
        return OnTheirWay(unknown=posting, posted=list(finished))

    def _posting(self, scope: str) -> list[Draft]:
        with self._ctx.transaction(read_only=True) as session:
            query = (
                select(Draft).where(col(Draft.state) == DraftState.POSTING).order_by(col(Draft.id))
            )
            if scope != "all":
                query = query.where(func.lower(col(Draft.account)) == scope)
            return list(session.scalars(query))

    def unfreeze(self, *, person: Person, text: str, channel: str | None = None) -> Unfrozen:
        """Lift freezes for the scope. Drafts that came due while frozen (and any still held from
        an earlier freeze) wait for release; with `channel`, one held-queue message lists them
        there."""
        actor = self._admin(person, "unfreeze", channel)
        scope = (text.strip().split() or ["all"])[0].lower().lstrip("@")
        if scope != "all" and scope not in self.accounts():
            raise ActionRefused(f"No account @{scope}. Use `/brand unfreeze [account|all]`.")
        scopes = ["all", *self.accounts()] if scope == "all" else [scope]
        unfrozen = self._lift(
            and_(col(Freeze.scope).in_(scopes), col(Freeze.lifted_at).is_(None)),
            scope=scope,
            actor=actor,
            channel=channel,
        )
        # One account's freezes are lifted now: what still holds it is a freeze of every account.
        still = self.is_frozen(scope) if scope != "all" else None
        if unfrozen is None and still is not None:
            raise ActionRefused(
                f"Every account is frozen (by {escape(still.frozen_by_name)}: "
                f"{escape(still.reason)}); `/brand unfreeze all` lifts it."
            )
        if unfrozen is None:
            raise ActionRefused("Nothing is frozen there.")
        return replace(unfrozen, still_frozen_by=still)

    def lapse_expired(self) -> int:
        """Freezes whose `for 2h` ran out end like an unfreeze: what came due is held, and the
        held queue is posted where the freeze was ordered."""
        now = self._ctx.clock.now()
        with self._ctx.transaction() as session:
            expired = session.scalars(
                select(Freeze).where(col(Freeze.lifted_at).is_(None), col(Freeze.until) <= now)
            ).all()
        for freeze in expired:
            self._lift(
                and_(col(Freeze.id) == freeze.id, col(Freeze.lifted_at).is_(None)),
                scope=freeze.scope,
                actor=audit.SYSTEM,
                channel=freeze.channel,
            )
        return len(expired)

    def _lift(
        self, which: Any, *, scope: str, actor: audit.Actor, channel: str | None
    ) -> Unfrozen | None:
        now = self._ctx.clock.now()
        queue_id = None
        with self._ctx.transaction() as session:
            lifted = (
                session.execute(
                    update(Freeze)
                    .where(which)
                    .values(lifted_at=now, lifted_by=actor.id)
                    .returning(col(Freeze.id))
                )
                .scalars()
                .all()
            )
            if not lifted:
                return None
            self._hold_backlog(session, scope, now, actor)
            held = self._held_in_scope(session, scope, now)
            listed = [d.id for d in held[:MAX_LISTED]]
            self._announce(session, "unfreeze", scope, actor, now, {"held_for_release": len(held)})
            if held and channel:
                queue_id = str(max(lifted))
                message_ids = outbox.enqueue(
                    session, [outbox.NewMessage(HELD_QUEUE, queue_id, channel)], now=now
                )
                audit.record(
                    session,
                    actor=actor,
                    action=HELD_QUEUE_ENTRY,
                    subject=f"held_queue:{queue_id}",
                    at=now,
                    after={
                        "drafts": listed,
                        "unlisted": len(held) - len(listed),
                        "channel": channel,
                        "message": message_ids[queue_id],
                        "lifted": sorted(lifted),
                    },
                )
        self._ctx.hooks.cards_changed()
        return Unfrozen(scope=scope, held=len(held), listed=len(listed), queue_id=queue_id)

    def is_frozen(self, account: str) -> Freeze | None:
        with self._ctx.transaction(read_only=True) as session:
            return active_freeze(session, account, self._ctx.clock.now())

    def _hold_backlog(self, session: Any, scope: str, now: datetime, actor: audit.Actor) -> int:
        """Drafts that came due while frozen wait for a person to release them."""
        still_frozen = self._still_frozen(session, now)
        came_due = or_(col(Draft.due_at) <= now, col(Draft.held_reason).startswith(FROZEN))
        waiting = and_(col(Draft.state) == DraftState.APPROVED, came_due)
        # a "maybe posted" draft the freeze held: held too (releasing it searches X first)
        maybe_posted = and_(
            col(Draft.state) == DraftState.POSTING, col(Draft.held_reason).startswith(FROZEN)
        )
        held = 0
        for draft in session.scalars(select(Draft).where(or_(waiting, maybe_posted))).all():
            account = draft.account.lower()
            if scope not in ("all", account) or account in still_frozen:
                continue
            held += draft_machine.move(
                session,
                draft,
                "hold",
                actor=actor,
                at=now,
                values={
                    "held_reason": "held when the freeze was lifted: release it or reject it",
                    "lease_owner": None,
                    "lease_until": None,
                },
                after={"why": f"freeze on {scope} ended", "came_due": iso(draft.due_at)},
            )
        return held

    def _held_in_scope(self, session: Any, scope: str, now: datetime) -> list[Draft]:
        """Every held draft of the scope's accounts that are no longer frozen, oldest due first
        (including any a timed freeze held earlier that nobody has decided on yet)."""
        still_frozen = self._still_frozen(session, now)
        query = (
            select(Draft)
            .where(col(Draft.state) == DraftState.HELD)
            .order_by(col(Draft.due_at), col(Draft.id))
        )
        return [
            d
            for d in session.scalars(query)
            if scope in ("all", d.account.lower()) and d.account.lower() not in still_frozen
        ]

    def _still_frozen(self, session: Any, now: datetime) -> set[str]:
        return {a for a in self.accounts() if active_freeze(session, a, now) is not None}

    def _announce(
        self,
        session: Session,
        action: str,
        scope: str,
        actor: audit.Actor,
        now: datetime,
        after: dict[str, Any],
    ) -> None:
        """Every open draft's card shows the freeze (or drops it), and the audit log keeps it."""
        self._touch_cards(session, scope, now)
        audit.record(
            session, actor=actor, action=action, subject=f"account:{scope}", at=now, after=after
        )

    def _touch_cards(self, session: Any, scope: str, now: datetime) -> None:
        """Every open draft's card shows (or drops) the freeze banner."""
        open_states = [DraftState.PENDING, DraftState.APPROVED, DraftState.HELD]
        query = select(col(Draft.card_id), col(Draft.account)).where(
            col(Draft.state).in_(open_states)
        )
        for card_id, account in session.execute(query):
            if card_id is not None and scope in ("all", account.lower()):
                outbox.mark_changed(session, card_id, now=now)

    def _admin(self, person: Person, action: str, channel: str | None) -> audit.Actor:
        check = Checkpoint(self._ctx, person, channel or "", "freeze", "account:all", action)
        check.require(permissions.may_freeze(is_admin=check.is_admin()))
        return self._ctx.actor(person)
