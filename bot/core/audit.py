"""Tamper-evident audit log: every entry carries the hash of the one before it.

Services call `record(session, ...)` anywhere in a transaction; the entries are chained and
inserted just before that transaction commits, after its other writes, under a lock
(PostgreSQL advisory lock, or SQLite's single writer) so concurrent writers never fork the chain.

The chain is keyed: each new entry's hash is an HMAC-SHA256 under BRANDBOT_AUDIT_KEY (scheme 2),
which lives in the environment and never in the database, so someone who can only write the
database cannot recompute hashes after an edit or forge an entry. Entries written before keys
(scheme 1, plain SHA-256) still verify with their old formula, and the first keyed entry after
them covers their last hash. Deleting the newest entries leaves no gap to see: `head()` gives an
anchor (head hash and count) to keep outside the database, and `verify_all(anchor=...)` checks
the chain still reaches it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, event, func, select, text
from sqlmodel import Session, col

from bot.core.db import insert_page, table_of, transaction
from bot.core.errors import ActionRefused
from bot.core.models import AuditEntry

GENESIS_HASH = "0" * 64
_PENDING = "brandbot.audit.pending"
_AUDIT_LOCK_KEY = 0x6272616E64  # "brand": the advisory lock that orders audit appends
LEGACY_SCHEME = 1  # plain SHA-256: entries written before the chain was keyed
KEYED_SCHEME = 2  # HMAC-SHA256 under BRANDBOT_AUDIT_KEY: every entry written now
KEY_ENV = "BRANDBOT_AUDIT_KEY"

# The key for each engine's chain. Per engine (not global) so that tests and tools holding
# several engines cannot write one database's chain with another's key; weak so a disposed
# engine does not keep its key alive.
_keys: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()


class MissingAuditKey(RuntimeError):
    """Entries would be written or verified on an engine that has no audit key."""


def use_key(engine: Engine, key: bytes) -> None:
    """Key the audit chain written and verified through `engine` (from BRANDBOT_AUDIT_KEY)."""
    if not isinstance(key, bytes) or not key:
        raise TypeError("the audit key must be non-empty bytes")
    current = _keys.get(engine)
    if current is not None and not hmac.compare_digest(current, key):
        # Two keys on one chain would make every entry after the switch fail verification.
        raise ValueError("this engine already has a different audit key")
    _keys[engine] = key


def key_for(bind: Engine | Connection) -> bytes:
    """The key registered for this engine (or the engine an option engine/connection is of)."""
    engine: Any = bind.engine if isinstance(bind, Connection) else bind
    while engine is not None:
        key = _keys.get(engine)
        if key is not None:
            return key
        # engine.execution_options(...) returns an OptionEngine proxying the real one.
        engine = getattr(engine, "_proxied", None)
    raise MissingAuditKey(
        f"no audit key for this database engine: set {KEY_ENV} and call audit.use_key(engine, "
        "key) before writing or verifying audit entries (entries are never written unkeyed)"
    )


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
    """Queue an entry for this transaction; it is chained and inserted just before commit.

    Every field is normalised here to exactly what the database will give back, because the
    hash is computed over these values and verified over the stored ones: a value that reads
    back differently (an int id stored as text, a +02:00 time stored as UTC) would break the
    chain at that entry forever.
    """
    session.info.setdefault(_PENDING, []).append(
        {
            "at": stored_at(at),
            "actor_id": _text("actor.id", actor.id),
            "actor_name": _text("actor.name", actor.name),
            "action": _text("action", action),
            "subject": _text("subject", subject),
            "before": _canonical(before) if before is not None else None,
            "after": _canonical(after) if after is not None else None,
        }
    )


def _text(name: str, value: object) -> str:
    # A non-str here is a caller's bug (e.g. a Slack user id passed through as a number):
    # refuse it loudly rather than store a coerced value the hash did not cover.
    if not isinstance(value, str):
        raise TypeError(f"audit {name} must be a str, not {type(value).__name__}")
    return str.__str__(value)  # a plain str: subclasses (StrEnum, Secret) store as their text


def stored_at(at: object) -> datetime:
    """`at` as it reads back from SQLite and PostgreSQL: aware, in UTC, to the microsecond."""
    if not isinstance(at, datetime):
        raise TypeError(f"audit at must be a datetime, not {type(at).__name__}")
    if at.utcoffset() is None:
        raise ValueError("audit at must be timezone-aware (a naive time has no fixed instant)")
    utc = at.astimezone(UTC)
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, UTC
    )


def entry_hash(entry: dict[str, Any], prev_hash: str, *, key: bytes | None = None) -> str:
    """The entry's hash: plain SHA-256 without a key (scheme 1), else HMAC-SHA256 (scheme 2)."""
    material = {k: entry[k] for k in ("actor_id", "actor_name", "action", "subject")}
    material |= {
        "seq": entry["seq"],
        "at": entry["at"].isoformat(timespec="microseconds"),
        "before": entry["before"],
        "after": entry["after"],
        "prev_hash": prev_hash,
    }
    if key is None:
        return hashlib.sha256(_canonical(material).encode()).hexdigest()
    # The scheme is hashed too, so a keyed entry cannot be relabelled as a legacy one.
    material["scheme"] = KEYED_SCHEME
    # hmac.digest: the same HMAC as hmac.new(...).hexdigest(), in one call into OpenSSL.
    return hmac.digest(key, _canonical(material).encode(), "sha256").hex()


# What json.dumps(value, sort_keys=True, separators=(",", ":"), default=str) gives, with one
# encoder for every call: ingest hashes a page of entries at a time.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


@event.listens_for(Session, "before_commit")
def _append_pending_entries(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    bind = session.get_bind()
    key = key_for(bind)  # before the lock: no key, no entries, and the transaction fails
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    last = session.execute(
        select(col(AuditEntry.seq), col(AuditEntry.hash))
        .order_by(col(AuditEntry.seq).desc())
        .limit(1)
    ).first()
    seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
    rows = []
    for entry in pending:
        seq += 1
        entry["seq"] = seq
        digest = entry_hash(entry, prev_hash, key=key)
        rows.append({**entry, "prev_hash": prev_hash, "hash": digest, "scheme": KEYED_SCHEME})
        prev_hash = digest
    insert_page(session, table_of(AuditEntry), rows)  # one statement for the transaction's entries


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


_ANCHOR = re.compile(r"([0-9a-fA-F]{64}):([0-9]{1,18})")


@dataclass(frozen=True)
class Anchor:
    """The chain's head as kept outside the database: the hash of entry `count`."""

    hash: str
    count: int

    @classmethod
    def parse(cls, value: str) -> Anchor:
        match = _ANCHOR.fullmatch(value.strip())
        if match is None:
            raise ValueError(
                f"{value!r} is not an audit anchor: expected HASH:COUNT, 64 hex digits, a colon "
                "and a number, as `brandbot audit anchor` prints it"
            )
        anchor = cls(match[1].lower(), int(match[2]))
        if anchor.count == 0 and anchor.hash != GENESIS_HASH:
            raise ValueError("an anchor of 0 entries can only carry the genesis hash (all zeros)")
        return anchor

    def __str__(self) -> str:
        return f"{self.hash}:{self.count}"


@dataclass(frozen=True)
class VerifyReport:
    entries: int  # entries read
    legacy: int  # of those, unkeyed (scheme 1): written before the chain was keyed
    head: Anchor  # the newest entry (its seq and hash), or genesis when there is none
    breaks: tuple[ChainBreak, ...] = ()  # every break, in seq order
    intact: int = 0  # entries that verified before the first break (all of them when none)
    anchor: Anchor | None = None  # the anchor checked, if any

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> ChainBreak | None:
        return self.breaks[0] if self.breaks else None


@dataclass
class _Found:
    """Breaks as they are found, each with how many entries were read before it."""

    breaks: list[tuple[ChainBreak, int]] = field(default_factory=list)

    def add(self, seq: int, reasons: list[str], read_before: int) -> None:
        self.breaks.append((ChainBreak(seq, "; ".join(reasons)), read_before))


def verify(session: Session, *, key: bytes | None = None) -> tuple[int, ChainBreak | None]:
    """Recompute the chain; return (entries verified before the first break, first break)."""
    report = verify_all(session, key=key)
    return report.intact, report.first_break


def verify_all(
    session: Session, *, key: bytes | None = None, anchor: Anchor | None = None
) -> VerifyReport:
    """Recompute the whole chain and report every break, not only the first.

    Each entry is checked on its own (its hash over its stored fields and stored prev_hash) and
    against its predecessor (prev_hash is the predecessor's hash), so one bad entry does not
    hide the next. With an `anchor`, the chain must still reach it: at least `count` entries,
    and entry `count` carrying the anchored hash.
    """
    key = key if key is not None else key_for(session.get_bind())
    found = _Found()
    expected, read, legacy = 1, 0, 0
    prev_stored = prev_computed = GENESIS_HASH
    keyed_seen, after_gap = False, False
    newest = Anchor(GENESIS_HASH, 0)
    anchored: tuple[str, int] | None = None  # (hash of entry anchor.count, entries read before)
    for row in _entries_in_order(session):
        if row.seq < expected:  # only seq <= 0 can get here (seqs are unique and ordered)
            found.add(row.seq, [f"entry {row.seq} has an impossible sequence number"], read)
            continue
        if row.seq > expected:
            found.add(expected, [_missing(expected, row.seq - 1)], read)
            after_gap = True
        reasons: list[str] = []
        entry = row.model_dump()
        computed: str | None
        if row.scheme == LEGACY_SCHEME:
            legacy += 1
            computed = entry_hash(entry, row.prev_hash)
            if keyed_seen:
                # Keys came in once and stay: an unkeyed entry after a keyed one was written
                # (or rewritten) by someone without the key.
                reasons.append(f"entry {row.seq} is unkeyed but follows keyed entries")
        elif row.scheme == KEYED_SCHEME:
            keyed_seen = True
            computed = entry_hash(entry, row.prev_hash, key=key)
        else:
            computed = None
            reasons.append(f"entry {row.seq} has unknown hash scheme {row.scheme}")
        # The predecessor's stored hash, or the hash it should have had when only its hash
        # column was changed: either way that predecessor is reported on its own line.
        if not after_gap and row.prev_hash not in (prev_stored, prev_computed):
            reasons.append(f"entry {row.seq} does not follow its predecessor")
        if computed is not None and not hmac.compare_digest(computed, row.hash):
            reasons.append(f"entry {row.seq} was altered after it was written")
        if reasons:
            found.add(row.seq, reasons, read)
        if anchor is not None and row.seq == anchor.count:
            anchored = (row.hash, read)
        read += 1
        prev_stored, prev_computed = row.hash, computed or row.hash
        expected, after_gap = row.seq + 1, False
        newest = Anchor(row.hash, row.seq)
    if anchor is not None and anchor.count > 0:
        _check_anchor(found, anchor, newest=newest, anchored=anchored, read=read)
    ordered = sorted(found.breaks, key=lambda item: item[0].seq)
    return VerifyReport(
        entries=read,
        legacy=legacy,
        head=newest,
        breaks=tuple(b for b, _ in ordered),
        intact=ordered[0][1] if ordered else read,
        anchor=anchor,
    )


def _check_anchor(
    found: _Found, anchor: Anchor, *, newest: Anchor, anchored: tuple[str, int] | None, read: int
) -> None:
    """The chain must still reach the anchor: entry `count` exists and carries its hash."""
    if newest.count < anchor.count:
        first = newest.count + 1
        found.add(
            first,
            [
                f"{_missing(first, anchor.count)}: the anchor says {anchor.count} entries "
                "(the newest were deleted)"
            ],
            read,
        )
    elif anchored is None:
        found.add(anchor.count, [f"entry {anchor.count}, the anchored one, is missing"], read)
    elif not hmac.compare_digest(anchored[0], anchor.hash):
        found.add(
            anchor.count,
            [
                f"entry {anchor.count} does not carry the anchored hash: the chain up to it "
                "was rewritten after the anchor was taken"
            ],
            anchored[1],
        )


def _missing(first: int, last: int) -> str:
    return (
        f"entry {first} is missing" if first == last else f"entries {first} to {last} are missing"
    )


def head(session: Session) -> Anchor:
    """The newest entry as an anchor (HASH:COUNT), or the genesis anchor of an empty log."""
    last = session.execute(
        select(col(AuditEntry.seq), col(AuditEntry.hash))
        .order_by(col(AuditEntry.seq).desc())
        .limit(1)
    ).first()
    return Anchor(last[1], last[0]) if last else Anchor(GENESIS_HASH, 0)


def _entries_in_order(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    after = 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(col(AuditEntry.seq) > after)
            .order_by(col(AuditEntry.seq))
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())
