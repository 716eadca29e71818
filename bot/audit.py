"""Tamper-evident audit log: every entry carries the hash of the one before it.

Services call `record(session, ...)` anywhere in a transaction; the entries are chained and
inserted just before that transaction commits, after its other writes, under a lock
(PostgreSQL advisory lock, or SQLite's single writer) so concurrent writers never fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Engine, event, func, select, text
from sqlmodel import Session

from bot.db import transaction
from bot.errors import ActionRefused
from bot.models import AuditEntry

GENESIS_HASH = "0" * 64
_PENDING = "brandbot.audit.pending"
_AUDIT_LOCK_KEY = 0x6272616E64  # "brand": the advisory lock that orders audit appends


@dataclass(frozen=True)
class Actor:
    id: str
    name: str


SYSTEM = Actor(id="brandbot", name="brandbot")


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject: str,
    at: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.info.setdefault(_PENDING, []).append(
        {
            "at": at,
            "actor_id": actor.id,
            "actor_name": actor.name,
            "action": action,
            "subject": subject,
            "before": _canonical(before) if before is not None else None,
            "after": _canonical(after) if after is not None else None,
        }
    )


def entry_hash(entry: dict[str, Any], prev_hash: str) -> str:
    material = {k: entry[k] for k in ("actor_id", "actor_name", "action", "subject")}
    material |= {
        "seq": entry["seq"],
        "at": entry["at"].isoformat(timespec="microseconds"),
        "before": entry["before"],
        "after": entry["after"],
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical(material).encode()).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@event.listens_for(Session, "before_commit")
def _append_pending_entries(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    rows = []
    for entry in pending:
        seq += 1
        entry["seq"] = seq
        digest = entry_hash(entry, prev_hash)
        rows.append({**entry, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    session.execute(AuditEntry.__table__.insert(), rows)


@event.listens_for(Session, "after_rollback")
def _drop_pending_entries(session: Session) -> None:
    session.info.pop(_PENDING, None)


def refuse(
    engine: Engine,
    *,
    actor: Actor,
    action: str,
    subject: str,
    at: datetime,
    attempted: str,
    channel: str,
    reason: str,
) -> NoReturn:
    """Record a refused attempt (who tried what, where, and why not), then refuse it."""
    with transaction(engine) as session:
        record(
            session,
            actor=actor,
            action=action,
            subject=subject,
            at=at,
            after={"attempted": attempted, "channel": channel, "reason": reason},
        )
    raise ActionRefused(reason)


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify(session: Session) -> tuple[int, ChainBreak | None]:
    """Recompute the chain; return (entries checked, first break or None)."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for row in _entries_in_order(session):
        if row.seq != expected_seq:
            return checked, ChainBreak(expected_seq, f"entry {expected_seq} is missing")
        entry = row.model_dump()
        if row.prev_hash != prev_hash:
            return checked, ChainBreak(row.seq, f"entry {row.seq} does not follow its predecessor")
        if entry_hash(entry, prev_hash) != row.hash:
            return checked, ChainBreak(row.seq, f"entry {row.seq} was altered after it was written")
        prev_hash, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    return checked, None


def _entries_in_order(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    after = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
