"""Leader election between replicas: exactly one polls X, and when it dies another takes over
within two poll intervals. Runs on the suite's database: PostgreSQL's advisory lock (the leader's
backend terminated, as a SIGKILL or `pg_terminate_backend` would) or SQLite's lease row (the
leader stops renewing it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from bot.core.clock import FakeClock, utcnow
from bot.core.db import is_postgres
from bot.core.leader import Leader
from bot.fakes.services import ServiceKit

INTERVAL = 0.6  # seconds: a short poll interval, so "within two intervals" is quick to see


@pytest.fixture
def leaders(engine: Engine) -> Iterator[Callable[[str], Leader]]:
    made: list[Leader] = []
    clock = FakeClock(start=utcnow())

    def make(owner: str) -> Leader:
        leader = Leader(engine=engine, clock=clock, owner=owner, interval=INTERVAL)
        made.append(leader)
        return leader

    yield make
    for leader in made:
        leader.release()


def _wait(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout:.1f} s"
        time.sleep(0.02)
    return time.monotonic() - start


def test_of_two_replicas_exactly_one_leads_and_keeps_leading(
    leaders: Callable[[str], Leader],
) -> None:
    first, second = leaders("replica-a"), leaders("replica-b")

    assert first.tick() is True
    assert second.tick() is False
    for _ in range(3):  # renewals keep it where it is
        assert (first.tick(), second.tick()) == (True, False)
    assert (first.is_leader(), second.is_leader()) == (True, False)


def test_a_leader_stepping_down_hands_over_at_the_next_check(
    leaders: Callable[[str], Leader],
) -> None:
    first, second = leaders("replica-a"), leaders("replica-b")
    first.tick()

    first.release()

    assert second.tick() is True
    assert first.tick() is False


def _kill(leader: Leader, engine: Engine) -> None:
    """What SIGKILL does to a leader: on PostgreSQL its session ends and the server drops the
    lock; on SQLite it renews its lease no more, which then runs out."""
    if not is_postgres(engine):
        leader.clock.advance(seconds=INTERVAL)  # type: ignore[attr-defined]
        return
    with engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT pg_terminate_backend(l.pid, 5000) FROM pg_locks l "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": 0x706F6C6C6572 & 0xFFFFFFFF},  # the key's low 32 bits
        ).all()
        conn.commit()
    assert ended == [(True,)], "the leader's connection was not found"


def test_when_the_leader_dies_another_leads_within_two_intervals(
    leaders: Callable[[str], Leader], engine: Engine
) -> None:
    dying, follower = leaders("replica-a"), leaders("replica-b")
    assert dying.tick() is True  # ticked by hand: it stops when "killed"
    assert follower.tick() is False
    stop = threading.Event()
    following = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    following.start()
    try:
        _kill(dying, engine)
        took = _wait(follower.is_leader, timeout=2 * INTERVAL + 1.0)

        assert took <= 2 * INTERVAL, f"took over after {took:.2f} s"
        assert dying.tick() is False  # the old leader learns it at its next check
    finally:
        stop.set()
        following.join(5)


def test_a_replica_that_does_not_lead_never_polls_x(
    kit: ServiceKit, leaders: Callable[[str], Leader]
) -> None:
    kit.x.add_user("acme")
    kit.x.add_tweet(author="dana", text="@acme outage since this morning")
    leader, follower = leaders("replica-a"), leaders("replica-b")
    leader.tick()
    follower.tick()
    kit.ingestor.may_poll = follower.is_leader

    assert kit.ingestor.poll_due() == []
    assert kit.x.calls == []

    kit.ingestor.may_poll = leader.is_leader
    assert [r.stored for r in kit.ingestor.poll_due() if r.source == "mentions:acme"] == [1]


def test_a_replica_that_does_not_poll_never_leads(leaders: Callable[[str], Leader]) -> None:
    publishing_only, polling = leaders("replica-a"), leaders("replica-b")
    publishing_only.candidate = False

    assert publishing_only.tick() is False  # nobody leads, and still it does not
    assert polling.tick() is True
