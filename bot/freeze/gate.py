"""The publish gate and the freeze in force: what the publisher checks right before X, and what
`/brand freeze` locks so that no post slips between its last check and the freeze."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, text
from sqlmodel import Session, col

from bot.core.models import Freeze

FROZEN = "frozen"  # held_reason prefix of drafts a freeze is holding
_GATE_LOCK_KEY = 0x6272616E67  # PostgreSQL advisory lock ordering freezes and post attempts
_ACCOUNT_LOCK_SPACE = 0x6262  # first key of the per-account (two-int) advisory locks


def publish_gate(session: Session, *, exclusive: bool) -> None:
    """Take the publish gate for this transaction: shared for a post attempt, exclusive for a
    freeze. SQLite needs nothing: BEGIN IMMEDIATE already makes every write transaction
    exclusive."""
    if session.get_bind().dialect.name == "postgresql":
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        session.execute(text(f"SELECT {lock}(:key)"), {"key": _GATE_LOCK_KEY})


def account_gate(session: Session, account: str) -> None:
    """Count an account's recent posts one publisher at a time, until this transaction ends: two
    replicas under the shared publish gate must not both see room for the last slot. (SQLite's
    single writer already serialises them.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:account))"),
            {"space": _ACCOUNT_LOCK_SPACE, "account": account.lower()},
        )


def _scope(account: str) -> ColumnElement[bool]:
    return col(Freeze.scope).in_(["all", account.lower()])


def _in_force(now: datetime) -> ColumnElement[bool]:
    """Not lifted and not run out — never compared with when it began, so a freeze committed
    after this worker read its clock (or set by a replica whose clock is ahead) is in force at
    once."""
    return and_(
        col(Freeze.lifted_at).is_(None), or_(col(Freeze.until).is_(None), col(Freeze.until) > now)
    )


def active_freeze(session: Session, account: str, now: datetime) -> Freeze | None:
    """The freeze in force for this account (or all accounts), if any."""
    return session.scalars(
        select(Freeze)
        .where(_scope(account), _in_force(now))
        .order_by(col(Freeze.id).desc())
        .limit(1)
    ).first()


def freezes_in_force(session: Session, now: datetime) -> list[Freeze]:
    """Every freeze in force now, of one account or all, newest first."""
    return list(
        session.scalars(select(Freeze).where(_in_force(now)).order_by(col(Freeze.id).desc()))
    )


def freeze_at(session: Session, account: str, moment: datetime) -> Freeze | None:
    """The freeze that covered this account at `moment` (lifted or run out since, or not)."""
    return session.scalars(
        select(Freeze)
        .where(
            _scope(account),
            col(Freeze.frozen_at) <= moment,
            or_(col(Freeze.lifted_at).is_(None), col(Freeze.lifted_at) > moment),
            or_(col(Freeze.until).is_(None), col(Freeze.until) > moment),
        )
        .order_by(col(Freeze.id).desc())
        .limit(1)
    ).first()
