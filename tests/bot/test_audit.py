"""The audit chain verifies, and any edit, deletion or reordering of a past entry is detected."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, text, update

from bot import audit
from bot.clock import FakeClock
from bot.db import transaction
from bot.models import AuditEntry

clock = FakeClock()
ALICE = audit.Actor("U0ALICE", "alice")


def _write(engine: Engine, n: int) -> None:
    for i in range(n):
        with transaction(engine) as session:
            audit.record(
                session,
                actor=ALICE,
                action="mention.claim",
                subject=f"mention:{i}",
                at=clock.now(),
                before={"state": "open"},
                after={"state": "claimed"},
            )


def _verify(engine: Engine) -> tuple[int, audit.ChainBreak | None]:
    with transaction(engine) as session:
        return audit.verify(session)


def test_chain_verifies(engine: Engine) -> None:
    _write(engine, 5)
    assert _verify(engine) == (5, None)


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        (update(AuditEntry).where(AuditEntry.seq == 3).values(actor_id="U0MALLORY"), 3),
        (update(AuditEntry).where(AuditEntry.seq == 2).values(after='{"state":"resolved"}'), 2),
        (delete(AuditEntry).where(AuditEntry.seq == 4), 4),
        (update(AuditEntry).where(AuditEntry.seq == 5).values(hash="f" * 64), 5),
    ],
    ids=["actor rewritten", "after rewritten", "entry deleted", "hash forged"],
)
def test_tampering_is_detected_and_named(engine: Engine, tamper, first_bad: int) -> None:
    _write(engine, 6)
    with engine.begin() as conn:
        conn.execute(tamper)
    checked, broken = _verify(engine)
    assert broken is not None and broken.seq == first_bad
    assert checked == first_bad - 1


def test_a_rolled_back_transaction_leaves_no_entry(engine: Engine) -> None:
    with pytest.raises(RuntimeError), transaction(engine) as session:
        audit.record(session, actor=ALICE, action="x", subject="y", at=clock.now())
        raise RuntimeError("boom")
    _write(engine, 1)
    assert _verify(engine) == (1, None)


def test_concurrent_writers_never_fork_the_chain(engine: Engine) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: _write(engine, 5), range(8)))
    assert _verify(engine) == (40, None)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(DISTINCT prev_hash) FROM audit_entry")).scalar() == 40
        )
