"""The crisis switch: freeze publishing for one account or all, and release what was held.

A freeze stops the publisher at its last check before calling X, so nothing posts after the
command returns — scheduled and in-flight posts included, whoever approved them. Drafting and
approving go on. Lifting a freeze does not dump the backlog: drafts that came due while frozen
are HELD, and an approver releases or cancels each (a promotion approved before a crisis may be
tone-deaf after it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, or_, select, update

from bot import audit, outbox
from bot.clock import Clock
from bot.db import transaction
from bot.directory import SlackDirectory
from bot.drafts import Person
from bot.errors import ActionRefused
from bot.models import Draft, DraftState, Freeze
from bot.publisher import FROZEN, active_freeze
from bot.segments import SegmentCatalog

_DURATION = re.compile(
    r"\s+for\s+(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE
)


def parse_freeze_args(text: str, accounts: list[str]) -> tuple[str, str, timedelta | None]:
    """`[account|all] <reason> [for 2h]` → (scope, reason, duration). Raises ActionRefused."""
    words = text.strip().split(maxsplit=1)
    scope = "all"
    if words and (words[0].lower().lstrip("@") in accounts or words[0].lower() == "all"):
        scope = words[0].lower().lstrip("@")
        words = words[1:]
    rest = words[0] if words else ""
    duration = None
    match = _DURATION.search(rest)
    if match:
        amount, unit = int(match[1]), match[2][0].lower()
        duration = {
            "m": timedelta(minutes=amount),
            "h": timedelta(hours=amount),
            "d": timedelta(days=amount),
        }[unit]
        rest = rest[: match.start()]
    reason = rest.strip()
    if not reason:
        raise ActionRefused(
            "Say why: `/brand freeze [account|all] <reason> [for 2h]` — the reason is shown on every held draft."
        )
    return scope, reason, duration


class FreezeService:
    def __init__(
        self,
        *,
        engine: Engine,
        segments: SegmentCatalog,
        directory: SlackDirectory,
        clock: Clock,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._segments = segments
        self._directory = directory
        self._clock = clock
        self._on_change = on_change

    def accounts(self) -> list[str]:
        return [a.handle.lower() for a in self._segments.config.accounts]

    def freeze(self, *, person: Person, text: str) -> Freeze:
        actor = self._admin(person)
        scope, reason, duration = parse_freeze_args(text, self.accounts())
        now = self._clock.now()
        with transaction(self._engine) as session:
            freeze = Freeze(
                scope=scope,
                reason=reason,
                frozen_by=actor.id,
                frozen_by_name=actor.name,
                frozen_at=now,
                until=now + duration if duration else None,
            )
            session.add(freeze)
            self._touch_cards(session, scope, now)
            audit.record(
                session,
                actor=actor,
                action="freeze",
                subject=f"account:{scope}",
                at=now,
                after={
                    "reason": reason,
                    "until": freeze.until.isoformat() if freeze.until else None,
                },
            )
        self._on_change()
        return freeze

    def unfreeze(self, *, person: Person, text: str) -> int:
        """Lift freezes for the scope; return how many drafts are now held for release."""
        actor = self._admin(person)
        scope = (text.strip().split() or ["all"])[0].lower().lstrip("@")
        if scope != "all" and scope not in self.accounts():
            raise ActionRefused(f"No account @{scope}. Use `/brand unfreeze [account|all]`.")
        now = self._clock.now()
        with transaction(self._engine) as session:
            scopes = ["all", *self.accounts()] if scope == "all" else [scope]
            lifted = session.execute(
                update(Freeze)
                .where(and_(Freeze.scope.in_(scopes), Freeze.lifted_at.is_(None)))  # type: ignore[attr-defined,union-attr]
                .values(lifted_at=now, lifted_by=actor.id)
            ).rowcount  # type: ignore[attr-defined]
            if not lifted:
                raise ActionRefused("Nothing is frozen there.")
            held = self._hold_backlog(session, scope, now)
            self._touch_cards(session, scope, now)
            audit.record(
                session,
                actor=actor,
                action="unfreeze",
                subject=f"account:{scope}",
                at=now,
                after={"held_for_release": held},
            )
        self._on_change()
        return held

    def is_frozen(self, account: str) -> Freeze | None:
        with transaction(self._engine) as session:
            return active_freeze(session, account, self._clock.now())

    def _hold_backlog(self, session: object, scope: str, now: datetime) -> int:
        """Drafts that came due while frozen wait for a person to release them."""
        still_frozen = {a for a in self.accounts() if active_freeze(session, a, now) is not None}
        came_due = or_(Draft.due_at <= now, Draft.held_reason.startswith(FROZEN))  # type: ignore[operator, union-attr]
        query = select(Draft).where(Draft.state == DraftState.APPROVED, came_due)  # type: ignore[arg-type]
        held = 0
        for draft in session.scalars(query):  # type: ignore[attr-defined]
            if (
                scope in ("all", draft.account.lower())
            ) and draft.account.lower() not in still_frozen:
                draft.state = DraftState.HELD
                draft.held_reason = "held when the freeze was lifted: release it or reject it"
                draft.version += 1
                held += 1
        return held

    def _touch_cards(self, session: object, scope: str, now: datetime) -> None:
        """Every open draft's card shows (or drops) the freeze banner."""
        open_states = [DraftState.PENDING, DraftState.APPROVED, DraftState.HELD]
        query = select(Draft.card_id, Draft.account).where(Draft.state.in_(open_states))  # type: ignore[attr-defined]
        for card_id, account in session.execute(query):  # type: ignore[attr-defined]
            if card_id is not None and scope in ("all", account.lower()):
                outbox.mark_changed(session, card_id, now=now)  # type: ignore[arg-type]

    def _admin(self, person: Person) -> audit.Actor:
        if not self._directory.includes(person.user_id, self._segments.admins):
            raise ActionRefused("Only brandbot admins can freeze or unfreeze publishing.")
        return audit.Actor(
            person.user_id, self._directory.display_name(person.user_id, person.user_name)
        )
