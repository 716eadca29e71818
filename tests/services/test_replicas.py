"""Two publishers (replicas) and a freeze at once: the account lock under the shared publish gate
must neither deadlock with `/brand freeze` (exclusive gate) nor let both replicas take the last
slot of the hourly limit. Meaningful on PostgreSQL (BRANDBOT_TEST_DATABASE_URL); on SQLite the
single writer serialises everything."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from support import TEST_CONFIG

from bot.core.models import DraftState
from bot.drafts.publisher import Publisher
from bot.fakes.services import ServiceKit


def _limit(posts: int) -> str:
    account = "{handle: acme, credentials_env: ACME"
    return TEST_CONFIG.replace(account + "}", f"{account}, max_posts_per_hour: {posts}}}")


def _run_all(calls: list[Callable[[], object]], timeout: float = 30) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        try:
            start.wait(timeout)
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    stuck = [t for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} of {len(threads)} threads still running: a deadlock?"
    return errors


def _replicas(kit: ServiceKit, drafts: int) -> list[Publisher]:
    """`drafts` approved drafts, X slow to answer, and three publishers (replicas) to race."""
    for n in range(drafts):
        kit.add_draft(DraftState.APPROVED, text=f"Update {n} on the outage", approved_by=["U0BOB"])
    kit.x.post_delays(before_create=0.05)
    return [replace(kit.publisher, owner=f"replica-{i}", timers=[]) for i in range(3)]


def test_two_replicas_never_both_take_the_last_slot(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(_limit(2))
    replicas = _replicas(kit, drafts=6)

    assert _run_all([r.publish_due for r in replicas]) == []

    assert len(kit.x.posted_by("acme")) == 2


def test_a_freeze_while_replicas_post_never_deadlocks_and_nothing_posts_after_it(
    make_kit: Callable[..., ServiceKit],
) -> None:
    kit = make_kit(_limit(50))
    replicas = _replicas(kit, drafts=12)
    frozen_at: list[int] = []

    def freeze() -> None:
        kit.x.wait_for(lambda: len(kit.x.post_records) >= 2, timeout=10)
        kit.freeze.freeze(person=kit.person("U0ADMIN"), text="all breach")
        frozen_at.append(len(kit.x.post_records))

    errors = _run_all([*(r.publish_due for r in replicas), freeze])
    assert errors == []
    (arrived_before_commit,) = frozen_at
    # Posts that had passed the gate before the freeze committed may still arrive, never more.
    assert len(kit.x.post_records) <= arrived_before_commit + len(replicas)
    for r in replicas:
        r.publish_due()
    assert len(kit.x.post_records) <= arrived_before_commit + len(replicas)
