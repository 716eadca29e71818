"""Fault drill: SQLite's "database is locked" while the workers run.

Another connection holds the write lock for several busy timeouts (shortened to 0.2 s through
the engine factory, instead of waiting 30 s) while mentions arrive on X and approved posts come
due. The poller, the publisher and the outbox run into the lock, log it and try again; once the
lock is let go every mention is carded exactly once, every approved draft is posted exactly once
and the audit chain verifies. SQLite only: PostgreSQL has no database-wide write lock.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col
from support import TEST_CONFIG

from bot.core import audit
from bot.core.clock import FakeClock, utcnow
from bot.core.db import make_engine, transaction
from bot.core.models import Draft, DraftState, SlackMessage
from bot.fakes.drafting import click_card, draft_via_slack
from bot.fakes.world import FakeWorld
from bot.mentions.service import MENTION_CARD
from bot.slack.cards.approval_card import DraftAction
from policies.config import parse_config

BUSY_TIMEOUT = 0.2
MENTIONS = 12
DRAFTS = 3


@pytest.fixture
def world(sqlite_url: str) -> Iterator[FakeWorld]:
    engine = make_engine(sqlite_url, busy_timeout_seconds=BUSY_TIMEOUT)
    clock = FakeClock(start=utcnow())
    config = parse_config(TEST_CONFIG, filename="test.yaml")
    world = FakeWorld(config=config, database_url=sqlite_url, clock=clock, engine=engine)
    world.start()
    world.slack.set_usergroup("S0CARE", ["U0BOB", "U0CAROL"])
    try:
        yield world
        assert world.slack.violations == []
    finally:
        world.stop()


def _until(condition: Callable[[], bool], clock: FakeClock, what: str, timeout: float = 20) -> None:
    """Wait for `condition`, moving the app's clock a second per turn so the poller, which
    sleeps on it, takes its next pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        clock.advance(seconds=1)
        time.sleep(0.05)


def _locked_failures(caplog: pytest.LogCaptureFixture) -> Counter[str]:
    """Which worker threads logged a pass that failed on the lock (with a traceback, or the
    error in the line itself)."""
    return Counter(
        str(r.threadName)
        for r in caplog.records
        if "database is locked" in (str(r.exc_info[1]) if r.exc_info else r.getMessage())
    )


def _all_locked_out(caplog: pytest.LogCaptureFixture) -> bool:
    """The publisher, the outbox and ingest have each failed a pass on the lock. Ingest is the
    poller, or the leader election that lets it poll (a replica polls only while it leads)."""
    failed = set(_locked_failures(caplog))
    return {"publisher", "outbox"} <= failed and bool(failed & {"poller", "leader"})


def _is_card_of(message: dict[str, Any], *, n: int) -> bool:
    """The mention card of tweet `n` (a spike alert quotes mentions too)."""
    text = str(message.get("text"))
    return text.startswith("Mention from") and f"report {n:03d} here" in text


def _drafts(world: FakeWorld) -> list[Draft]:
    with transaction(world.db, read_only=True) as session:
        return list(session.scalars(select(Draft)))


def test_workers_ride_out_a_held_write_lock_and_lose_nothing(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    clock = world.clock
    assert isinstance(clock, FakeClock)
    alice, bob = world.user("U0ALICE", "alice"), world.user("U0BOB", "bob")
    due = int(clock.now().timestamp()) + 120
    drafts = [draft_via_slack(world, alice, f"Update #{n}", schedule=due) for n in range(DRAFTS)]
    for draft in drafts:
        assert "publish queue" in click_card(world, bob, draft, DraftAction.APPROVE)
    # Half the mentions are ingested before the lock: their cards wait for the outbox.
    for n in range(MENTIONS):
        world.x.add_tweet(author=f"fan{n}", text=f"@acme outage report {n:03d} here")
        if n == MENTIONS // 2 - 1:
            clock.advance(seconds=world.config.poll_seconds)
            assert sum(r.stored for r in world.poll()) == MENTIONS // 2

    database = world.db.url.database
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock: every other writer now waits, then fails
    try:
        world.runtime.start_workers(homes=False, digests=False)
        clock.advance(seconds=130)  # the rest of the mentions and the posts come due
        with caplog.at_level(logging.WARNING):
            _until(partial(_all_locked_out, caplog), clock, "every worker to run into the lock")
        assert world.x.posted_by("acme") == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    def carded() -> Counter[str]:
        # Read-only: no write lock, so the test never waits on the workers' 0.2 s timeout.
        with transaction(world.db, read_only=True) as session:
            cards = session.scalars(
                select(SlackMessage).where(col(SlackMessage.kind) == MENTION_CARD)
            )
            return Counter(c.subject_id for c in cards if c.ts is not None)

    _until(lambda: len(carded()) == MENTIONS, clock, "every mention's card")
    # Posted, and known to be: a post whose POSTED could not be written (the workers contend
    # for the lock among themselves too) is found on X by the publisher's recovery.
    _until(
        lambda: {d.state for d in _drafts(world)} == {DraftState.POSTED},
        clock,
        "every approved post to be recorded as posted",
    )
    world.runtime.stop()

    assert set(carded().values()) == {1}
    for n in range(MENTIONS):  # and in Slack: one message each, no double post of a card
        shown = world.slack.find_messages(partial(_is_card_of, n=n))
        assert len(shown) == 1, (n, [m["text"] for m in shown])
    posted = [t["text"] for t in world.x.posted_by("acme")]
    assert sorted(posted) == sorted(d.text for d in drafts)
    with transaction(world.db, read_only=True) as session:
        checked, broken = audit.verify(session)
    assert broken is None and checked > MENTIONS + DRAFTS
