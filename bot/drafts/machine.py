"""The draft state machine: named events, the allowed moves in one table, one function that moves.

`move()` is the only code that writes `Draft.state`. In one transaction it applies a guarded
UPDATE (the draft's version, the allowed source states and any extra condition such as the
publisher's lease), bumps the version, marks the approval card for re-rendering and appends the
audit entry `draft.<event>` — so no state change can leave the card stale or the log silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, update
from sqlmodel import Session, col

from bot.core import audit, outbox
from bot.core.db import rowcount
from bot.core.models import Draft, DraftState, Mention

S = DraftState
_OPEN_TO_REJECT = frozenset({S.PENDING, S.APPROVED, S.HELD, S.FAILED, S.NEEDS_CHECK})

# event -> (states it may start from, states it may end in). The event name is also the audit
# action (`draft.<event>`); names kept from before the table existed stay as they were.
TRANSITIONS: dict[str, tuple[frozenset[DraftState], frozenset[DraftState]]] = {
    "edit": (frozenset({S.PENDING}), frozenset({S.PENDING})),
    "approved": (frozenset({S.PENDING}), frozenset({S.APPROVED})),  # every rule met: queued
    "expire": (frozenset({S.PENDING}), frozenset({S.EXPIRED})),  # unapproved by its schedule
    "reject": (_OPEN_TO_REJECT, frozenset({S.REJECTED})),
    "attempt": (frozenset({S.APPROVED, S.POSTING}), frozenset({S.POSTING})),  # handed to X
    "post": (frozenset({S.POSTING}), frozenset({S.POSTED})),
    "post_unknown": (frozenset({S.POSTING}), frozenset({S.POSTING})),  # 5xx/timeout: maybe on X
    "post_deferred": (frozenset({S.POSTING}), frozenset({S.APPROVED})),  # 429: surely not on X
    "needs_check": (frozenset({S.POSTING}), frozenset({S.NEEDS_CHECK})),
    "failed": (frozenset({S.POSTING}), frozenset({S.FAILED})),
    "hold": (frozenset({S.APPROVED, S.POSTING}), frozenset({S.HELD})),  # came due while frozen
    # Would go out more than the segment's stale_after_minutes after it was wanted (X down, a
    # freeze, the hourly limit): an approver confirms it is still right (release) first.
    "hold_stale": (frozenset({S.APPROVED, S.POSTING}), frozenset({S.HELD})),
    # Released or retried: an earlier attempt may have reached X, then it goes back to POSTING
    # so the publisher searches X before any new attempt.
    "release": (frozenset({S.HELD}), frozenset({S.APPROVED, S.POSTING})),
    "retry": (frozenset({S.FAILED, S.NEEDS_CHECK}), frozenset({S.APPROVED, S.POSTING})),
    # A queued draft no longer has every approval it needs (its mention moved to a stricter
    # segment, an approver left the group, a segment began guarding its account): back to
    # approval. Only when X surely has nothing of it (a maybe-posted one is searched first).
    "approvals_lost": (frozenset({S.APPROVED, S.POSTING}), frozenset({S.PENDING})),
    # A person found the post on X (a "needs a person" draft) and gave its URL; checked on X.
    "mark_posted": (frozenset({S.NEEDS_CHECK}), frozenset({S.POSTED})),
    # It will not go out: X refused it for good, or a person checked and drops it.
    "cancel": (frozenset({S.FAILED, S.NEEDS_CHECK}), frozenset({S.CANCELLED})),
    "delete_confirmed": (frozenset({S.POSTED, S.DELETING}), frozenset({S.DELETING})),
    "delete": (frozenset({S.DELETING}), frozenset({S.DELETED})),
    "delete_failed": (frozenset({S.DELETING}), frozenset({S.POSTED})),
}


class IllegalTransition(Exception):
    """A programming error: the table has no such move."""


def target_of(event: str, to: DraftState | None = None) -> DraftState:
    if event not in TRANSITIONS:
        raise IllegalTransition(f"no draft event {event!r}")
    _, targets = TRANSITIONS[event]
    if to is None:
        if len(targets) != 1:
            raise IllegalTransition(f"{event} may end in {sorted(targets)}: say which")
        (to,) = targets
    if to not in targets:
        raise IllegalTransition(f"{event} cannot end in {to}")
    return to


def move(
    session: Session,
    draft: Draft,
    event: str,
    *,
    actor: audit.Actor,
    at: datetime,
    to: DraftState | None = None,
    where: ColumnElement[bool] | None = None,
    values: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
) -> bool:
    """Move `draft` (as last read: its state and version) by `event`; False if it changed
    meanwhile or `where` does not hold. `values` are the other columns the move sets."""
    sources, _ = TRANSITIONS.get(event, (frozenset(), frozenset()))
    target = target_of(event, to)
    if draft.state not in sources:
        return False
    condition = and_(
        col(Draft.id) == draft.id,
        col(Draft.version) == draft.version,
        col(Draft.state) == draft.state,
    )
    if where is not None:
        condition = and_(condition, where)
    changed = rowcount(
        session.execute(
            update(Draft)
            .where(condition)
            .values(
                state=target, version=col(Draft.version) + 1, updated_at=at, **dict(values or {})
            )
            .execution_options(synchronize_session=False)
        )
    )
    if changed != 1:
        return False
    record_change(
        session,
        draft,
        actor=actor,
        action=f"draft.{event}",
        at=at,
        before={"state": str(draft.state), **dict(before or {})},
        after={"state": str(target), **dict(after or {})},
    )
    return True


def mark_answered_mention(session: Session, draft: Draft, *, now: datetime) -> None:
    """A reply's (or quote's) mention card tells where its answer stands: redraw it too."""
    mention = session.get(Mention, draft.answers) if draft.answers else None
    if mention is not None:
        outbox.mark_changed(session, mention.card_id, now=now)


def record_change(
    session: Session,
    draft: Draft,
    *,
    actor: audit.Actor,
    action: str,
    at: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """The card shows the change and the audit log keeps it: never one without the other."""
    outbox.mark_changed(session, draft.card_id, now=at)
    mark_answered_mention(session, draft, now=at)
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=f"draft:{draft.id}",
        at=at,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )
