"""The audit chain verifies, and any edit, deletion or reordering of a past entry is detected."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, Executable, delete, insert, select, text, update
from sqlmodel import col

from bot.core import audit
from bot.core.clock import FakeClock
from bot.core.db import make_engine, transaction
from bot.core.models import AuditEntry

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
        (update(AuditEntry).where(col(AuditEntry.seq) == 3).values(actor_id="U0MALLORY"), 3),
        (
            update(AuditEntry).where(col(AuditEntry.seq) == 2).values(after='{"state":"resolved"}'),
            2,
        ),
        (delete(AuditEntry).where(col(AuditEntry.seq) == 4), 4),
        (update(AuditEntry).where(col(AuditEntry.seq) == 5).values(hash="f" * 64), 5),
    ],
    ids=["actor rewritten", "after rewritten", "entry deleted", "hash forged"],
)
def test_tampering_is_detected_and_named(
    engine: Engine, tamper: Executable, first_bad: int
) -> None:
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


# --- item 5: the hash covers exactly what is stored; verify names every break ---------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"actor": audit.Actor(5, "alice")}, "actor.id"),  # type: ignore[arg-type]
        ({"actor": audit.Actor("U0ALICE", None)}, "actor.name"),  # type: ignore[arg-type]
        ({"action": 7}, "action"),
        ({"subject": b"mention:1"}, "subject"),
    ],
    ids=["int actor id (a Slack user.id of 5)", "no actor name", "int action", "bytes subject"],
)
def test_a_non_str_field_is_refused_loudly(
    engine: Engine, fields: dict[str, Any], named: str
) -> None:
    entry = {"actor": ALICE, "action": "mention.claim", "subject": "mention:1", **fields}
    with pytest.raises(TypeError, match=named), transaction(engine) as session:
        audit.record(session, at=clock.now(), **entry)
    with transaction(engine) as session:
        assert audit.count(session) == 0


def test_the_hash_covers_what_is_stored_whatever_the_time_zone(engine: Engine) -> None:
    # 11:30:00.123456 at +02:00 is stored (and read back, on SQLite and PostgreSQL) as 09:30 UTC.
    local = datetime(2026, 11, 23, 11, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with transaction(engine) as session:
        audit.record(session, actor=ALICE, action="draft.approve", subject="draft:1", at=local)
    _write(engine, 1)
    with transaction(engine) as session:
        stored = session.scalars(select(AuditEntry).where(col(AuditEntry.seq) == 1)).one()
        report = audit.verify_all(session)
    assert stored.at == datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=UTC)
    assert stored.at.utcoffset() == timedelta(0)
    assert report.ok and report.entries == 2 and report.legacy == 0


def test_a_naive_time_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"), transaction(engine) as session:
        audit.record(session, actor=ALICE, action="x", subject="y", at=datetime(2026, 1, 1))


def test_verify_reports_every_break_not_only_the_first(engine: Engine) -> None:
    _write(engine, 9)
    with engine.begin() as conn:
        conn.execute(
            update(AuditEntry).where(col(AuditEntry.seq) == 2).values(actor_id="U0MALLORY")
        )
        conn.execute(update(AuditEntry).where(col(AuditEntry.seq) == 5).values(after='{"x":1}'))
        conn.execute(delete(AuditEntry).where(col(AuditEntry.seq).in_([7, 8])))
    with transaction(engine) as session:
        report = audit.verify_all(session)
        assert audit.verify(session)[0] == 1  # the old shape: verified before the first break
    assert [(b.seq, b.reason) for b in report.breaks] == [
        (2, "entry 2 was altered after it was written"),
        (5, "entry 5 was altered after it was written"),
        (7, "entries 7 to 8 are missing"),
    ]
    assert report.entries == 7 and report.intact == 1


# --- item 6: a keyed chain, anchored outside the database -----------------------------------


def _rows(engine: Engine) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        return [
            e.model_dump()
            for e in session.scalars(select(AuditEntry).order_by(col(AuditEntry.seq)))
        ]


def _recompute_unkeyed(engine: Engine, rows: list[dict[str, Any]], *, scheme: int | None) -> None:
    """The attacker's tool: rewrite `rows` in place, re-hashed with the old plain SHA-256."""
    prev = rows[0]["prev_hash"]
    with engine.begin() as conn:
        for row in rows:
            row["prev_hash"] = prev
            row["hash"] = prev = audit.entry_hash(row, prev)
            values = {k: row[k] for k in ("actor_id", "actor_name", "prev_hash", "hash")}
            if scheme is not None:
                values["scheme"] = scheme
            conn.execute(update(AuditEntry).where(col(AuditEntry.seq) == row["seq"]).values(values))


@pytest.mark.parametrize("scheme", [None, audit.LEGACY_SCHEME], ids=["as keyed", "as legacy"])
def test_rewriting_an_approver_and_recomputing_later_hashes_is_detected(
    engine: Engine, scheme: int | None
) -> None:
    _write(engine, 6)
    rows = _rows(engine)[2:]  # entry 3 onwards
    rows[0] |= {"actor_id": "U0MALLORY", "actor_name": "mallory"}
    _recompute_unkeyed(engine, rows, scheme=scheme)
    with transaction(engine) as session:
        report = audit.verify_all(session)
    assert [b.seq for b in report.breaks] == [3, 4, 5, 6]
    assert report.first_break is not None and report.first_break.seq == 3


def test_rewriting_every_entry_as_legacy_is_caught_by_an_anchor(engine: Engine) -> None:
    # The whole chain relabelled unkeyed and recomputed from genesis verifies link by link;
    # only the anchor (and the legacy count that verify reports) can tell.
    _write(engine, 4)
    with transaction(engine) as session:
        anchor = audit.head(session)
    rows = _rows(engine)
    rows[1] |= {"actor_id": "U0MALLORY"}
    _recompute_unkeyed(engine, rows, scheme=audit.LEGACY_SCHEME)
    with transaction(engine) as session:
        unanchored = audit.verify_all(session)
        anchored = audit.verify_all(session, anchor=anchor)
    assert unanchored.ok and unanchored.legacy == 4
    assert [b.seq for b in anchored.breaks] == [4]
    assert "does not carry the anchored hash" in anchored.breaks[0].reason


@pytest.mark.parametrize(
    "scheme", [audit.KEYED_SCHEME, audit.LEGACY_SCHEME], ids=["as keyed", "as legacy"]
)
def test_a_forged_appended_entry_is_detected(engine: Engine, scheme: int) -> None:
    _write(engine, 3)
    last = _rows(engine)[-1]
    forged: dict[str, Any] = {
        "seq": 4,
        "at": clock.now(),
        "actor_id": "U0CAROL",
        "actor_name": "carol",
        "action": "draft.approve",
        "subject": "draft:9",
        "before": None,
        "after": None,
        "prev_hash": last["hash"],
        "scheme": scheme,
    }
    forged["hash"] = audit.entry_hash(forged, last["hash"])
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry), [forged])
    with transaction(engine) as session:
        report = audit.verify_all(session)
    assert [b.seq for b in report.breaks] == [4]


def test_deleting_the_newest_entries_is_detected_by_an_anchor_taken_before(
    engine: Engine,
) -> None:
    _write(engine, 6)
    with transaction(engine) as session:
        anchor = audit.Anchor.parse(str(audit.head(session)))
    assert anchor.count == 6
    with engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(col(AuditEntry.seq) >= 5))
    with transaction(engine) as session:
        assert audit.verify_all(session).ok  # a clean truncation leaves no trace by itself
        report = audit.verify_all(session, anchor=anchor)
    assert [(b.seq, b.reason) for b in report.breaks] == [
        (5, "entries 5 to 6 are missing: the anchor says 6 entries (the newest were deleted)")
    ]


def test_a_prefix_rewritten_with_the_key_is_detected_by_an_anchor(engine: Engine) -> None:
    _write(engine, 5)
    with transaction(engine) as session:
        anchor = audit.head(session)
    _write(engine, 2)  # entries after the anchor are fine
    rows = _rows(engine)
    prev = rows[1]["prev_hash"]
    with engine.begin() as conn:  # someone holding the key recomputes from entry 2 on
        for row in rows[1:]:
            row |= {"actor_id": "U0MALLORY"} if row["seq"] == 2 else {}
            row["prev_hash"] = prev
            row["hash"] = prev = audit.entry_hash(row, prev, key=audit.key_for(engine))
            values = {k: row[k] for k in ("actor_id", "prev_hash", "hash")}
            conn.execute(update(AuditEntry).where(col(AuditEntry.seq) == row["seq"]).values(values))
    with transaction(engine) as session:
        assert audit.verify_all(session).ok  # with the key, unanchored history is rewritable
        report = audit.verify_all(session, anchor=anchor)
    assert [b.seq for b in report.breaks] == [5]


def test_legacy_entries_still_verify_and_the_first_keyed_entry_protects_them(
    engine: Engine,
) -> None:
    prev = audit.GENESIS_HASH
    legacy = []
    for seq in (1, 2, 3):  # as the app wrote them before keys: scheme 1, plain SHA-256
        row: dict[str, Any] = {
            "seq": seq,
            "at": datetime(2026, 11, 1, 9, seq, tzinfo=UTC),
            "actor_id": "U0ALICE",
            "actor_name": "alice",
            "action": "mention.claim",
            "subject": f"mention:{seq}",
            "before": None,
            "after": '{"state":"claimed"}',
            "prev_hash": prev,
            "scheme": audit.LEGACY_SCHEME,
        }
        row["hash"] = prev = audit.entry_hash(row, prev)
        legacy.append(row)
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry), legacy)
    _write(engine, 2)
    with transaction(engine) as session:
        report = audit.verify_all(session)
    assert report.ok and (report.entries, report.legacy) == (5, 3)
    assert [r["scheme"] for r in _rows(engine)] == [1, 1, 1, 2, 2]
    legacy[1]["actor_id"] = "U0MALLORY"  # rewrite a legacy entry and recompute the legacy part
    _recompute_unkeyed(engine, legacy[1:], scheme=audit.LEGACY_SCHEME)
    with transaction(engine) as session:
        report = audit.verify_all(session)
    assert [(b.seq, b.reason) for b in report.breaks] == [
        (4, "entry 4 does not follow its predecessor")
    ]


def test_an_engine_without_a_key_writes_nothing_and_says_which_variable(
    database_url: str, engine: Engine
) -> None:
    unkeyed = make_engine(database_url)  # the same database, but nobody gave this engine a key
    try:
        with (
            pytest.raises(audit.MissingAuditKey, match="BRANDBOT_AUDIT_KEY"),
            transaction(unkeyed) as session,
        ):
            audit.record(session, actor=ALICE, action="x", subject="y", at=clock.now())
        with pytest.raises(audit.MissingAuditKey), transaction(unkeyed) as session:
            audit.verify_all(session)
    finally:
        unkeyed.dispose()
    with transaction(engine) as session:
        assert audit.count(session) == 0


def test_one_engine_has_one_key(engine: Engine) -> None:
    audit.use_key(engine, audit.key_for(engine))  # the same key again: fine (a restart)
    with pytest.raises(ValueError, match="different audit key"):
        audit.use_key(engine, b"another-key-0123456789abcdef-0123456789")
    # An engine with other execution options writes through the same key.
    _write(engine.execution_options(isolation_level="SERIALIZABLE"), 1)
    assert _verify(engine) == (1, None)


def test_another_key_does_not_verify_the_chain(engine: Engine) -> None:
    _write(engine, 2)
    with transaction(engine) as session:
        report = audit.verify_all(session, key=b"wrong-key-0123456789abcdef-0123456789")
    assert [b.seq for b in report.breaks] == [1, 2]


@pytest.mark.parametrize(
    "text",
    ["", "abc:3", "g" * 64 + ":3", "a" * 64, "a" * 64 + ":", "a" * 64 + ":-1", "a" * 64 + ":0"],
)
def test_a_malformed_anchor_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="anchor"):
        audit.Anchor.parse(text)


def test_an_anchor_round_trips() -> None:
    anchor = audit.Anchor.parse(("AB" * 32) + ":12")
    assert (anchor.hash, anchor.count, str(anchor)) == ("ab" * 32, 12, "ab" * 32 + ":12")
    assert audit.Anchor.parse(audit.GENESIS_HASH + ":0").count == 0
