"""Workers on several replicas take rows with FOR UPDATE SKIP LOCKED: a row another replica is
taking (its transaction holds the row lock) is skipped at once, never waited for, and taken on a
later pass once free. A draft whose replica is gone (no presence connection) is taken at once, a
card once its last call to Slack is over. PostgreSQL only: SQLite runs one process and its writers
queue by design."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import Engine, create_engine, select, update
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel, col
from support import copies_in_slack

from bot.core.clock import FakeClock
from bot.core.db import transaction
from bot.core.leader import PRESENCE_PREFIX
from bot.core.models import Draft, DraftState, HomeTab, ResponseTimer, SlackMessage
from bot.fakes.services import ServiceKit
from bot.fakes.slack_api import SlackCall

pytestmark = pytest.mark.postgres
T = TypeVar("T")
PROMPT = 5.0  # seconds: far more than a pass takes, far less than waiting on a held row would


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


@contextmanager
def _held_by_another_replica(engine: Engine, model: type[SQLModel], key: object) -> Iterator[None]:
    """Another replica's transaction holding this row's lock (as it does while taking it)."""
    primary = next(iter(model.__table__.primary_key.columns))  # type: ignore[attr-defined]
    with engine.connect() as conn, conn.begin():
        locked = conn.execute(select(primary).where(primary == key).with_for_update()).all()
        assert len(locked) == 1
        yield


def _promptly(call: Callable[[], T]) -> T:
    """call(), which must return within PROMPT seconds (not wait for a lock)."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(PROMPT)
    assert not thread.is_alive(), "the worker waited for a row another replica holds"
    return results[0]


def test_the_publisher_skips_a_draft_another_replica_is_taking(kit: ServiceKit) -> None:
    held = kit.add_draft(DraftState.APPROVED, text="Held by the other", approved_by=["U0BOB"])
    kit.add_draft(DraftState.APPROVED, text="Free to post", approved_by=["U0BOB"])

    with _held_by_another_replica(kit.engine, Draft, held.id):
        assert _promptly(kit.publisher.publish_due) == 1
        assert [t["text"] for t in kit.x.posted_by("acme")] == ["Free to post"]

    assert kit.publisher.publish_due() == 1  # free again: taken on the next pass
    assert kit.draft(held.id).state == DraftState.POSTED


def test_the_timers_skip_one_another_replica_is_firing(kit: ServiceKit) -> None:
    kit.x.add_user("acme")
    tweet = kit.x.add_tweet(author="dana", text="@acme my refund never came")
    kit.clock.advance(seconds=kit.config.poll_seconds)  # type: ignore[attr-defined]
    kit.ingestor.poll_due()
    kit.clock.advance(minutes=kit.config.segments["customer_relations"].first_response_minutes)  # type: ignore[attr-defined]

    with _held_by_another_replica(kit.engine, ResponseTimer, tweet["id"]):
        assert _promptly(kit.timers.run_due) == 0

    assert kit.timers.run_due() == 1


def test_home_tabs_skip_one_another_replica_is_publishing(kit: ServiceKit) -> None:
    kit.slack.add_user("U0BOB", "bob")
    kit.tabs.opened("U0BOB")

    with _held_by_another_replica(kit.engine, HomeTab, "U0BOB"):
        assert _promptly(kit.tabs.publish_due) == 0

    assert kit.tabs.publish_due() == 1
    assert [c.args["user_id"] for c in kit.slack.calls_to("views.publish")] == ["U0BOB"]


def _leased_to(
    kit: ServiceKit, model: type[Draft] | type[SlackMessage], key: int | None, owner: str
) -> None:
    """Leased by `owner` for a whole minute from now (the publisher's and the outbox's lease):
    as a worker leaves a row just after taking it, or, for a card, just after fencing its call."""
    with transaction(kit.engine) as session:
        session.execute(
            update(model)
            .where(col(model.id) == key)
            .values(lease_owner=owner, lease_until=kit.clock.now() + timedelta(minutes=1))
        )


def _presence(kit: ServiceKit, owner: str) -> Engine:
    """A replica's presence: its leader-election connection, named after its owner."""
    return create_engine(
        kit.engine.url,
        poolclass=NullPool,
        connect_args={"application_name": f"{PRESENCE_PREFIX}{owner}"},
    )


def test_a_draft_leased_by_a_replica_no_longer_connected_is_taken_at_once(
    kit: ServiceKit,
) -> None:
    orphan = kit.add_draft(
        DraftState.APPROVED, text="Its replica was killed", approved_by=["U0BOB"]
    )
    busy = kit.add_draft(DraftState.APPROVED, text="Its replica is posting", approved_by=["U0BOB"])
    _leased_to(kit, Draft, orphan.id, "host:4242:deadbeef")
    _leased_to(kit, Draft, busy.id, "host:4343:0a1b2c3d")
    alive = _presence(kit, "host:4343:0a1b2c3d")
    with alive.connect():
        assert kit.publisher.publish_due() == 0  # without presence: every lease runs its course

        taking = replace(kit.publisher, take_from_the_dead=True)
        assert taking.publish_due() == 1

    alive.dispose()
    assert [t["text"] for t in kit.x.posted_by("acme")] == ["Its replica was killed"]
    assert kit.draft(busy.id).lease_owner == "host:4343:0a1b2c3d"


def _card_stored_by_slack_answer_lost(kit: ServiceKit, *, stored: bool = True) -> SlackMessage:
    """A card whose post was answered 5xx (outcome unknown: Slack may have stored it, and
    did if `stored`), due again now."""
    kit.slack.fail_next("chat.postMessage", status=500, apply=stored)
    mention = kit.add_mention("@acme my refund never came")
    with transaction(kit.engine) as session:
        session.execute(
            update(SlackMessage)
            .where(col(SlackMessage.id) == mention.card_id)
            .values(due_at=kit.clock.now())
        )
    card = kit.card(mention.card_id)
    assert card.ts is None and card.outcome_unknown
    return card


def test_a_card_leased_by_a_replica_no_longer_connected_is_taken_once_its_last_call_is_over(
    kit: ServiceKit, clock: FakeClock
) -> None:
    """A SIGKILLed replica's card holds its channel for the takeover grace, not the whole
    lease; a live replica's for its whole lease. The taker finds the copy Slack stored."""
    orphan = _card_stored_by_slack_answer_lost(kit)
    _leased_to(kit, SlackMessage, orphan.id, "host:4242:deadbeef")
    taking = replace(kit.outbox, take_from_the_dead=True)
    grace = taking.takeover_grace.total_seconds()
    seen = _presence(kit, taking.owner)
    seen_connection = seen.connect()

    assert taking.deliver_due() == 0  # its call may still be on its way: not yet
    clock.advance(seconds=grace - 1)
    assert taking.deliver_due() == 0
    clock.advance(seconds=1)
    assert kit.outbox.deliver_due() == 0  # without presence: every lease runs its course
    assert taking.deliver_due() == 1

    taken = kit.card(orphan.id)
    assert taken.ts is not None and not taken.pending and taken.lease_owner is None
    assert len(copies_in_slack(kit.slack, taken)) == 1  # found by its metadata, not posted again

    busy = _card_stored_by_slack_answer_lost(kit)
    _leased_to(kit, SlackMessage, busy.id, "host:4343:0a1b2c3d")
    alive = _presence(kit, "host:4343:0a1b2c3d")
    with alive.connect():
        clock.advance(seconds=grace)
        assert taking.deliver_due() == 0
    alive.dispose()
    seen_connection.close()
    seen.dispose()
    assert kit.card(busy.id).lease_owner == "host:4343:0a1b2c3d"


def test_a_replica_the_others_take_for_dead_takes_no_card_and_makes_no_call(
    kit: ServiceKit,
) -> None:
    """Without its presence connection (dropped, not yet back) the others may be taking its
    cards over: it takes none and calls Slack for none until it is seen again."""
    card = _card_stored_by_slack_answer_lost(kit, stored=False)
    unseen = replace(kit.outbox, take_from_the_dead=True)
    calls = len(kit.slack.calls)

    assert unseen.deliver_due() == 0
    assert len(kit.slack.calls) == calls
    assert kit.card(card.id).lease_owner is None  # not taken, so never held from the others

    seen = _presence(kit, unseen.owner)
    with seen.connect():
        assert unseen.deliver_due() == 1
    seen.dispose()
    assert kit.card(card.id).ts is not None and len(copies_in_slack(kit.slack, card)) == 1


def test_a_worker_taken_for_dead_while_it_searched_leaves_the_card_to_its_taker(
    kit: ServiceKit, clock: FakeClock
) -> None:
    """It fences again before the call after its search: it never posts a card it no longer
    holds (the taker searches and posts it once)."""
    card = _card_stored_by_slack_answer_lost(kit, stored=False)  # the search finds nothing
    taker = "host:4444:f00dface"

    def taken_for_dead_meanwhile(call: SlackCall) -> None:
        if call.method == "conversations.history":
            _leased_to(kit, SlackMessage, card.id, taker)

    kit.slack.on_call = taken_for_dead_meanwhile
    posts = len(kit.slack.calls_to("chat.postMessage"))
    assert kit.outbox.deliver_due() == 0
    kit.slack.on_call = None

    assert len(kit.slack.calls_to("chat.postMessage")) == posts
    assert kit.card(card.id).lease_owner == taker  # left to it, untouched


def test_a_worker_taken_for_dead_during_its_post_leaves_the_recording_to_its_taker(
    kit: ServiceKit,
) -> None:
    """Its post reached Slack, but the row is the taker's now: it records nothing and counts
    nothing as sent (the taker finds the copy by its metadata and records it)."""
    card = _card_stored_by_slack_answer_lost(kit, stored=False)
    taker = "host:4545:cafebabe"

    def taken_for_dead_meanwhile(call: SlackCall) -> None:
        if call.method == "chat.postMessage":
            _leased_to(kit, SlackMessage, card.id, taker)

    kit.slack.on_call = taken_for_dead_meanwhile
    assert kit.outbox.deliver_due() == 0
    kit.slack.on_call = None

    left = kit.card(card.id)
    assert left.lease_owner == taker and left.ts is None and left.outcome_unknown
    assert len(copies_in_slack(kit.slack, card)) == 1
